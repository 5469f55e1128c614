"""``run_flow``: one real Metaflow run in the test's world, returned as a Client ``Run``.

Runs go through ``metaflow.Runner`` (a subprocess, as ``python flow.py run`` would), in
the project folder, with the test's environment. A run that fails raises
:class:`FlowRunFailed` carrying the flow's own log lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .env import FlowprojectEnv

# How much of a failed run's output the error shows (its end is where the error is).
LOG_LINES = 80


class FlowRunFailed(AssertionError):
    """A flow run the test started did not succeed; the message holds its log."""


def flow_path(env: FlowprojectEnv, path: Union[str, Path]) -> Path:
    """``path`` as given, or relative to the project folder (``flows/x.flow.py``)."""
    p = Path(path)
    if not p.is_absolute():
        p = env.root / p
    if not p.is_file():
        raise FlowRunFailed("no such flow file: %s" % p)
    return p


def run_with_flags(
    env: FlowprojectEnv,
    file: Path,
    flags: Sequence[str] = (),
    extra_env: Optional[Mapping[str, str]] = None,
    params: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Run ``file`` with Metaflow top-level ``flags`` (``--branch x`` / ``--production``)."""
    from metaflow import Runner

    top: Dict[str, Any] = {}
    rest: List[str] = list(flags)
    while rest:
        flag = rest.pop(0)
        if flag == "--production":
            top["production"] = True
        elif flag == "--branch":
            top["branch"] = rest.pop(0)
        else:
            raise FlowRunFailed("unexpected Metaflow option %r" % flag)
    # Runner puts env= over os.environ, which flowproject_env made the test's world too.
    run_env = dict(env.env, **(extra_env or {}))
    with Runner(str(file), show_output=False, env=run_env, cwd=str(env.root), **top) as runner:
        result = runner.run(**{k.replace("-", "_"): v for k, v in (params or {}).items()})
        if result.status != "successful" or result.run is None or not result.run.successful:
            raise FlowRunFailed(
                "%s %s: %s\n%s" % (file.name, " ".join(flags), result.status, _tail(result.stdout, result.stderr))
            )
        return result.run


def _tail(stdout: str, stderr: str) -> str:
    lines = (stdout or "").splitlines() + (stderr or "").splitlines()
    return "\n".join(lines[-LOG_LINES:])


def run_flow(
    env: FlowprojectEnv,
    path: Union[str, Path],
    params: Optional[Mapping[str, Any]] = None,
    branch: Optional[str] = None,
    production: bool = False,
    payload: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Run a flow file of the project and return its Client ``Run``.

    ``branch``: a ``--branch`` name (``"x"`` -> ``test.x``); ``production``: ``--production``.
    ``payload``: run as if the flow's (first) ``@trigger`` event had started it with this
    payload (Metaflow's own fields are added): ``current.trigger``, ``self.sensor_value``
    and the parameters mapped from it are what Argo would give the run.
    """
    if branch and production:
        raise FlowRunFailed("run_flow: give branch= or production=True, not both")
    file = flow_path(env, path)
    flags = ["--production"] if production else (["--branch", branch] if branch else [])
    extra: Dict[str, str] = {}
    if payload is not None:
        from ..events import triggers
        from ..events.webhook import event_body

        target = triggers.read_triggers(file, env.cfg["sensor"]["event_name"])
        events = [s for s in target.subscriptions if s.kind == "event"]
        if not events:
            raise FlowRunFailed("%s: payload= needs a flow with @trigger or @on_sensor_event" % file.name)
        run_branch = "prod" if production else ("test.%s" % branch if branch else env.branch)
        name = events[0].resolve(env.project, run_branch)
        body = event_body(name, payload)["payload"]
        _, extra = triggers.launch_spec(target, events[0], name, body, run_branch)
        extra.pop("METAFLOW_USER", None)
    return run_with_flags(env, file, flags, extra, params)
