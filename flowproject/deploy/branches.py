"""The one rule from a git/CI branch to a Metaflow ``@project`` branch.

Deploy, teardown and events all call :func:`decide`, so a branch deployed from CI is torn
down, and publishes events, under exactly the same Metaflow branch name.

Where the git branch comes from, first match wins (empty values are skipped, because
GitHub Actions sets ``GITHUB_HEAD_REF=""`` on push events):

1. the ``branch`` argument (``--branch NAME``);
2. ``GITHUB_HEAD_REF`` (GitHub pull requests: the PR's source branch);
3. ``GITHUB_REF`` when it is a branch ref ``refs/heads/...`` (GitHub pushes);
4. ``GITHUB_REF_NAME`` (GitHub pushes);
5. ``CI_COMMIT_REF_NAME`` (GitLab);
6. ``BRANCH_NAME`` (Jenkins and anything else that sets it);
7. ``git symbolic-ref HEAD`` in ``cwd`` (the full ref of the checked-out branch).

Names and refs are kept apart: the argument and every ``*_NAME``/``*_HEAD_REF`` variable is
a branch *name*, used exactly as given; only ``GITHUB_REF`` and git give a full *ref*, whose
one leading ``refs/heads/`` is removed. git accepts a branch literally named
``refs/heads/main`` (full ref ``refs/heads/refs/heads/main``), so stripping the prefix from
a name would deploy such a branch to production.

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
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BRANCH_NAME",
)
# Variables holding a full git ref rather than a branch name.
REF_VARIABLES: Tuple[str, ...] = ("GITHUB_REF",)
BRANCH_REF_PREFIX = "refs/heads/"


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
    """The checked-out branch's name, or None for a detached HEAD.

    ``symbolic-ref`` gives the full ref; ``rev-parse --abbrev-ref`` would print
    ``heads/refs/heads/main`` for a branch named ``refs/heads/main``.
    """
    try:
        proc = subprocess.run(
            ["git", "symbolic-ref", "-q", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise BranchError(
            msg="git is not installed; pass --branch NAME or set one of %s" % ", ".join(CI_VARIABLES)
        ) from None
    if proc.returncode == 1 and not proc.stderr.strip():
        return None  # -q: HEAD is detached
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["git symbolic-ref failed"])[-1]
        raise BranchError(
            msg="cannot read the git branch (%s); pass --branch NAME or set one of %s"
            % (detail, ", ".join(CI_VARIABLES))
        )
    ref = proc.stdout.strip()
    return ref[len(BRANCH_REF_PREFIX) :] if ref.startswith(BRANCH_REF_PREFIX) else ref


def _ci_branch(env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    for var in CI_VARIABLES:
        value = env.get(var, "").strip()
        if not value:
            continue
        if var in REF_VARIABLES:
            # refs/tags/..., refs/pull/... name no branch: the next variable decides.
            if not value.startswith(BRANCH_REF_PREFIX):
                continue
            value = value[len(BRANCH_REF_PREFIX) :]
        return var, value
    return None


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
        found = _ci_branch(env)
        if found is not None:
            source, git_branch = found
        else:
            head = _git_branch(cwd)
            if head is None:
                raise BranchError(
                    msg="detached HEAD and no branch given: pass --branch NAME or set one of %s"
                    % ", ".join(CI_VARIABLES)
                )
            source, git_branch = "git", head
    # A name is compared exactly: "refs/heads/main" is an ordinary branch of that name.
    git_branch = git_branch.strip()
    if git_branch in production_branches:
        return BranchDecision(source, git_branch, None, True)
    return BranchDecision(source, git_branch, sanitize(git_branch), False)
