"""Event chains through a real `flowproject events serve` process (issue 21): a two-event
`@trigger` waits for both events, `@trigger_on_finish` flows start when their upstream
runs finish, as the deployed Argo Sensors do. Results are read from the runs' own
artifacts through Metaflow's Client, local metadata and the metadata service."""

from __future__ import annotations

import re

import pytest
from conftest import run_id_of, two_step_flow, write_project
from flow_sources import base_flow, join_flow
from serving import Server

TOML = """
project_name = "chains"
[data]
type = "local"
path = "data"
[sensor]
event_name = "data_changed"
"""

# JoinFlow keeps what started it: its parameters and the events' names and ids.
JOIN_FLOW = join_flow(
    "JoinFlow",
    "unset",
    """
    self.params = [self.day, self.currency]
    self.events = sorted([e.name, e.id] for e in current.trigger.events) if current.trigger else []
    """,
    metaflow="Parameter, current, namespaced_event_name, step, trigger",
)


def downstream(name: str, on_finish: str) -> str:
    return base_flow(
        name,
        """
        trig = current.trigger
        self.upstream = trig.run.pathspec if trig and trig.run else None
        self.upstreams = sorted(r.pathspec for r in trig.runs) if trig and trig.runs else []
        """,
        decorator="@trigger_on_finish(%s)" % on_finish,
        metaflow="current, step, trigger_on_finish",
    )


AUDIT_FLOW = base_flow(
    "AuditFlow",
    end="""
    # A failed end step: the run is finished but not successful, so Metaflow
    # publishes no finish event for it.
    if self.fail:
        raise RuntimeError("audit failed on purpose")
    """,
    metaflow="Parameter, step",
    body='fail = Parameter("fail", type=bool, default=False)',
)

EXTRACT_FLOW = two_step_flow("ExtractFlow")


def artifacts(sandbox, project, pathspec, names):
    return sandbox.client(
        "namespace(None)\nd = Run(%r).data\nresult = {k: getattr(d, k) for k in %r}" % (pathspec, names), cwd=project
    )


def runs_of(sandbox, project, flow):
    code = (
        "namespace(None)\ntry:\n    result = sorted(r.pathspec for r in Flow(%r))\nexcept Exception:\n    result = []"
    )
    return sandbox.client(code % flow, cwd=project)


def started(line, flow):
    found = re.findall(r"\b(%s/\d+)" % flow, line.partition(": started ")[2])
    assert len(found) == 1, line
    return found[0]


@pytest.fixture
def two_events(tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"join.flow.py": JOIN_FLOW})
    (root / "data").mkdir()
    return root


def test_two_event_trigger_starts_once_both_arrived_with_the_latest_of_each(sandbox, two_events):
    srv = Server(sandbox, two_events)
    branch = "user.%s" % sandbox.env["METAFLOW_USER"]
    orders = "mfns.chains.%s.orders" % branch

    def post(name, pid, **payload):
        assert srv.post({"name": name, "payload": dict(payload, name=name, id=pid)}) == 200

    try:
        post(orders, "o1", date="d1")
        srv.wait_for(r"^%s: held; JoinFlow waits for prices$" % re.escape(orders))
        post(orders, "o2", date="d2")  # of two events of one name, the latest is used
        srv.wait_for(r"^%s: held; JoinFlow waits for prices$" % re.escape(orders))
        post("prices", "p1", cur="EUR")
        line = srv.wait_for(r"^prices: started ")
        first = started(line, "JoinFlow")
        assert line.endswith("%s (after %s, prices)" % (first, orders)), line
        post("prices", "p2", cur="USD")  # both were consumed: this one waits for orders again
        srv.wait_for(r"^prices: held; JoinFlow waits for %s$" % re.escape(orders))
        post(orders, "o3", date="d3")
        second = started(srv.wait_for(r"^%s: started " % re.escape(orders)), "JoinFlow")
    finally:
        # Ctrl-C while the second run goes on: the server stops listening and waits for it.
        assert srv.stop() == 0
    out = "\n".join(srv.seen)
    assert out.count(": started ") == 2, out
    assert re.search(r"^stopping: waiting for .*\b%s\b" % second, out, re.M), out
    assert out.index("%s finished" % second) < out.index("\nstopped"), out
    assert runs_of(sandbox, two_events, "JoinFlow") == sorted([first, second])
    assert artifacts(sandbox, two_events, first, ["params", "events"]) == {
        "params": ["d2", "EUR"],
        "events": [[orders, "o2"], ["prices", "p1"]],
    }
    assert artifacts(sandbox, two_events, second, ["params", "events"]) == {
        "params": ["d3", "USD"],
        "events": [[orders, "o3"], ["prices", "p2"]],
    }


