"""Deploy every flow of a project to Argo Workflows (or render / tear down), in parallel.

For each ``flows/**/*.flow.py`` (or the files given) this runs::

    python <file> [--branch B | --production] argo-workflows create [--tag commit:<sha> ...]

with the branch from :mod:`flowproject.deploy.branches`, ``--jobs`` at a time. A flow that fails
does not stop the others; the caller gets one :class:`Result` per flow and decides the
exit status (non-zero when any failed).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from ..config import environments as _overlays
from ..config import flows as _flowoptions
from ..config import loader as _config
from ..config.discovery import FlowTarget, discover
from ..errors import FlowprojectError
from . import settings as _settings
from . import teardown as _teardown
from .branches import BranchDecision, decide
from .report import Result, describe, error_line, markdown_table, summary_table, with_file
from .tags import provenance_tags

DEFAULT_JOBS = 4
# How much of a failed flow's stderr is repeated after the summary: enough for the
# traceback, not the whole Metaflow banner.
STDERR_TAIL_LINES = 30


class DeployError(FlowprojectError):
    headline = "Deploy error"

    def __str__(self) -> str:
        return self.message


# -- commands -------------------------------------------------------------------------------


def build_command(
    target: FlowTarget,
    decision: BranchDecision,
    *,
    teardown: bool = False,
    only_json: bool = False,
    tags: Sequence[str] = (),
    python: str = sys.executable,
    launch_flags: Sequence[str] = (),
) -> List[str]:
    """The Metaflow command line for one flow (``launch_flags``: Metaflow's top-level options)."""
    cmd = [python, str(target.file), *launch_flags, *decision.metaflow_flags(), "argo-workflows"]
    if teardown:
        return cmd + ["delete"]
    cmd.append("create")
    for tag in tags:
        # `--tag` belongs to `argo-workflows create` (it is not a top-level option);
        # every run of the deployed workflow carries it.
        cmd += ["--tag", tag]
    if only_json:
        cmd.append("--only-json")
    return cmd


def _run_one(
    target: FlowTarget,
    command: List[str],
    cwd: Path,
    env: Optional[Mapping[str, str]],
    json_dir: Optional[Path],
    label: Optional[str] = None,
) -> Result:
    file = label or _config.display_path(target.file)
    if target.error:
        return Result(target.flow, file, command, "failed", 0.0, target.error)
    started = time.monotonic()
    proc = subprocess.run(
        command, cwd=cwd, env=None if env is None else dict(env), capture_output=True, text=True, check=False
    )
    seconds = round(time.monotonic() - started, 2)
    if proc.returncode != 0:
        error = "exit %d: %s" % (proc.returncode, error_line(proc.stderr))
        return Result(target.flow, file, command, "failed", seconds, error, proc.stderr)
    if json_dir is not None:
        # With --only-json Metaflow prints the WorkflowTemplate alone on stdout (its
        # banner goes to stderr); check it is JSON before handing it to reviewers.
        try:
            json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            return Result(target.flow, file, command, "failed", seconds, "did not print JSON: %s" % e, proc.stderr)
        (json_dir / ("%s.json" % target.flow)).write_text(proc.stdout, encoding="utf-8")
    return Result(target.flow, file, command, "ok", seconds, None, proc.stderr)


def run(
    targets: Sequence[FlowTarget],
    decision: BranchDecision,
    *,
    root: Path,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
    teardown: bool = False,
    only_json: Optional[Path] = None,
    tags: Sequence[str] = (),
    flow_tags: Optional[Mapping[str, Sequence[str]]] = None,
    env: Optional[Mapping[str, str]] = None,
    progress: Optional[TextIO] = None,
    launch_flags: Sequence[str] = (),
    flow_launch: Optional[Mapping[str, Tuple[List[str], Dict[str, str]]]] = None,
) -> List[Result]:
    """Run (or with ``dry_run`` only plan) the command of every target, ``jobs`` at a time.

    Results come back in the order of ``targets``. ``only_json`` is a folder that gets
    ``<FlowName>.json`` per flow. ``progress`` receives one line per finished flow.
    ``flow_tags`` adds tags per flow name (``[flows.<FlowName>] tags`` and the environment);
    ``flow_launch`` gives a flow its own top-level options and extra environment
    (``flowproject.deploy.settings.per_flow``) instead of ``launch_flags``.
    """
    if jobs < 1:
        raise DeployError(msg="--jobs must be at least 1; got %d" % jobs)
    if teardown and only_json is not None:
        raise DeployError(msg="--teardown and --only-json cannot be combined")
    commands = [
        build_command(
            t,
            decision,
            teardown=teardown,
            only_json=only_json is not None,
            tags=[*tags, *(flow_tags or {}).get(t.flow, ())],
            launch_flags=(flow_launch or {}).get(t.flow, (launch_flags, {}))[0],
        )
        for t in targets
    ]
    if dry_run:
        return [
            Result(t.flow, _config.display_path(t.file), c, "failed" if t.error else "planned", 0.0, t.error)
            for t, c in zip(targets, commands)
        ]
    if only_json is not None:
        only_json.mkdir(parents=True, exist_ok=True)

    def one(pair) -> Result:
        target, command = pair
        extra = (flow_launch or {}).get(target.flow, ((), {}))[1]
        result = _run_one(target, command, root, {**env, **extra} if env is not None and extra else env, only_json)
        if progress is not None:
            print("%-6s %s (%.1fs)" % (result.status, result.flow, result.seconds), file=progress, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, zip(targets, commands)))


