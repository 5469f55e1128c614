"""The pip requirement the workflows ``init`` writes install flowproject with.

Before flowproject is on a package index, ``flowproject[s3]==<version>`` from the index does
not resolve. pip records where a distribution came from (PEP 610 ``direct_url.json``), so a
flowproject installed from a git URL or a wheel URL is installed the same way in CI; one
installed from a local path or a checkout cannot be reached by a CI runner, and ``init``
says so in one line instead of writing a workflow that fails on its first run.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from typing import Optional

EXTRAS = "s3"


@dataclass(frozen=True)
class InstallSpec:
    requirement: str
    # One line for the user when the requirement may not be what CI can install.
    notice: Optional[str] = None


def _without_credentials(url: str) -> tuple[str, bool]:
    parts = urllib.parse.urlsplit(url)
    # ssh's user (git@host) is an account name, not a secret; in http(s) userinfo is a token.
    if "@" not in parts.netloc or parts.scheme not in ("http", "https"):
        return url, False
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), True


def install_spec() -> InstallSpec:
    """How the running flowproject was installed, as a requirement a CI runner can use."""
    try:
        dist = distribution("flowproject")
    except PackageNotFoundError:
        req = "flowproject[%s]" % EXTRAS
        return InstallSpec(req, "note     flowproject is not installed as a package: " + _advice(req))
    index = "flowproject[%s]==%s" % (EXTRAS, dist.version)
    try:
        origin = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        origin = None
    if not isinstance(origin, dict) or not isinstance(origin.get("url"), str):
        return InstallSpec(index)  # from an index: the same version from the same index
    url, had_credentials = _without_credentials(origin["url"])
    if urllib.parse.urlsplit(url).scheme in ("http", "https", "ssh"):
        vcs = origin.get("vcs_info")
        if isinstance(vcs, dict) and isinstance(vcs.get("commit_id"), str):
            # The exact commit CI ran with locally, not a moving branch.
            url = "%s+%s@%s" % (vcs.get("vcs", "git"), url, vcs["commit_id"])
        if isinstance(origin.get("subdirectory"), str):
            url += "#subdirectory=" + origin["subdirectory"]
        requirement = "flowproject[%s] @ %s" % (EXTRAS, url)
        notice = None
        if had_credentials:
            # A token in a URL must never land in a committed workflow file.
            notice = "note     the install URL carried credentials; they were left out of the workflows"
        return InstallSpec(requirement, notice)
    return InstallSpec(
        index, "note     flowproject was installed from %s, which CI cannot reach: %s" % (url, _advice(index))
    )


def _advice(requirement: str) -> str:
    return (
        "the workflows install %s from the package index (init --flowproject-spec WHEEL_URL or "
        "'flowproject[s3] @ git+https://HOST/REPO.git@TAG' changes it)" % requirement
    )
