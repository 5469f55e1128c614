"""Where shared base classes and helpers go so remote steps get them (docs/adopting.md: "Shared code")."""

from __future__ import annotations

from conftest import write_project

TEAMLIB = '''
import acme  # a package of this repository, carried because it opts in (see acme/__init__.py)
import notcarried  # a plain module outside flows/: not in the code package

from flowproject import BaseFlow


class TeamFlow(BaseFlow):
    """What every flow of the team shares."""

    def rows(self) -> int:
        return acme.double(5 if self.test_mode else 500)
'''

FLOW = '''
from metaflow import step
from teamlib import TeamFlow


class Scoring(TeamFlow):
    @step
    def start(self):
        """Use the shared helper."""
        self.n: int = self.rows()
        self.next(self.end)

    @step
    def end(self):
        """Show it."""
        print("n=%d" % self.n)


if __name__ == "__main__":
    Scoring()
'''


def test_shared_base_class_and_opted_in_package_are_in_the_code_package(sandbox, tmp_path):
    root = write_project(tmp_path / "repo", 'project_name = "acme"\n', {"scoring.flow.py": FLOW, "teamlib.py": TEAMLIB})
    (root / "acme").mkdir()
    (root / "acme" / "__init__.py").write_text(
        'METAFLOW_PACKAGE_POLICY = "include"\n\n\ndef double(x: int) -> int:\n    return 2 * x\n'
    )
    (root / "notcarried.py").write_text("VALUE = 1\n")
    # The repository's own package is importable the way an editable install makes it.
    env = {"PYTHONPATH": str(root)}
    proc = sandbox.run_ok(["flows/scoring.flow.py", "package", "list"], cwd=root, env=env)
    listing = (proc.stdout + proc.stderr).splitlines()
    assert str(root / "flows" / "teamlib.py") in listing
    assert str(root / "acme" / "__init__.py") in listing
    assert str(root / "notcarried.py") not in listing
    run = sandbox.run_ok(["flows/scoring.flow.py", "run"], cwd=root, env=env)
    assert "n=10" in run.stdout + run.stderr