@pytest.fixture
def chain(tmp_path):
    flows = {
        "extract.flow.py": EXTRACT_FLOW,
        "audit.flow.py": AUDIT_FLOW,
        "transform.flow.py": downstream("TransformFlow", 'flow="ExtractFlow"'),
        "load.flow.py": downstream("LoadFlow", 'flow="TransformFlow"'),
        "report.flow.py": downstream("ReportFlow", 'flows=["ExtractFlow", "AuditFlow"]'),
    }
    root = write_project(tmp_path / "proj", TOML, flows)
    (root / "data").mkdir()
    return root


def test_trigger_on_finish_chain_runs_by_itself_in_the_served_branch(sandbox, metadata, chain):
    branch = "test.feat"
    srv = Server(sandbox, chain, "--branch", branch)

    def run(flow, *args, ok=True):
        proc = (sandbox.run_ok if ok else sandbox.run)(
            ["flows/%s.flow.py" % flow, "--branch", "feat", "run", *args], cwd=chain
        )
        return proc

    try:
        # The head of the chain in a branch not served here starts nothing.
        sandbox.run_ok(["flows/extract.flow.py", "run"], cwd=chain)
        # A failed upstream run starts nothing, and says so.
        failed = run("audit", "--fail", "True", ok=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        srv.wait_for(r"^AuditFlow/%s failed: starts no @trigger_on_finish flow$" % run_id_of(failed))
        # The user runs the head of the chain as usual; no webhook is configured anywhere.
        extract = "ExtractFlow/%s" % run_id_of(run("extract"))
        line = srv.wait_for(r"^%s finished: started " % extract)
        transform = started(line, "TransformFlow")
        # ReportFlow keeps ExtractFlow's finish until AuditFlow's comes.
        assert line.endswith("; ReportFlow waits for metaflow.chains.%s.AuditFlow.end" % branch), line
        load = started(srv.wait_for(r"^%s finished: started " % transform), "LoadFlow")
        srv.wait_for(r"%s finished" % load)
        # flows=[ExtractFlow, AuditFlow]: the second upstream's success completes it.
        audit = "AuditFlow/%s" % run_id_of(run("audit"))
        line = srv.wait_for(r"^%s finished: started " % audit)
        report = started(line, "ReportFlow")
        assert line.endswith("%s (after %s, %s)" % (report, extract, audit)), line
    finally:
        # Ctrl-C while ReportFlow runs: waited for, and the line says chains end here.
        assert srv.stop() == 0
    out = "\n".join(srv.seen)
    assert re.search(r"^stopping: waiting for %s .*their @trigger_on_finish flows will not start$" % report, out, re.M)
    assert out.index("%s finished" % report) < out.index("\nstopped"), out
    assert out.count(": started ") == 3, out  # TransformFlow, LoadFlow, ReportFlow, nothing more
    assert runs_of(sandbox, chain, "TransformFlow") == [transform]
    assert runs_of(sandbox, chain, "LoadFlow") == [load]
    assert artifacts(sandbox, chain, transform, ["upstream"]) == {"upstream": extract}
    assert artifacts(sandbox, chain, load, ["upstream"]) == {"upstream": transform}
    assert artifacts(sandbox, chain, report, ["upstreams"]) == {"upstreams": sorted([audit, extract])}
    tags = sandbox.client("namespace(None)\nresult = sorted(Run(%r).system_tags)" % load, cwd=chain)
    assert "project_branch:%s" % branch in tags


def test_trigger_refuses_a_flow_that_starts_on_an_upstream_finish(chain):
    from flowproject.errors import FlowprojectError
    from flowproject.events.manual import trigger

    with pytest.raises(FlowprojectError) as e:
        trigger(chain / "flows" / "report.flow.py", {"x": 1})
    assert str(e.value).endswith(
        "flows/report.flow.py: ReportFlow starts when ExtractFlow and AuditFlow finish:"
        " run them while `flowproject events serve` runs"
    )
