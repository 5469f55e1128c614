"""``flowproject migrate``: an Outerbounds scaffold repository converted in place, in one
reviewable step.

The whole conversion is computed first as a list of file edits (old text, new text), so
``--dry-run`` prints exactly the diff a real run would leave, and a repository that is
already converted yields no edits ("nothing to do"). Nothing is committed: new files are
added to git with ``--intent-to-add``, so ``git diff`` shows the complete change.
"""

from __future__ import annotations

import difflib
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

from ..config.shadowing import library_dir
from ..flow.packages import team_packages
from . import migrate_files as _files
from .scaffold import GITHUB_FILES, ScaffoldError, _git_root, default_flowproject_spec, template_text

CONFIG = "flowproject.toml"
SENSOR_CLASS = "SensorFlow"


@dataclass
class Edit:
    """One file: ``old`` None means created, ``new`` None means deleted."""

    path: Path
    old: Optional[str]
    new: Optional[str]
    executable: bool = False


@dataclass
class Plan:
    root: Path
    git_root: Path
    edits: List[Edit] = field(default_factory=list)
    steps: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def add(self, path: Path, old: Optional[str], new: Optional[str], executable: bool = False) -> None:
        self.edits.append(Edit(path, old, new, executable))

    def diff(self) -> str:
        out: List[str] = []
        for e in self.edits:
            name = self.rel(e.path)
            out += difflib.unified_diff(
                (e.old or "").splitlines(keepends=True),
                (e.new or "").splitlines(keepends=True),
                "/dev/null" if e.old is None else "a/" + name,
                "/dev/null" if e.new is None else "b/" + name,
            )
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n\\ No newline at end of file\n"
        return "".join(out)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScaffoldError(msg="%s: expected a UTF-8 text file" % path) from None


def _flow_target(path: Path) -> str:
    stem = path.stem
    base = stem[: -len("flow")] if stem.endswith("flow") else stem.replace("flow", "")
    base = base.rstrip("_.-") or stem
    return "flows/%s.flow.py" % base


def build_plan(directory: Union[str, Path] = ".") -> Plan:
    """Every edit migrating ``directory`` takes, without touching anything."""
    from . import migrate_python as _py

    root = Path(directory).resolve()
    if not (root / CONFIG).is_file():
        raise ScaffoldError(
            msg="%s has no %s; flowproject migrate converts an Outerbounds scaffold repository" % (directory, CONFIG)
        )
    plan = Plan(root, _git_root(root))

    vendored = root / "flowproject"
    if vendored.is_dir() and vendored.resolve() != library_dir():
        files = _files.check_vendored(vendored, "flowproject")
        for path in files:
            plan.add(path, _read(path), None)
        plan.steps.append("delete    flowproject/ (the scaffold's vendored copy: %d known files)" % len(files))

    config_text = _read(root / CONFIG)
    launch = None
    dotenv = root / ".env"
    if dotenv.is_file() and "[launch]" not in config_text:
        launch, notes = _files.launch_from_dotenv(_files.parse_dotenv(_read(dotenv), ".env"), ".env")
        plan.notes += notes
    new_toml, toml_changes = _files.migrate_toml(config_text, launch, sensor_event=True)
    if toml_changes:
        plan.add(root / CONFIG, config_text, new_toml)
        plan.steps += ["edit      %s: %s" % (CONFIG, c) for c in toml_changes]

    packages = [p.name for p in team_packages(root)]
    for path in sorted(root.glob("*flow*.py")):
        text = _read(path)
        if not _py.defines_flow(text):
            continue
        result = _py.rewrite_flow(text, sensor_event=True, team_packages=packages)
        if SENSOR_CLASS in result.flow_classes:
            _replace_sensor(plan, path, text)
            continue
        target = root / _flow_target(path)
        if target.exists():
            raise ScaffoldError(
                msg="%s: would move to %s, which exists; rename one of them" % (path.name, plan.rel(target))
            )
        plan.add(path, text, None)
        plan.add(target, None, result.text)
        plan.steps.append(
            "move      %s -> %s%s"
            % (path.name, plan.rel(target), ": " + "; ".join(result.changes) if result.changes else "")
        )

    _replace_deploy(plan)
    _replace_workflows(plan)
    for pkg in packages:
        plan.notes.append("%s/: importable from flows/ and shipped in the code package (the project root rule)" % pkg)
    return plan


def _backup(plan: Plan, path: Path, text: str) -> Path:
    backup = path.with_name(path.name + _files.BACKUP_SUFFIX)
    if backup.exists():
        raise ScaffoldError(
            msg="%s exists; move it away so migrate can keep the old %s there" % (plan.rel(backup), path.name)
        )
    plan.add(backup, None, text)
    return backup


