"""Which installed distribution provides flowproject, answered for Metaflow's code packager.

Metaflow's ``run`` (and ``resume``, ``package``, ``argo-workflows create``) copies into the
code package every imported module that sets ``METAFLOW_PACKAGE_POLICY`` or defines a
FlowMutator, and first asks ``importlib.metadata.packages_distributions()`` which
distribution provides it. That call lists every installed distribution and parses the
RECORD of each one without a ``top_level.txt``: about 0.16 s of a local run in a venv with
160 distributions, which a bare FlowSpec never pays. flowproject answers that question for
its own top-level name only, from its own distribution's files, and hands every other
name to Metaflow's full listing; the package Metaflow builds is the same file for file
(``tests/flow/test_distribution.py`` compares it, and fails if Metaflow's packager stops
asking this way). Done on ``import flowproject``, beside the ``METAFLOW_PACKAGE_POLICY``
that makes Metaflow package it, so a plain FlowSpec that imports flowproject gains too.
With an unfamiliar Metaflow, or a listing already made, nothing is done.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Iterator, List, Mapping, Optional

TOP_LEVEL = __name__.split(".")[0]


def _top_level_names(dist: Any) -> List[str]:
    # The rule packages_distributions() applies to each distribution.
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return declared
    names = set()
    for file in dist.files or []:
        parts = file.parts
        if len(parts) > 1:
            names.add(parts[0])
        elif file.suffix == ".py":
            names.add(file.stem)
    return [n for n in names if "." not in n]


def _own_distribution(metadata: Any) -> Optional[Any]:
    try:
        dist = metadata.distribution(TOP_LEVEL)
    except (metadata.PackageNotFoundError, OSError):
        return None  # a source checkout, a fork under another name, unreadable: Metaflow lists
    return dist if TOP_LEVEL in _top_level_names(dist) else None


class _OwnNameFirst(Mapping[str, List[Any]]):
    """Metaflow's module -> distributions cache that answers flowproject's own name from its
    own distribution; any other lookup (or no distribution of that name) makes Metaflow's
    full listing, which then replaces this object. Task processes never ask, so nothing is
    looked up until the packager does."""

    def __init__(self, support: ModuleType) -> None:
        self._support = support

    def _full(self) -> Mapping[str, List[Any]]:
        if self._support._cached_distributions is self:
            self._support._cached_distributions = None
        full: Mapping[str, List[Any]] = self._support.modules_to_distributions()
        return full

    def _own(self, key: str) -> Optional[List[Any]]:
        if key != TOP_LEVEL:
            return None
        dist = _own_distribution(self._support.metadata)
        return None if dist is None else [dist]

    def get(self, key: str, default: Any = None) -> Any:
        own = self._own(key)
        return own if own is not None else self._full().get(key, default)

    def __getitem__(self, key: str) -> List[Any]:
        own = self._own(key)
        return own if own is not None else self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


def answer_for_metaflow() -> bool:
    """Put flowproject's answer into Metaflow's distribution cache; True if it went in."""
    try:
        from metaflow.packaging_sys import distribution_support
    except ImportError:
        return False
    support: Any = distribution_support  # a private module: its names are checked below
    if getattr(support, "_cached_distributions", False) is not None:
        return False  # already listed, or a packager that no longer caches this way
    if not callable(getattr(support, "modules_to_distributions", None)):
        return False
    support._cached_distributions = _OwnNameFirst(support)
    return True
