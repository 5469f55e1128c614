"""flowproject.testing in a fresh repository from `flowproject init` + `new`, through pytester."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

CHAIN = """
from metaflow import current, step, trigger_on_finish
from flowproject import BaseFlow


{deco}
class {name}(BaseFlow):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec if current.get("trigger") else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {name}()
"""


TESTS = """
from flowproject.events import rules


def test_two_events_start_once_both_arrived(events):
    assert events.deliver("orders", {"date": "d1"}) == []
    (run,) = events.deliver("prices", {"cur": "EUR"})
    assert run.data.day == "d1" and run.data.currency == "EUR"
    assert events.deliver("prices", {"cur": "USD"}) == []  # consumed: both needed again
    (again,) = events.deliver("orders", {"date": "d2"})
    assert again.data.day == "d2" and again.data.currency == "USD"


def test_chain_of_three_by_the_rules_and_the_watcher(run_flow, events, flowproject_env):
    watcher = rules.FinishWatcher(flowproject_env.project, ["ChainA", "ChainB"])
    a = run_flow("flows/chain_a.flow.py")
    b, c = events.finish(a)
    assert (b.parent.id, c.parent.id) == ("ChainB", "ChainC")
    assert c.data.upstream == b.pathspec
    seen = watcher.poll()
    fresh = rules.TriggerBook(flowproject_env.project, events.book.flows)
    assert [s.flow for f in seen for s in fresh.finished(*f)] == ["ChainB", "ChainC"]
"""


@pytest.fixture
def project(pytester, tmp_path, monkeypatch):
    root = pytester.path
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for args in (["init"], ["new", "report"]):
        subprocess.run([sys.executable, "-m", "flowproject.cli", *args], cwd=root, check=True, capture_output=True)
    report = root / "flows" / "report.flow.py"
    text = report.read_text().replace("import BaseFlow\n", "import BaseFlow, on_sensor_event\n")
    report.write_text(text.replace("class Report(", "@on_sensor_event\nclass Report("))
    flows = root / "flows"
    flows.joinpath("chain_a.flow.py").write_text(CHAIN.format(deco="", name="ChainA"))
    flows.joinpath("chain_b.flow.py").write_text(CHAIN.format(deco='@trigger_on_finish(flow="ChainA")', name="ChainB"))
    flows.joinpath("chain_c.flow.py").write_text(CHAIN.format(deco='@trigger_on_finish(flow="ChainB")', name="ChainC"))
    join = (
        "from metaflow import Parameter, namespaced_event_name, step, trigger\n"
        "from flowproject import BaseFlow\n\n\n"
        '@trigger(events=[{"name": namespaced_event_name("orders"), "parameters": {"day": "date"}},\n'
        '                 {"name": namespaced_event_name("prices"), "parameters": {"currency": "cur"}}])\n'
        "class Join(BaseFlow):\n"
        '    day = Parameter("day", default="")\n'
        '    currency = Parameter("currency", default="")\n\n'
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        'if __name__ == "__main__":\n    Join()\n'
    )
    flows.joinpath("join.flow.py").write_text(join)
    (root / "tests" / "test_rules_kit.py").write_text(TESTS)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("METAFLOW_USER", "ci")
    return root


@pytest.mark.parametrize("metadata", ["local", "service"])
def test_generated_and_chain_tests_pass_in_a_fresh_repository(project, pytester, tmp_path, metadata):
    args = ["-p", "no:cacheprovider", "--flowproject-metadata", metadata]
    if metadata == "service":
        args += ["-k", "sensor or chain"]  # the service code paths: previous tick, finished runs
    result = pytester.runpytest_subprocess(*args, timeout=600)
    result.assert_outcomes(passed=3 if metadata == "service" else 5)
    assert not (project / ".metaflow").exists()
    assert not (tmp_path / "home" / ".metaflow").exists()
    assert not (tmp_path / "home" / ".metaflowconfig").exists()
