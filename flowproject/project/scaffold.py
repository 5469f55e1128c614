"""``flowproject init`` and ``flowproject new``: a project's files, written from templates.

The templates ship inside the package (``flowproject/project/templates/``), so an installed
flowproject can set up any repository. Nothing is ever overwritten: a file that exists is
reported as skipped, and ``.gitignore`` only gets the lines it lacks, so running ``init``
twice changes nothing the second time.
"""

from __future__ import annotations

import keyword
import os
import re
import stat
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import List, Optional, Tuple, Union

from ..config.schema import PROJECT_NAME_MAX, PROJECT_NAME_RE
from . import guard, install_spec
from .guard import ScaffoldError

# What `init` writes: (template, path relative to the project folder or, for .github/, to
# the git root, executable). GitHub reads workflows only from the repository root.
PROJECT_FILES: Tuple[Tuple[str, str, bool], ...] = (
    ("flowproject.toml.tmpl", "flowproject.toml", False),
    ("sensor.flow.py.tmpl", "flows/sensor.flow.py", False),
    ("sensor.sql.tmpl", "sql/sensor.sql", False),
    ("deploy.tmpl", "deploy", True),
    ("test_sensor.py.tmpl", "tests/test_sensor.py", False),
)
GITHUB_FILES: Tuple[Tuple[str, str, bool], ...] = (
    ("github/workflows/flowproject-tests.yml", ".github/workflows/flowproject-tests.yml", False),
    ("github/workflows/flowproject-deploy.yml", ".github/workflows/flowproject-deploy.yml", False),
    ("github/actions/flowproject-setup/action.yml", ".github/actions/flowproject-setup/action.yml", False),
    (
        "github/actions/flowproject-deploy-setup/action.yml",
        ".github/actions/flowproject-deploy-setup/action.yml",
        False,
    ),
)
# Local runs write these into the current folder; they never belong in git.
GITIGNORE_LINES = (".metaflow/", "metaflow_card_cache/")
DATA_KEEP = "data/.gitkeep"

# A flow name for `new`: a snake_case identifier, so the file name and the class name
# (its CamelCase) are both predictable.
FLOW_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Metaflow flow names appear in Argo object names, which Kubernetes caps at 253.
MAX_FLOW_NAME = 100


@dataclass
class InitReport:
    """What ``init`` did, as paths relative to the project folder."""

    root: Path
    written: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    appended: List[str] = field(default_factory=list)
    # One line each: a foreign deploy moved aside, a workflow that would deploy twice.
    notices: List[str] = field(default_factory=list)

    def lines(self) -> List[str]:
        out = list(self.notices)
        out += ["wrote    %s" % p for p in self.written]
        out += ["appended %s" % p for p in self.appended]
        out += ["skipped  %s (exists)" % p for p in self.skipped]
        return out


def template_text(name: str) -> str:
    """The text of a packaged template (``flowproject/project/templates/<name>``)."""
    return resources.files("flowproject.project").joinpath("templates", *name.split("/")).read_text(encoding="utf-8")


def _git_root(folder: Path) -> Path:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ScaffoldError(msg="git is not installed; flowproject init sets up a git repository") from None
    if proc.returncode != 0:
        raise ScaffoldError(msg="%s is not inside a git repository; run git init there first" % folder)
    return Path(proc.stdout.strip()).resolve()


def default_project_name(folder: Path) -> str:
    """``[project] name`` of the folder's pyproject.toml, else the folder's name, made a
    valid Metaflow project name (lowercase letters, digits and ``_``)."""
    name = folder.name
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        name = guard.pyproject_name(pyproject) or name
    cleaned = re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_")
    return cleaned or "project"


def default_flowproject_spec() -> str:
    """The pip requirement the generated workflows install flowproject with: the way the
    running flowproject was installed (:mod:`flowproject.project.install_spec`)."""
    return install_spec.install_spec().requirement


