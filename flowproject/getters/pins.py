"""Run ids in version control: ``[getters.<Flow>] run_id`` pins written and checked.

``pin_run`` edits ``flowproject.toml`` with tomlkit, a round-trip TOML library: the
user's comments, blank lines, key order and quoting survive, and only the pinned value
changes (or a ``[getters.<Flow>]`` table is appended). The edited text is validated
like any config before it replaces the file, so a pin can never leave a broken file.
A CRLF file stays CRLF, a symlinked config stays a link (its target is edited), and pins
of one file are serialized by a lock on its folder, so concurrent pins all land.

``check_pins`` is for CI: every pin must name a run that exists and succeeded.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Union

from ..config import loader as _config
from ..errors import ConfigError
from .artifacts import PRODUCTION_BRANCH, GetterError, latest_successful_run, resolve_run_id


@dataclass(frozen=True)
class Pin:
    """A pin as written: which flow, which run, and the previous value if any."""

    flow_name: str
    run_id: str
    previous: Optional[str]
    path: Path


# How long a pin waits for another pin of the same file before giving up.
LOCK_TIMEOUT_SECONDS = 60.0


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would turn a CRLF file into LF.
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(_config.display_path(path), "(file)", "cannot be read: %s" % (e.strerror or e)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _config.read_text(path)  # its one-line error names the byte and line


def _keep_line_ends(old: str, new: str) -> str:
    # tomlkit keeps the line ends it parsed but writes "\n" for what it adds (a new table).
    crlf = old.count("\r\n")
    if crlf and crlf == old.count("\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", new)
    return new


@contextmanager
def _locked(target: Path, label: str) -> Iterator[None]:
    """Hold an exclusive lock on ``target``'s folder: the file itself is replaced by each
    pin, so a lock on it would be held on a file no longer in place."""
    import fcntl

    try:
        fd = os.open(str(target.parent), os.O_RDONLY)
    except OSError as e:
        raise ConfigError(label, "(file)", "cannot lock its folder: %s" % (e.strerror or e)) from None
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        label,
                        "(file)",
                        "another flowproject pin has been editing it for %d s; try again when it ends"
                        % LOCK_TIMEOUT_SECONDS,
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def set_pin_text(text: str, flow_name: str, run_id: str) -> str:
    """``text`` (a flowproject.toml) with ``[getters.<flow_name>] run_id`` set to ``run_id``;
    everything else, comments included, unchanged."""
    import tomlkit
    from tomlkit.items import InlineTable

    doc = tomlkit.parse(text)
    if "getters" not in doc:
        # A super table: only `[getters.<Flow>]` is written, no bare `[getters]` header.
        doc["getters"] = tomlkit.table(is_super_table=True)
    getters = doc["getters"]
    if flow_name in getters:
        getters[flow_name]["run_id"] = run_id
    else:
        # Written in the style the file already uses for [getters].
        table = tomlkit.inline_table() if isinstance(getters, InlineTable) else tomlkit.table()
        table["run_id"] = run_id
        getters[flow_name] = table
    return tomlkit.dumps(doc)


def _atomic_write(path: Path, text: str) -> None:
    # Same folder so os.replace is atomic; an interrupted pin leaves the old file intact.
    fd, tmp = tempfile.mkstemp(prefix=".%s." % path.name, dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def pin_run(
    flow_name: str,
    *,
    branch: Optional[str] = None,
    run_id: Optional[str] = None,
    path: Union[str, Path, None] = None,
) -> Pin:
    """Pin ``flow_name`` in ``path`` (default: the config ``flowproject`` finds).

    The run is ``run_id`` (verified to exist and have succeeded; ``<Flow>/<id>`` is
    accepted) or else the latest successful run of the flow in project ``branch``
    (default ``prod``; ``"any"`` for the whole project). Raises GetterError when there
    is no such run and ConfigError when the file is broken before or after the edit.
    """
    path = Path(path) if path is not None else _config.locate()
    label = _config.display_path(path)
    # A symlinked config stays a link: the file it points to is the one edited.
    target = Path(os.path.realpath(path))
    with _locked(target, label):
        # Read under the lock: a pin that waited sees the pin before it.
        text = _read(target)
        config = _config.parse_text(text, label, path.resolve().parent)
        if run_id is not None:
            run = resolve_run_id(flow_name, run_id)
        else:
            run = latest_successful_run(flow_name, branch=branch or PRODUCTION_BRANCH, project=config["project_name"])
        previous = config["getters"].get(flow_name, {}).get("run_id")
        new_text = _keep_line_ends(text, set_pin_text(text, flow_name, run.id))
        _config.parse_text(new_text, label, path.resolve().parent)
        if new_text != text:
            try:
                _atomic_write(target, new_text)
            except OSError as e:  # a read-only folder or file system: the old file is intact
                raise ConfigError(label, "(file)", "cannot be written: %s" % (e.strerror or e)) from None
    return Pin(flow_name, run.id, previous, path)


def check_pins(path: Union[str, Path, None] = None) -> List[str]:
    """One line per bad pin in ``path`` (a run that is missing or not successful); empty
    when every pin is good."""
    path = Path(path) if path is not None else _config.locate()
    config = _config.load(path)
    label = _config.display_path(path)
    problems = []
    for flow_name, pin in sorted(config["getters"].items()):
        if not isinstance(pin, dict) or pin.get("run_id") is None:
            continue  # [getters] read_branch, or a table that only names a branch
        try:
            resolve_run_id(flow_name, pin["run_id"], "%s: getters.%s.run_id" % (label, flow_name))
        except GetterError as e:
            problems.append(str(e))
    return problems