def _teardown_leftovers(
    project: str, decision: BranchDecision, root: Path, jobs: int, progress: Optional[TextIO]
) -> List[Result]:
    # After the file-based deletes: whatever the cluster still has for this branch,
    # typically flows whose files only ever existed on the deleted branch.
    try:
        found = _teardown.branch_deployments(project, decision.namespace)
    except _teardown.TeardownError as e:
        return [Result("(cluster)", "", [], "failed", 0.0, str(e))]

    def one(d: _teardown.Deployment) -> Result:
        target = FlowTarget(Path(d.name), d.flow)
        label = "(no file; deployed as %s)" % d.name
        result = _run_one(target, _teardown.delete_command(d.name), root, None, None, label=label)
        if progress is not None:
            print("%-6s %s (%.1fs)" % (result.status, result.flow, result.seconds), file=progress, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, found))


def deploy(
    files: Sequence[str] = (),
    *,
    branch: Optional[str] = None,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
    teardown: bool = False,
    only_json: Optional[str] = None,
    as_json: bool = False,
    summary_markdown: Optional[str] = None,
    project_dir: Optional[str] = None,
    environment: Optional[str] = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The ``./deploy`` / ``flowproject deploy`` command; returns the exit status.

    The project root is the folder of the ``flowproject.toml`` found from the first
    file given (else ``project_dir``, else the current directory); its ``[deploy] production_branches`` decide
    which git branches deploy with ``--production``. A teardown without ``files`` then deletes every other
    deployment of the project in that branch found on the cluster (see
    :mod:`flowproject.deploy.teardown`). ``summary_markdown`` is a file the per-flow table is
    appended to as Markdown (GitHub's ``$GITHUB_STEP_SUMMARY``). ``environment`` replaces
    ``[launch] environment`` (Metaflow's ``--environment``) for this deploy.
    """
    config_path = _config.locate(
        files[0] if files else project_dir,
        hint="run it in the project or pass a FLOW_FILE of it",
    )
    root = config_path.parent
    cfg = _config.load(config_path, environment=_overlays.TOP_LEVEL_ONLY, call_hooks=False)
    decision = decide(branch, production_branches=cfg["deploy"]["production_branches"], cwd=str(root))
    if teardown and decision.production and decision.source != "argument":
        # On GitHub's delete event GITHUB_REF_NAME is the default branch: a teardown that
        # forgot --branch would delete production. Production goes only when named.
        raise DeployError(
            msg="refusing to tear down production (%s from %s); pass --branch %s to mean it"
            % (decision.git_branch, decision.source, decision.git_branch)
        )
    targets = discover(root, files)
    # Teardown deletes by name; tags only matter for what gets created.
    tags = [] if teardown else provenance_tags(root, decision)
    print(describe(decision), file=err if as_json else out, flush=True)
    # [flows.<FlowName>]: deploy_branches and tags, read in this environment's config.
    options = _settings.for_deploy(config_path, decision)
    launch = _settings.with_environment(options["launch"], environment)  # checked even with no flows
    skipped = {t.flow: reason for t in targets if (reason := _settings.skip_reason(options, t.flow, decision))}
    results = run(
        [t for t in targets if t.flow not in skipped],
        decision,
        root=root,
        jobs=jobs,
        dry_run=dry_run,
        teardown=teardown,
        only_json=Path(only_json).resolve() if only_json else None,
        tags=tags,
        flow_tags=None if teardown else {t.flow: _flowoptions.run_tags(options, t.flow) for t in targets},
        # The children decide the same environment from the same git branch.
        env={**os.environ, **(launch["env"] or {}), _overlays.GIT_BRANCH_ENV: decision.git_branch},
        launch_flags=_settings.top_options(launch),
        flow_launch=_settings.per_flow(options, [t.flow for t in targets], environment),
        progress=None if dry_run else err,
    )
    results = _with_skipped(targets, results, skipped)
    # A teardown of named files deletes just those; a whole-branch teardown clears the cluster.
    whole_branch = teardown and not files
    if whole_branch and not dry_run:
        results += _teardown_leftovers(cfg["project_name"], decision, root, jobs, err)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        # The table has one line per flow; the full story of each failure goes to stderr.
        tail = "\n".join(r.stderr.splitlines()[-STDERR_TAIL_LINES:])
        print("--- %s failed: %s" % (r.flow, with_file(r)), file=err)
        if tail:
            print(tail, file=err)
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2), file=out)
    else:
        if dry_run:
            for r in results:
                print(shlex.join(r.command) if r.status == "planned" else "# %s" % with_file(r), file=out)
            if whole_branch:
                print(
                    "# then: every other deployment of project %s in %s found on the cluster"
                    % (cfg["project_name"], decision.namespace),
                    file=out,
                )
        else:
            print(summary_table(results, decision), file=out)
    if summary_markdown:
        verb = "teardown" if teardown else ("deploy plan" if dry_run else ("render" if only_json else "deploy"))
        with open(summary_markdown, "a", encoding="utf-8") as f:
            f.write(markdown_table(results, decision, title="flowproject %s: %s" % (verb, cfg["project_name"])))
    return 1 if failed else 0


def _with_skipped(targets: Sequence[FlowTarget], results: List[Result], skipped: Mapping[str, str]) -> List[Result]:
    done = iter(results)
    return [
        Result(t.flow, _config.display_path(t.file), [], "skipped", 0.0, skipped[t.flow])
        if t.flow in skipped
        else next(done)
        for t in targets
    ]
