"""``[launch]`` applies to plain runs and Runner, not only ``./deploy`` (flowproject.flow.launch).

One project, run once from the command line and once through ``metaflow.Runner``; each run
is read back for its code package, the environment its steps saw and its output.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_id_of, write_project

TOML = """
project_name = "launch_proj"
[launch]
environment = "pypi"
package_suffixes = [".csv"]
env = { TEAM = "data", SHARED = "project" }
[flows.LaunchFlow]
decorators = ['environment:vars={"DECO": "config"}']
[flows.LaunchFlow.launch]
env = { OWN = "flow" }
[flows.OtherFlow.launch]
env = { OWN = "other" }
"""

# @pypi/@conda name packages that exist nowhere: a plain run must not try to install them.
FLOW = """
import os
import time
from metaflow import conda, environment, pypi, pypi_base, step
from flowproject import BaseFlow


@pypi_base(packages={"flowproject-no-such-package": "0.0.1"})
class LaunchFlow(BaseFlow):
    @pypi(packages={"flowproject-no-such-package": "0.0.1"})
    @step
    def start(self):
        self.seen = {k: os.environ.get(k) for k in ("TEAM", "SHARED", "OWN", "DECO")}
        with open(os.path.join(os.path.dirname(__file__), "lookup.csv")) as f:
            self.lookup = f.read()
        # Metaflow uploads the package while this task runs and registers it with the tasks
        # launched after the upload: give it time so `end` carries it (Run(...).code).
        time.sleep(2)
        self.next(self.end)

    @conda(packages={"flowproject-no-such-package": "0.0.1"})
    @environment(vars={"SHARED": "step"})
    @step
    def end(self):
        self.seen_end = {k: os.environ.get(k) for k in ("TEAM", "SHARED", "OWN")}


if __name__ == "__main__":
    LaunchFlow()
"""

READ = """
from metaflow import Run, namespace
namespace(None)
run = Run(%r)
# The package is uploaded while the first task starts: a later task has it for sure.
code = run["end"].task.code or run["start"].task.code
names = sorted(code.tarball.getnames())
result = {"names": [n for n in names if not n.startswith(".")], "seen": run.data.seen,
          "seen_end": run.data.seen_end, "lookup": run.data.lookup}
"""


@pytest.fixture
def project(tmp_path):
    root = write_project(tmp_path / "p", TOML, {"launch.flow.py": FLOW})
    (root / "flows" / "lookup.csv").write_text("a,1\n")
    (root / "flows" / "ref").mkdir()
    (root / "flows" / "ref" / "nested.csv").write_text("b,2\n")
    (root / "flows" / "notes.txt").write_text("not a listed suffix\n")
    return root


def _check(result: dict) -> None:
    names = result["names"]
    assert "lookup.csv" in names and "ref/nested.csv" in names, names
    assert "launch.flow.py" in names, names  # Metaflow's own suffixes still apply
    assert "notes.txt" not in names, names
    assert result["lookup"] == "a,1\n"
    # [flows.LaunchFlow.launch] env adds to the project's (another flow's table does not apply).
    # An @environment from [flows.LaunchFlow] decorators is kept and merged, not replaced.
    assert result["seen"] == {"TEAM": "data", "SHARED": "project", "OWN": "flow", "DECO": "config"}
    # A step's own @environment wins for its variables.
    assert result["seen_end"] == {"TEAM": "data", "SHARED": "step", "OWN": "flow"}


# Local runs register their code package only with this Metaflow setting (Run(...).code).
UPLOAD = {"METAFLOW_FEAT_ALWAYS_UPLOAD_CODE_PACKAGE": "1"}


def test_plain_run_packages_suffixes_sets_env_and_skips_pypi_conda(sandbox, project):
    proc = sandbox.run_ok(["flows/launch.flow.py", "run"], cwd=project, env=UPLOAD)
    notes = [line for line in proc.stderr.splitlines() if "not applied" in line]
    assert notes == [
        "flowproject: LaunchFlow: @pypi/@conda not applied on the flow (@pypi_base), end (@conda), start (@pypi): "
        "--environment is local, so the steps run in the current Python (pass --environment pypi or conda to "
        "apply them)"
    ], proc.stderr
    _check(sandbox.client(READ % ("LaunchFlow/%s" % run_id_of(proc)), env=UPLOAD))


def test_runner_gets_the_same_launch_settings(sandbox, project):
    code = (
        "from metaflow import Runner\n"
        "with Runner(%r, show_output=False).run() as r:\n"
        "    pathspec = r.run.pathspec\n"
        "    stderr = r.stderr\n" % str(project / "flows" / "launch.flow.py")
    )
    code += READ.replace("Run(%r)", "Run(pathspec)") + '\nresult["stderr"] = stderr\n'
    result = sandbox.client(code, env=UPLOAD)
    assert "@pypi/@conda not applied on the flow (@pypi_base), end (@conda), start (@pypi)" in result["stderr"]
    _check(result)


# A step mutator runs after BaseFlow's flow mutators: it sees the step as Metaflow will run it.
PROBE = """
import sys
from metaflow import StepMutator


class probe(StepMutator):
    def mutate(self, mutable_step):
        print("DECOS", sorted(str(spec[0]) for spec in mutable_step.decorator_specs), file=sys.stderr)
"""


def _decorators(proc) -> list:
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("DECOS ")]
    return json.loads(line[len("DECOS ") :].replace("'", '"'))


def test_an_environment_keeps_pypi_and_a_deploy_without_one_is_refused(sandbox, project):
    flow = project / "flows" / "launch.flow.py"
    flow.write_text(PROBE + FLOW.replace("    @pypi(", "    @probe\n    @pypi("))
    # `check` initialises the step decorators as `run` does, without building environments
    # (which would need the network).
    plain = sandbox.run_ok([flow, "check"], cwd=project)
    assert "pypi" not in _decorators(plain)
    assert "@pypi/@conda not applied on the flow (@pypi_base), end (@conda), start (@pypi)" in plain.stderr
    pypi = sandbox.run_ok([flow, "--environment", "pypi", "check"], cwd=project)
    assert "pypi" in _decorators(pypi) and "environment" in _decorators(pypi)
    assert "not applied" not in pypi.stderr
    via_env = sandbox.run_ok([flow, "check"], cwd=project, env={"METAFLOW_ENVIRONMENT": "conda"})
    assert "pypi" in _decorators(via_env)
    # A deploy keeps them, so Metaflow refuses one without an environment instead of
    # deploying the flow without its packages.
    deploy = sandbox.run([flow, "argo-workflows", "create", "--only-json"], cwd=project)
    assert deploy.returncode != 0
    assert "requires --environment=conda or --environment=pypi" in deploy.stderr, deploy.stderr[-2000:]
    assert "not applied" not in deploy.stderr
