"""The one rule from a git/CI branch to a Metaflow ``@project`` branch.

Deploy, teardown and events all call :func:`decide`, so a branch deployed from CI is torn
down, and publishes events, under exactly the same Metaflow branch name.

Where the git branch comes from, first match wins (empty values are skipped, because
GitHub Actions sets ``GITHUB_HEAD_REF=""`` on push events):

1. the ``branch`` argument (``--branch NAME``);
2. ``GITHUB_HEAD_REF`` (GitHub pull requests: the PR's source branch);
3. ``GITHUB_REF_NAME`` (GitHub pushes);
4. ``CI_COMMIT_REF_NAME`` (GitLab);
5. ``BRANCH_NAME`` (Jenkins and anything else that sets it);
6. ``git rev-parse --abbrev-ref HEAD`` in ``cwd``.

A production branch (``[deploy] production_branches``, default ``main`` and ``master``)
maps to ``--production`` (Metaflow branch ``prod``); any other name maps to
``--branch sanitize(name)`` (Metaflow branch ``test.<sanitized>``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import FlowprojectError

# Metaflow's @project accepts a branch of [a-z0-9_] only and at most 128 characters
# (plugins/project_decorator.py: VALID_NAME_RE, VALID_NAME_LEN); anything else fails the
# deploy, so the sanitizer produces exactly that alphabet and length.
MAX_BRANCH_LENGTH = 128
INVALID_CHARS_RE = re.compile(r"[^a-z0-9_]+")
# 6 hex digits: 16.7M values, enough that two live branches of one project sharing a
# suffix is not a practical worry, short enough to leave the readable part of the name.
HASH_LENGTH = 6
# Used when nothing readable survives (e.g. a branch named only in non-Latin letters).
EMPTY_PREFIX = "branch"

DEFAULT_PRODUCTION_BRANCHES: Tuple[str, ...] = ("main", "master")

# Checked in this order; the first non-empty one names the branch.
CI_VARIABLES: Tuple[str, ...] = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BRANCH_NAME",
)


class BranchError(FlowprojectError):
    headline = "Branch error"

    def __str__(self) -> str:
        return self.message


def _short_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def sanitize(name: str) -> str:
    """A valid Metaflow branch name for the git branch ``name``.

    - A name that is already valid (``[a-z0-9_]``, at most 128 characters, no leading or
      trailing ``_``) is returned unchanged.
    - Otherwise it is lowercased, accents are dropped (``é`` -> ``e``), each run of other characters becomes one ``_``, leading
      and trailing ``_`` are dropped, and ``_<hash>`` (6 hex digits of the original
      name's SHA-256) is appended, cutting the readable part so the whole stays within
      128 characters. The suffix keeps ``feat-a``, ``feat_a`` and ``Feat/A`` apart.
    - When nothing readable is left, the result is ``branch_<hash>``.
    """
    # Accented Latin letters keep their base letter (café -> cafe) so the name stays
    # readable; the hash suffix still tells it apart from a branch really named cafe.
    decomposed = unicodedata.normalize("NFKD", name.lower())
    ascii_ish = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = INVALID_CHARS_RE.sub("_", ascii_ish).strip("_")
    if cleaned and cleaned == name and len(cleaned) <= MAX_BRANCH_LENGTH:
        return name
    suffix = _short_hash(name)
    if not cleaned:
        return "%s_%s" % (EMPTY_PREFIX, suffix)
    readable = cleaned[: MAX_BRANCH_LENGTH - HASH_LENGTH - 1].rstrip("_")
    return "%s_%s" % (readable, suffix)


@dataclass(frozen=True)
class BranchDecision:
    """Where a deploy goes and why.

    ``metaflow_branch`` is None for production (Metaflow branch ``prod``); otherwise the
    name passed as ``--branch`` (Metaflow branch ``test.<metaflow_branch>``).
    """

    source: str
    git_branch: str
    metaflow_branch: Optional[str]
    production: bool

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def metaflow_flags(self) -> List[str]:
        """The Metaflow top-level options that select this branch."""
        if self.production:
            return ["--production"]
        return ["--branch", str(self.metaflow_branch)]

    @property
    def namespace(self) -> str:
        """The ``@project`` branch as Metaflow reports it (``prod`` or ``test.<name>``)."""
        return "prod" if self.production else "test.%s" % self.metaflow_branch


def _git_branch(cwd: Optional[str]) -> Optional[str]:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise BranchError(
            msg="git is not installed; pass --branch NAME or set one of %s" % ", ".join(CI_VARIABLES)
        ) from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["git rev-parse failed"])[-1]
        raise BranchError(
            msg="cannot read the git branch (%s); pass --branch NAME or set one of %s"
            % (detail, ", ".join(CI_VARIABLES))
        )
    return proc.stdout.strip()


def decide(
    branch: Optional[str] = None,
    *,
    production_branches: Sequence[str] = DEFAULT_PRODUCTION_BRANCHES,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> BranchDecision:
    """Decide the Metaflow branch for ``branch`` or, when None, for the current checkout.

    ``env`` defaults to ``os.environ``; ``cwd`` is where git is asked. Raises BranchError
    for an explicitly empty ``branch`` (a CI expression that expanded to nothing must not
    fall back to whatever is checked out) and for a detached HEAD with no CI variable set.
    """
    env = os.environ if env is None else env
    if branch is not None:
        if not branch.strip():
            raise BranchError(msg="--branch was given an empty name")
        source, git_branch = "argument", branch
    else:
        found = next(((var, env[var]) for var in CI_VARIABLES if env.get(var, "").strip()), None)
        if found is not None:
            source, git_branch = found
        else:
            source, git_branch = "git", _git_branch(cwd)
            if git_branch == "HEAD":
                raise BranchError(
                    msg="detached HEAD and no branch given: pass --branch NAME or set one of %s"
                    % ", ".join(CI_VARIABLES)
                )
    git_branch = git_branch.strip()
    if git_branch.startswith("refs/heads/"):
        # A full ref names the same branch; CI systems differ in which form they give.
        git_branch = git_branch[len("refs/heads/") :]
    if git_branch in production_branches:
        return BranchDecision(source, git_branch, None, True)
    return BranchDecision(source, git_branch, sanitize(git_branch), False)
