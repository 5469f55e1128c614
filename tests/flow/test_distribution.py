"""flowproject answers Metaflow's packager for its own distribution
(``flowproject._distribution``): the code package is the same file for file and the
same distribution metadata, without the listing of every installed distribution.

Each side runs the flow's real ``package save`` in a fresh process. The wrapper counts
``packages_distributions()`` calls (Metaflow's own hook, not flowproject's); the baseline
fills Metaflow's cache with the full listing before the flow loads, which is what
Metaflow does without flowproject's answer (and flowproject then leaves it alone).
"""

from __future__ import annotations

import json
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import two_step_flow, write_project

WRAPPER = textwrap.dedent(
    """
    import json, runpy, sys
    from metaflow.packaging_sys import distribution_support as support

    calls = []
    listing = support.packages_distributions

    def counted():
        calls.append(1)
        return listing()

    support.packages_distributions = counted
    if sys.argv[1] == "baseline":
        support.modules_to_distributions()
    flow, out = sys.argv[2], sys.argv[3]
    sys.argv = [flow, "package", "save", out]
    try:
        runpy.run_path(flow, run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise
    print("@@" + json.dumps({"listings": len(calls)}))
    """
)


def _package(sandbox, project: Path, side: str, flow: str, out: Path) -> dict:
    wrapper = project / "wrapper.py"
    wrapper.write_text(WRAPPER)
    proc = sandbox.run_ok([wrapper, side, flow, out], cwd=project)
    report = json.loads([line for line in proc.stdout.splitlines() if line.startswith("@@")][-1][2:])
    with tarfile.open(out) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
        dist_info = {
            m.name: json.loads(tar.extractfile(m).read())  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name.endswith("DIST_INFO")
        }
    return {"listings": report["listings"], "files": names, "dist_info": dist_info}


PLAIN = (
    two_step_flow("PlainFlow")
    .replace(
        "from flowproject import BaseFlow\n",
        "from metaflow import FlowSpec\nfrom flowproject import get_artifact  # noqa: F401\n",
    )
    .replace("PlainFlow(BaseFlow)", "PlainFlow(FlowSpec)")
)


@pytest.mark.parametrize(
    "source", [two_step_flow("TwoFlow"), PLAIN], ids=["BaseFlow", "FlowSpec-importing-flowproject"]
)
def test_the_code_package_is_unchanged_without_listing_distributions(sandbox, tmp_path, source):
    project = write_project(tmp_path / "proj", 'project_name = "distp"\n', {"two.flow.py": source})
    answered = _package(sandbox, project, "answered", "flows/two.flow.py", tmp_path / "a.tgz")
    baseline = _package(sandbox, project, "baseline", "flows/two.flow.py", tmp_path / "b.tgz")

    assert baseline["listings"] == 1, baseline["listings"]  # the wrapper sees Metaflow's listing
    assert answered["listings"] == 0, "Metaflow listed every distribution although flowproject answered"
    assert answered["files"] == baseline["files"]
    assert any(name.endswith("flowproject/flow/base.py") for name in answered["files"])
    assert answered["dist_info"] == baseline["dist_info"]
    # flowproject's own METADATA travels with the package, as with Metaflow's listing.
    (info,) = answered["dist_info"].values()
    assert "flowproject" in info, sorted(info)


def test_another_packaged_module_still_gets_metaflows_listing(sandbox, tmp_path):
    # A team package with a FlowMutator is packaged too; its distribution is Metaflow's
    # question to answer, so the full listing is made, and the package still matches.
    flow = (
        two_step_flow("TeamFlow")
        .replace("from flowproject import BaseFlow\n", "from flowproject import BaseFlow\nfrom teamlib import tagged\n")
        .replace("class TeamFlow", "@tagged\nclass TeamFlow")
    )
    project = write_project(tmp_path / "proj", 'project_name = "distq"\n', {"team.flow.py": flow})
    (project / "teamlib").mkdir()
    (project / "teamlib" / "__init__.py").write_text(
        "from metaflow import FlowMutator\n\n\nclass tagged(FlowMutator):\n    def pre_mutate(self, mutable_flow):\n        pass\n"
    )
    answered = _package(sandbox, project, "answered", "flows/team.flow.py", tmp_path / "a.tgz")
    baseline = _package(sandbox, project, "baseline", "flows/team.flow.py", tmp_path / "b.tgz")

    assert answered["listings"] == 1
    assert answered["files"] == baseline["files"]
    assert answered["dist_info"] == baseline["dist_info"]
