"""``./deploy``: the branch rule (git/CI branch -> ``--branch`` or ``--production``),
building and running ``argo-workflows create`` for every flow file, the report, teardown.

Builds on config and BaseFlow's provenance; only the CLI builds on it.
"""

from .branches import BranchDecision, decide, sanitize
from .commands import DeployError, deploy, run

__all__ = ["BranchDecision", "DeployError", "decide", "deploy", "run", "sanitize"]
