"""``[launch]`` inside every run of a flow, not only ``./deploy``: :class:`LaunchSettings`.

``./deploy`` passes ``[launch]`` as Metaflow's top-level options (flowproject.deploy.settings).
A plain ``python flows/x.flow.py run`` or ``metaflow.Runner`` has no such wrapper, so BaseFlow
applies what can be applied from inside the flow file, after the config is parsed:

- ``package_suffixes``: the files beside the flow with those endings go into the code
  package (a FlowMutator's ``add_to_package``, Metaflow 2.19.24+). They are *added* to
  Metaflow's own suffixes; the walker already de-duplicates what it found itself.
- ``env``: ``@environment(vars=...)`` on every step, so local tasks, pods and the deployed
  template all see the variables (a step's own ``@environment`` wins per variable).
- ``@pypi``/``@conda`` on a step (``@pypi_base``/``@conda_base`` on the flow) in a run without
  a virtual environment (a plain local run): removed with one line, so the step runs in the current Python as ``@snowflake`` does;
  with ``--environment pypi/conda`` (or ``[launch] environment`` through ``./deploy``) they apply.

``environment``, ``datastore`` and ``metadata`` cannot come from inside the flow: Metaflow
builds the environment, datastore and metadata provider from the command line before any
config is read. ``./deploy`` passes them; locally ``python flows/x.flow.py --environment pypi run``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Iterator, List, Mapping, Tuple

from metaflow import FlowMutator, current
from metaflow.packaging_sys import ContentType
from metaflow.packaging_sys.utils import walk

from ..config.flows import launch_for
from .decorators import VIRTUAL_ENVIRONMENTS, current_environment

# Flow name -> its [launch] package_suffixes. The mutator instance is shared by every
# BaseFlow subclass, and add_to_package only learns the flow through `current`.
_SUFFIXES: Dict[str, Tuple[str, ...]] = {}
# Decorators that need a virtual environment (PyPIStepDecorator/CondaStepDecorator.step_init
# refuse any other --environment).
ENVIRONMENT_DECORATORS = ("pypi", "conda")
FLOW_ENVIRONMENT_DECORATORS = ("pypi_base", "conda_base")
# Flow name -> the flow-level ones removed in pre_mutate (the only place that may remove
# flow decorators), reported with the step-level ones in mutate.
_REMOVED_FROM_FLOW: Dict[str, List[str]] = {}
FLOW_LABEL = "the flow"
# Commands that deploy: @pypi must stay so Metaflow refuses a deploy without an environment
# instead of deploying a flow without its packages.
DEPLOY_COMMANDS = ("argo-workflows", "step-functions", "airflow")
# Inherited by the task processes of the run, so the note is printed once per run.
NOTED_ENV = "FLOWPROJECT_UNAPPLIED_NOTED"


def _suffixes(values: Any) -> Tuple[str, ...]:
    return tuple((s if s.startswith(".") else "." + s).lower() for s in values or ())


def _with_env(mutable_step, env: Mapping[str, str]) -> None:
    from metaflow.user_decorators.mutable_step import MutableStep

    for name, _, _, kwargs in mutable_step.decorator_specs:
        if name == "environment":
            # The step's own variables win over the project's.
            merged = {**env, **(kwargs.get("vars") or {})}
            mutable_step.add_decorator(
                "environment", deco_kwargs={**kwargs, "vars": merged}, duplicates=MutableStep.OVERRIDE
            )
            return
    mutable_step.add_decorator("environment", deco_kwargs={"vars": dict(env)})


def _applies() -> bool:
    """Whether @pypi/@conda apply: an environment was chosen, or the command deploys."""
    return current_environment() in VIRTUAL_ENVIRONMENTS or any(arg in DEPLOY_COMMANDS for arg in sys.argv[1:])


def unapplied_note(flow: str, removed: Mapping[str, List[str]], environment: str = "local") -> str:
    """The one line a plain local run prints for the ``@pypi``/``@conda`` it did not apply
    (``removed``: step name, or ``FLOW_LABEL`` first, -> the decorators removed from it)."""
    order = sorted(removed, key=lambda name: (name != FLOW_LABEL, name))
    what = ", ".join("%s (%s)" % (name, " ".join("@" + d for d in removed[name])) for name in order)
    return (
        "flowproject: %s: @pypi/@conda not applied on %s: --environment is %s, so the steps run in the current "
        "Python (pass --environment pypi or conda to apply them)" % (flow, what, environment)
    )


class LaunchSettings(FlowMutator):
    """Applies ``[launch]`` to the flow being run (see the module doc)."""

    def pre_mutate(self, mutable_flow) -> None:
        config = dict(mutable_flow.configs)["flowconfig"]
        flow = mutable_flow._flow_cls.__name__
        launch = launch_for(config, flow)  # [flows.<flow>.launch] over the project's [launch]
        _SUFFIXES[flow] = _suffixes(launch.get("package_suffixes"))
        env = {str(k): str(v) for k, v in (launch.get("env") or {}).items()}
        if env:
            for _, step in mutable_flow.steps:
                _with_env(step, env)
        # Before the command line is parsed: current_environment reads it from argv/env.
        if not _applies():
            _REMOVED_FROM_FLOW[flow] = [d for d in FLOW_ENVIRONMENT_DECORATORS if mutable_flow.remove_decorator(d)]

    def mutate(self, mutable_flow) -> None:
        # After the command line is parsed: the environment is known.
        if _applies():
            return
        flow = mutable_flow._flow_cls.__name__
        removed: Dict[str, List[str]] = {FLOW_LABEL: _REMOVED_FROM_FLOW[flow]} if _REMOVED_FROM_FLOW.get(flow) else {}
        for name, step in mutable_flow.steps:
            for deco in ENVIRONMENT_DECORATORS:
                if step.remove_decorator(deco):
                    removed.setdefault(name, []).append(deco)
        if removed and not os.environ.get(NOTED_ENV):
            print(unapplied_note(flow, removed, current_environment()), file=sys.stderr, flush=True)
            os.environ[NOTED_ENV] = "1"

    def add_to_package(self) -> Iterator[Tuple[str, str, ContentType]]:
        suffixes = _SUFFIXES.get(current.flow_name or "")
        if not suffixes:
            return
        # The folder Metaflow's own walker packages, so the names agree with its arcnames.
        flow_dir = os.path.dirname(os.path.abspath(sys.argv[0]))
        for path, arcname in walk(flow_dir + os.sep, file_filter=lambda f: f.lower().endswith(suffixes)):
            yield path, arcname, ContentType.USER_CONTENT
