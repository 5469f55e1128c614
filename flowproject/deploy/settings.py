"""What the config of the environment a deploy decided on says about that deploy.

``[flows.<FlowName>] deploy_branches`` (skip a flow on other git branches) and
``[launch]``: Metaflow's top-level options (``--environment``, ``--datastore``,
``--metadata``, ``--package-suffixes``) and extra environment variables for every
``argo-workflows create``, so a team's ``@pypi`` flows deploy with ``environment = "pypi"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..config import environments as _overlays
from ..config import flows as _flowoptions
from ..config import loader as _config
from .branches import BranchDecision

# [launch] key -> Metaflow's top-level option.
TOP_OPTIONS = {"environment": "--environment", "datastore": "--datastore", "metadata": "--metadata"}


def top_options(launch: Mapping[str, Any]) -> List[str]:
    """Metaflow's top-level options from a validated ``[launch]`` table, in a fixed order."""
    flags: List[str] = []
    for key, option in TOP_OPTIONS.items():
        if launch.get(key):
            flags += [option, launch[key]]
    if launch.get("package_suffixes"):
        # Metaflow's option replaces its own suffixes; the key adds to them (as it does in a
        # plain run, flowproject.flow.launch), so the flow's .py files stay in the package.
        from metaflow.metaflow_config import DEFAULT_PACKAGE_SUFFIXES

        suffixes = [s for s in DEFAULT_PACKAGE_SUFFIXES.split(",") if s]
        suffixes += [s for s in launch["package_suffixes"] if s not in suffixes]
        flags += ["--package-suffixes", ",".join(suffixes)]
    return flags


def with_environment(launch: Mapping[str, Any], environment: Optional[str]) -> Dict[str, Any]:
    """``launch`` with ``./deploy --environment NAME`` in place of ``[launch] environment``.

    Checked against the same choices as the key, so a typo is one line before any flow runs.
    """
    if environment is None:
        return dict(launch)
    from ..config.schema import LAUNCH_FIELDS
    from ..errors import FlowprojectError

    check, _ = LAUNCH_FIELDS["environment"]

    def fail(expected: str) -> None:
        raise FlowprojectError(msg="--environment: %s; got %r" % (expected, environment))

    return {**launch, "environment": check(environment, fail)}


def per_flow(
    options: Mapping[str, Any], flows: Sequence[str], environment: Optional[str]
) -> Dict[str, Tuple[List[str], Dict[str, str]]]:
    """Flow name -> (Metaflow's top-level options, extra environment) of its deploy command:
    ``[flows.<flow>.launch]`` over ``[launch]``, then ``./deploy --environment``."""
    out = {}
    for flow in flows:
        launch = with_environment(_flowoptions.launch_for(options, flow), environment)
        out[flow] = (top_options(launch), {str(k): str(v) for k, v in (launch.get("env") or {}).items()})
    return out


def for_deploy(config_path: Path, decision: BranchDecision) -> Dict[str, Any]:
    # Hooks are called by each flow's own process (the launching one), not here.
    top = _config.load(config_path, environment=_overlays.TOP_LEVEL_ONLY, call_hooks=False)
    mapping = top["deploy"]["environments"] or {}
    env = _overlays.decide(decision.production, decision.metaflow_branch, decision.git_branch, mapping)
    return _config.load(config_path, environment=env, call_hooks=False)


def skip_reason(config: Mapping[str, object], flow: str, decision: BranchDecision) -> Optional[str]:
    options = _flowoptions.options_for(config, flow)
    if _flowoptions.deploys_from(options, decision.git_branch):
        return None
    return "skipped: git branch %r is not in [flows.%s] deploy_branches (%s)" % (
        decision.git_branch,
        flow,
        ", ".join(options["deploy_branches"]),
    )
