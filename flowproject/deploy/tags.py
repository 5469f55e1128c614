"""The git provenance tags ``./deploy`` passes to every ``argo-workflows create``, so each
deployed run says which commit and branch it came from."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from ..config import loader as _config
from ..flow import provenance as _provenance
from .branches import BranchDecision, decide

__all__ = ["project_provenance_tags", "provenance_tags"]


def project_provenance_tags(branch: Optional[str] = None, start: Optional[str] = None) -> List[str]:
    """The tags ``./deploy`` would pass for the project found from ``start`` (the cwd).

    ``flowproject provenance``: for deploying by hand (``argo-workflows create --tag``,
    ``Deployer(...).argo_workflows().create(tags=...)``) with the same provenance.
    """
    config_path = _config.locate(start, hint="run it in the project")
    cfg = _config.load(config_path)
    decision = decide(branch, production_branches=cfg["deploy"]["production_branches"], cwd=str(config_path.parent))
    return provenance_tags(config_path.parent, decision)


def provenance_tags(root: Path, decision: BranchDecision) -> List[str]:
    """The git provenance tags every deployed run carries (none outside git).

    The branch is the one the deploy decided on: a CI checkout is often a detached HEAD.
    """
    info = _provenance.git_info(root)
    if info is None:
        return []
    return _provenance.tags_for(dict(info, branch=decision.git_branch))