def _replace_sensor(plan: Plan, path: Path, text: str) -> None:
    target = plan.root / "flows" / "sensor.flow.py"
    backup = _backup(plan, path, text)
    plan.add(path, text, None)
    if target.exists():
        plan.steps.append("backup    %s -> %s (flows/sensor.flow.py exists and is kept)" % (path.name, backup.name))
        return
    plan.add(target, None, template_text("sensor.flow.py.tmpl"))
    plan.steps.append(
        "replace   %s -> flows/sensor.flow.py (flowproject's SensorFlow; the old one kept as %s)"
        % (path.name, backup.name)
    )


def _replace_deploy(plan: Plan) -> None:
    path = plan.root / "deploy"
    new = template_text("deploy.tmpl")
    if path.is_file():
        old = _read(path)
        if _files.is_flowproject_deploy(old):
            return
        backup = _backup(plan, path, old)
        plan.add(path, old, new, executable=True)
        plan.steps.append("replace   deploy (the old script, kept as %s, is no longer executable)" % backup.name)
    else:
        plan.add(path, None, new, executable=True)
        plan.steps.append("write     deploy")


def _replace_workflows(plan: Plan) -> None:
    folder = plan.git_root / ".github" / "workflows"
    if folder.is_dir():
        for path in sorted(list(folder.glob("*.yml")) + list(folder.glob("*.yaml"))):
            text = _read(path)
            if _files.runs_old_deploy(text):
                backup = _backup(plan, path, text)
                plan.add(path, text, None)
                plan.steps.append("disable   %s -> %s (ran the old ./deploy)" % (plan.rel(path), backup.name))
    project_dir = plan.root.relative_to(plan.git_root).as_posix() or "."
    subs = {
        "@@PROJECT_DIR@@": project_dir,
        "@@PROJECT_PREFIX@@": "" if project_dir == "." else project_dir + "/",
        "@@FLOWPROJECT_SPEC@@": default_flowproject_spec(),
    }
    for template, dest, _ in GITHUB_FILES:
        path = plan.git_root / dest
        if path.exists():
            continue
        text = template_text(template)
        for key, value in subs.items():
            text = text.replace(key, value)
        plan.add(path, None, text)
        plan.steps.append("write     %s" % plan.rel(path))


def _dirty(plan: Plan) -> List[str]:
    proc = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
        cwd=plan.root,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


def apply(plan: Plan) -> None:
    """Write the plan's edits and add new files to git with --intent-to-add."""
    dirty = _dirty(plan)
    if dirty:
        raise ScaffoldError(
            msg="%s has uncommitted changes (%s%s); commit or stash them first so the migration is one reviewable diff"
            % (plan.root, ", ".join(dirty[:3]), ", ..." if len(dirty) > 3 else "")
        )
    created = []
    for e in plan.edits:
        if e.new is None:
            e.path.unlink()
            continue
        e.path.parent.mkdir(parents=True, exist_ok=True)
        e.path.write_text(e.new, encoding="utf-8")
        mode = e.path.stat().st_mode
        x = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        e.path.chmod(mode | x if e.executable else mode & ~x)
        if e.old is None:
            created.append(str(e.path))
    for folder in {e.path.parent for e in plan.edits if e.new is None}:
        _remove_empty(folder, plan.root)
    if created:
        subprocess.run(
            ["git", "add", "--intent-to-add", "--", *created], cwd=plan.git_root, check=True, capture_output=True
        )


def _remove_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir():
        cache = folder / "__pycache__"
        if cache.is_dir():
            for p in cache.iterdir():
                p.unlink()
            cache.rmdir()
        if any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent


def migrate(directory: Union[str, Path] = ".", *, dry_run: bool = False) -> List[str]:
    """Migrate ``directory``; the lines to print. ``dry_run``: the plan and diff only."""
    plan = build_plan(directory)
    if not plan.edits:
        return ["nothing to do: %s is already a flowproject repository" % plan.root]
    lines = ["flowproject migrate: %d files in %s" % (len(plan.edits), plan.root)]
    lines += ["  " + s for s in plan.steps]
    lines += ["note: " + n for n in plan.notes]
    if dry_run:
        return lines + ["dry run: nothing was changed; the diff:", plan.diff().rstrip("\n")]
    apply(plan)
    return lines + ["done: review with `git diff --stat`, then `flowproject validate` and `./deploy --dry-run`"]