def _write_new(path: Path, text: str, executable: bool) -> bool:
    """Create ``path`` with ``text`` unless it exists; True when written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a file that appeared since we looked is still never overwritten (nor a
        # link followed: O_EXCL fails on any link, even a dangling one).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as e:  # EACCES, ENAMETOOLONG, ENOTDIR: one line, not a traceback
        raise ScaffoldError(msg="cannot write %s: %s" % (guard.shown(str(path)), e.strerror or e)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return True


def _append_gitignore(path: Path) -> List[str]:
    existing = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    present = {line.strip() for line in existing}
    missing = [line for line in GITIGNORE_LINES if line not in present and line.rstrip("/") not in present]
    if missing:
        with path.open("a", encoding="utf-8") as f:
            if existing and not path.read_text(encoding="utf-8").endswith("\n"):
                f.write("\n")
            f.write("# Metaflow's local runs (flowproject init)\n")
            f.write("".join(line + "\n" for line in missing))
    return missing


def init(
    directory: Union[str, Path] = ".",
    *,
    project_name: Optional[str] = None,
    flowproject_spec: Optional[str] = None,
) -> InitReport:
    """Set up flowproject in ``directory``, a folder inside a git repository.

    Writes ``flowproject.toml``, ``flows/sensor.flow.py``, ``sql/sensor.sql``, ``deploy``,
    ``data/.gitkeep`` and the GitHub workflows (at the git root), and appends the Metaflow
    lines ``.gitignore`` lacks. Existing files are skipped, never changed.
    ``project_name`` defaults to :func:`default_project_name`; ``flowproject_spec`` is
    the pip requirement the workflows install flowproject with.
    """
    root = guard.folder(directory, "init:")
    git_root = _git_root(root)
    name = project_name if project_name is not None else default_project_name(root)
    pyproject = root / "pyproject.toml"
    named_by = "pyproject.toml" if guard.pyproject_name(pyproject) else "the folder's name"
    what = "--project-name" if project_name is not None else "the project name from %s (pass --project-name)" % named_by
    guard.check_name(name, PROJECT_NAME_RE, PROJECT_NAME_MAX, what, "a Metaflow project name of a-z, 0-9 and _")
    project_dir = root.relative_to(git_root).as_posix() or "."
    substitutions = {
        "@@PROJECT_NAME@@": name,
        "@@PROJECT_DIR@@": project_dir,
        # For paths GitHub resolves from the repository root (hashFiles).
        "@@PROJECT_PREFIX@@": "" if project_dir == "." else project_dir + "/",
        "@@FLOWPROJECT_SPEC@@": flowproject_spec or default_flowproject_spec(),
    }
    report = InitReport(root)
    if project_name is None and pyproject.is_file() and named_by != "pyproject.toml":
        report.notices.append("notice   pyproject.toml has no [project] name string; named the project %s" % name)
    spec_notice = None if flowproject_spec else install_spec.install_spec().notice
    planned = [(t, root / dest, x) for t, dest, x in PROJECT_FILES]
    planned += [(t, git_root / dest, x) for t, dest, x in GITHUB_FILES]
    # Every path init may touch, checked before anything is written or moved.
    extra = [(root / p, root) for p in (DATA_KEEP, "deploy.scaffold")] + [(git_root / ".gitignore", git_root)]
    guard.check_all([(d, root if d.is_relative_to(root) else git_root) for _, d, _ in planned] + extra, root)
    report.notices += _set_foreign_deploy_aside(root, git_root)
    for template, dest, executable in planned:
        text = template_text(template)
        for placeholder, value in substitutions.items():
            text = text.replace(placeholder, value)
        label = os.path.relpath(dest, root)
        (report.written if _write_new(dest, text, executable) else report.skipped).append(label)
    # An empty data/ so the default local source watches a folder that exists.
    if not (root / "data").exists():
        _write_new(root / DATA_KEEP, "", False)
        report.written.append(DATA_KEEP)
    if _append_gitignore(git_root / ".gitignore"):
        report.appended.append(os.path.relpath(git_root / ".gitignore", root))
    if spec_notice:
        report.notices.append(spec_notice)
    return report


def _set_foreign_deploy_aside(root: Path, git_root: Path) -> List[str]:
    """Move a ``deploy`` that is not flowproject's to ``deploy.scaffold`` (not executable),
    so the next ``./deploy --dry-run`` is flowproject's and never reaches a cluster."""
    from . import migrate_files

    notices = []
    path = root / "deploy"
    if path.is_file() and not migrate_files.is_flowproject_deploy(path.read_text(encoding="utf-8", errors="replace")):
        backup = root / "deploy.scaffold"
        if backup.exists():
            raise ScaffoldError(msg="deploy is not flowproject's and deploy.scaffold exists; move one of them away")
        path.rename(backup)
        backup.chmod(backup.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        notices.append("moved    deploy -> deploy.scaffold (it was not flowproject's; no longer executable)")
    folder = git_root / ".github" / "workflows"
    for wf in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        if migrate_files.runs_old_deploy(wf.read_text(encoding="utf-8", errors="replace")):
            notices.append(
                "warning  %s runs ./deploy as well: every push would deploy twice; delete it "
                "(flowproject migrate disables it)" % os.path.relpath(wf, root)
            )
    return notices


# -- new ------------------------------------------------------------------------------------


NEW_FLOW_TEMPLATE = "new.flow.py.tmpl"
# `new` also writes tests/test_<name>.py with flowproject.testing's fixtures.
NEW_TEST_TEMPLATE = "test_flow.py.tmpl"


def flow_class_name(name: str) -> str:
    """``train_topic_model`` -> ``TrainTopicModel`` (the team guide: no ``Flow`` suffix)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def new_flow(name: str, directory: Union[str, Path] = ".") -> Path:
    """Write ``flows/<name>.flow.py`` in ``directory`` and return its path.

    Refuses an invalid name or an existing file with a one-line ScaffoldError.
    """
    path = check_new(name, directory) / "flows" / ("%s.flow.py" % name)
    text = template_text(NEW_FLOW_TEMPLATE).replace("@@CLASS_NAME@@", flow_class_name(name))
    if not _write_new(path, text, False):
        raise ScaffoldError(msg="%s exists; flowproject new never overwrites a file" % os.path.relpath(path))
    write_flow_test(name, directory)
    return path


def check_new(name: str, directory: Union[str, Path] = ".") -> Path:
    """The resolved project folder, once ``name`` and the folder are fit for ``new``; a
    one-line ScaffoldError for an invalid name, an unusable folder or a link leading out."""
    if not FLOW_NAME_RE.fullmatch(name) or len(name) > MAX_FLOW_NAME or keyword.iskeyword(name):
        raise ScaffoldError(
            msg="invalid flow name %s: expected lowercase letters, digits and _, starting with a letter "
            "(at most %d characters), like train_model" % (guard.shown(name), MAX_FLOW_NAME)
        )
    root = guard.folder(directory, "new --dir")
    guard.check_all([(root / "flows" / ("%s.flow.py" % name), root), (flow_test_path(name, root), root)], root)
    return root


def flow_test_path(name: str, directory: Union[str, Path] = ".") -> Path:
    return Path(directory).resolve() / "tests" / ("test_%s.py" % name)


def write_flow_test(name: str, directory: Union[str, Path] = ".") -> Optional[Path]:
    """Write ``tests/test_<name>.py`` for flow ``name`` unless it exists; its path when written."""
    path = flow_test_path(name, directory)
    text = template_text(NEW_TEST_TEMPLATE).replace("@@CLASS_NAME@@", flow_class_name(name))
    return path if _write_new(path, text.replace("@@FLOW_NAME@@", name), False) else None
