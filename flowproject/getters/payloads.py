"""The event payloads a run was handed, deployed or local, read in one place.

On Argo, Metaflow's WorkflowTemplate puts each trigger's payload, as JSON, in the
environment variable ``METAFLOW_ARGO_EVENT_PAYLOAD_<type>_<sanitized name>`` of every
step. A local run started by ``flowproject events serve``, ``flowproject trigger`` or the
testing kit gets the same variables, but one variable holds at most 128 KiB on Linux
(MAX_ARG_STRLEN), so there the payload is written to a file and the variable holds
``@<absolute path>`` (:func:`spill`). JSON never starts with ``@``; a reference is only
followed outside Argo, where the variable's value comes from the event itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

from ..errors import FlowprojectError

PAYLOAD_ENV_PREFIX = "METAFLOW_ARGO_EVENT_PAYLOAD_"
FILE_MARK = "@"


class PayloadError(FlowprojectError):
    headline = "Event payload error"


def _deployed(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("ARGO_WORKFLOW_TEMPLATE"))


def payload_text(key: str, raw: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """The JSON text of payload variable ``key`` (following a local ``@file`` reference)."""
    environ = os.environ if environ is None else environ
    if not raw.startswith(FILE_MARK) or _deployed(environ):
        return raw
    path = raw[len(FILE_MARK) :]
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PayloadError(msg="%s names payload file %s, which cannot be read: %s" % (key, path, e)) from None


def payloads(environ: Optional[Mapping[str, str]] = None) -> Iterator[Tuple[str, Any]]:
    """(variable, payload) for every payload variable that is set; a payload that is not
    JSON comes back as None (another system's trigger, not ours to judge)."""
    environ = os.environ if environ is None else environ
    for key, raw in list(environ.items()):
        if not key.startswith(PAYLOAD_ENV_PREFIX) or raw in ("", "null"):
            continue
        try:
            yield key, json.loads(payload_text(key, raw, environ))
        except ValueError:
            yield key, None


def payload_named(name: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Optional[Dict[str, Any]]:
    """The payload (a dict) whose ``name`` is ``name``, or None."""
    for _, payload in payloads(environ):
        if isinstance(payload, dict) and payload.get("name") == name:
            return payload
    return None


def spill(env: Mapping[str, str], folder: Path) -> Dict[str, str]:
    """``env`` with every payload variable's JSON moved to a file in ``folder``.

    For a local run only: the run reads the files through :func:`payload_text`, so no
    payload is bounded by the environment's limits. ``folder`` must outlive the run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = dict(env)
    for key, raw in env.items():
        if key.startswith(PAYLOAD_ENV_PREFIX) and raw not in ("", "null") and not raw.startswith(FILE_MARK):
            path = folder.resolve() / (key[len(PAYLOAD_ENV_PREFIX) :] + ".json")
            # Owner-only: a payload may carry what the publisher did not mean for other users.
            # No following a link planted at the name: the payload goes where we say.
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(raw)
            out[key] = FILE_MARK + str(path)
    return out
