"""`flowproject pin` and pinned run ids, with real runs (plain, --branch, --production)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import doc_text, run_id_of, write_project
from flow_sources import base_flow
from test_getters import CONSUMER

PRODUCER = base_flow(
    "ProducerFlow",
    "self.value = self.number\ntime.sleep(self.sleep)",
    'if self.fail:\n    raise RuntimeError("failing on purpose")',
    metaflow="Parameter, step",
    head="import time",
    body="""
    number = Parameter("number", type=int, default=0)
    fail = Parameter("fail", type=bool, default=False)
    sleep = Parameter("sleep", type=int, default=0)
    """,
)


# Comments and blank lines before, between and after: the pin must keep every one.
TOML = """\
# Team project: keep this header.
project_name = "pinproj"   # the @project name

# what the sensor watches
[data]
type = "local"   # files on disk
path = "data"

# trailing notes stay too
"""

GET = """
from flowproject import get_artifact, GetterError
try:
    result = get_artifact(%s)
except GetterError as e:
    result = "ERR " + str(e)
"""


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER})


def produce(sandbox, project, number, *flags, ok=True, run_args=()):
    cmd = ["flows/producer.flow.py", *flags, "run", "--number", str(number), *run_args]
    proc = (sandbox.run_ok if ok else sandbox.run)(cmd, cwd=project)
    return run_id_of(proc)


def cli(sandbox, project, *args):
    return sandbox.run(["-m", "flowproject.cli", *args], cwd=project)


def get(sandbox, project, args):
    return sandbox.client(GET % args, cwd=project)


def test_pin_round_trip_keeps_comments_and_layout(sandbox, project):
    prod_old = produce(sandbox, project, 1, "--production")
    prod_new = produce(sandbox, project, 2, "--production")
    branch = produce(sandbox, project, 3, "--branch", "a")
    toml = project / "flowproject.toml"

    proc = cli(sandbox, project, "pin", "ProducerFlow")
    assert proc.returncode == 0, proc.stderr
    assert "pinned ProducerFlow/%s in" % prod_new in proc.stdout
    pinned_text = TOML + '\n[getters.ProducerFlow]\nrun_id = "%s"\n' % prod_new
    assert toml.read_text() == pinned_text

    # Re-pinning changes the value and nothing else.
    proc = cli(sandbox, project, "pin", "ProducerFlow", "--branch", "test.a")
    assert proc.returncode == 0, proc.stderr
    assert "(was %s)" % prod_new in proc.stdout
    assert toml.read_text() == pinned_text.replace(prod_new, branch)
    assert get(sandbox, project, '"ProducerFlow", "value"') == 3  # the pin wins over prod's latest

    proc = cli(sandbox, project, "pin", "ProducerFlow", "--run", "ProducerFlow/%s" % prod_old)
    assert proc.returncode == 0, proc.stderr
    assert toml.read_text() == pinned_text.replace(prod_new, prod_old)
    proc = sandbox.run_ok(["flows/consumer.flow.py", "--production", "run"], cwd=project)
    assert "GOT 1" in proc.stdout


def test_pin_keeps_a_comment_on_the_pinned_line_and_tables_after_it(sandbox, project):
    run = produce(sandbox, project, 5)
    toml = project / "flowproject.toml"
    text = (
        'project_name = "pinproj"\n\n[getters.ProducerFlow]\nrun_id = "old"  # reviewed in PR 42\n'
        '# why we pin\n\n[sensor]\ncron_schedule = "0 * * * *"  # hourly\n'
    )
    toml.write_text(text)
    user_branch = sandbox.client("namespace(None)\nresult = sorted(Run('ProducerFlow/%s').tags)" % run, cwd=project)
    branch = [t.split(":", 1)[1] for t in user_branch if t.startswith("project_branch:")][0]
    proc = cli(sandbox, project, "pin", "ProducerFlow", "--branch", branch)
    assert proc.returncode == 0, proc.stderr
    assert toml.read_text() == text.replace('"old"', '"%s"' % run)


def test_pin_check_good_and_bad_pins(sandbox, project):
    good = produce(sandbox, project, 1, "--production")
    failed = produce(sandbox, project, 2, "--production", ok=False, run_args=("--fail", "true"))
    toml = project / "flowproject.toml"

    assert cli(sandbox, project, "pin", "ProducerFlow").returncode == 0
    proc = cli(sandbox, project, "pin", "--check")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")

    # Pinning a run that failed is refused before the file is touched.
    before = toml.read_text()
    proc = cli(sandbox, project, "pin", "ProducerFlow", "--run", failed)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: run_id=%r: ProducerFlow/%s failed in its end step; use a successful run" % (failed, failed)
    )
    assert toml.read_text() == before

    # A pin edited by hand to a failed run, and one to a run that does not exist.
    toml.write_text(before.replace(good, failed) + '\n[getters.ConsumerFlow]\nrun_id = "12345"\n')
    proc = cli(sandbox, project, "pin", "--check")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "flowproject.toml: getters.ConsumerFlow.run_id: no run ConsumerFlow/12345",
        "flowproject.toml: getters.ProducerFlow.run_id: ProducerFlow/%s failed in its end step; "
        "use a successful run" % failed,
    ]
    assert "Traceback" not in proc.stderr


def test_pin_errors_are_one_line(sandbox, project):
    proc = cli(sandbox, project, "pin", "ProducerFlow")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: no flow named 'ProducerFlow' in this Metaflow metadata"
    produce(sandbox, project, 1, "--branch", "a")
    proc = cli(sandbox, project, "pin", "ProducerFlow")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(
        "error: no successful run of ProducerFlow in project 'pinproj', branch 'prod'"
    )
    assert cli(sandbox, project, "pin").returncode == 2
    assert "Traceback" not in proc.stderr


def _wait_for_run(sandbox, project, deadline=120):
    """The id of ProducerFlow's first run, once its metadata exists."""
    code = (
        "namespace(None)\ntry:\n    result = [r.id for r in Flow('ProducerFlow')]\nexcept Exception:\n    result = []"
    )
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ids = sandbox.client(code, cwd=project)
        if ids:
            return ids[0]
        time.sleep(1)
    raise AssertionError("the run never appeared")


def test_pins_and_run_ids_to_unsuccessful_runs_are_one_line_getter_errors(sandbox, project):
    good = produce(sandbox, project, 7, "--production")
    failed = produce(sandbox, project, 8, "--production", ok=False, run_args=("--fail", "true"))

    failed_msg = "ProducerFlow/%s failed in its end step; use a successful run" % failed
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="%s"' % failed) == "ERR run_id=%r: %s" % (
        failed,
        failed_msg,
    )
    # A pathspec of the same flow is accepted; another flow or a deeper path is one line.
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="ProducerFlow/%s"' % good) == 7
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="TrainFlow/%s"' % good) == (
        "ERR run_id='TrainFlow/%s': 'TrainFlow/%s' is not a run of ProducerFlow: expected a run id or "
        "ProducerFlow/<run id>" % (good, good)
    )
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="ProducerFlow/%s/start"' % good).startswith(
        "ERR run_id='ProducerFlow/%s/start': 'ProducerFlow/%s/start' is not a run of ProducerFlow" % (good, good)
    )

    toml = project / "flowproject.toml"
    toml.write_text(TOML + '[getters.ProducerFlow]\nrun_id = "%s"\n' % failed)
    assert (
        get(sandbox, project, '"ProducerFlow", "value"')
        == "ERR flowproject.toml: getters.ProducerFlow.run_id: %s" % failed_msg
    )
    proc = sandbox.run(["flows/consumer.flow.py", "--production", "run"], cwd=project)
    assert proc.returncode != 0
    assert "getters.ProducerFlow.run_id: %s" % failed_msg in proc.stdout + proc.stderr
    assert "TypeError" not in proc.stdout + proc.stderr

    toml.write_text(TOML + '[getters.ProducerFlow]\nrun_id = "ProducerFlow/%s"\n' % good)
    assert get(sandbox, project, '"ProducerFlow", "value"') == 7
    assert cli(sandbox, project, "pin", "--check").returncode == 0


def test_running_and_killed_runs_are_not_read(sandbox, project):
    proc = subprocess.Popen(
        [sys.executable, "flows/producer.flow.py", "--branch", "slow", "run", "--number", "9", "--sleep", "600"],
        cwd=str(project),
        env=sandbox.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        running = _wait_for_run(sandbox, project)
        expected = (
            "ERR run_id=%r: ProducerFlow/%s never reached its end step (it failed, was killed or is still "
            "running); use a successful run" % (running, running)
        )
        assert get(sandbox, project, '"ProducerFlow", "value", run_id="%s"' % running) == expected
    finally:
        import os
        import signal

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="%s"' % running) == expected


def test_docs_pin_example_is_valid_and_round_trips():
    from flowproject.config import parse_text
    from flowproject.getters.pins import set_pin_text

    example = doc_text("artifacts.md").split("<!-- pin example -->\n```toml\n", 1)[1].split("```", 1)[0]
    assert parse_text(example)["getters"]["TrainFlow"] == {"run_id": "1712345"}
    assert set_pin_text(example, "TrainFlow", "1712399") == example.replace('"1712345"', '"1712399"')
    added = set_pin_text(example, "ScoreFlow", "77")
    assert added == example + '\n[getters.ScoreFlow]\nrun_id = "77"\n'
    assert parse_text(added)["getters"]["ScoreFlow"] == {"run_id": "77"}


# Pins started together: each process imports everything, then waits for the go file, so
# the read-edit-write of every pin overlaps (without the lock, all but one are lost).
RACER = """
import os, sys, time
from flowproject.cli.main import main
import flowproject.getters.pins, metaflow.client
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
sys.exit(main(sys.argv[2:]))
"""


def test_pin_keeps_crlf_and_a_symlink_and_serializes_concurrent_pins(sandbox, project, tmp_path):
    flows = ["ProducerFlow", "OtherFlow", "ThirdFlow"]
    for name in flows[1:]:
        (project / "flows" / ("%s.py" % name)).write_text(PRODUCER.replace("ProducerFlow", name))
    runs = {
        name: run_id_of(sandbox.run_ok([path, "run"], cwd=project))
        for name, path in zip(flows, ["flows/producer.flow.py", "flows/OtherFlow.py", "flows/ThirdFlow.py"])
    }
    # The config lives elsewhere (a shared checkout); the project links to it. CRLF line ends.
    shared = tmp_path / "shared"
    shared.mkdir()
    real = shared / "flowproject.toml"
    real.write_bytes(TOML.replace("\n", "\r\n").encode())
    link = project / "flowproject.toml"
    link.unlink()
    link.symlink_to(real)

    proc = cli(sandbox, project, "pin", "ProducerFlow", "--run", runs["ProducerFlow"])
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    after = real.read_bytes()
    added = '\r\n[getters.ProducerFlow]\r\nrun_id = "%s"\r\n' % runs["ProducerFlow"]
    assert after == (TOML.replace("\n", "\r\n") + added).encode()

    # Re-pinning changes only the pinned line, and it keeps its CRLF.
    proc = cli(sandbox, project, "pin", "ProducerFlow", "--run", runs["OtherFlow"])
    assert proc.returncode != 0  # a run of another flow: refused, file untouched
    assert real.read_bytes() == after
    repinned = produce(sandbox, project, 7)
    proc = cli(sandbox, project, "pin", "ProducerFlow", "--run", repinned)
    assert proc.returncode == 0, proc.stderr
    old_lines, new_lines = after.split(b"\r\n"), real.read_bytes().split(b"\r\n")
    changed = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    assert len(old_lines) == len(new_lines) and changed == [
        (b'run_id = "%s"' % runs["ProducerFlow"].encode(), b'run_id = "%s"' % repinned.encode())
    ]

    # Two pins at once, through the link: both land.
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), "pin", name, "--run", runs[name]],
            cwd=project,
            env=sandbox.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in flows[1:]
    ]
    time.sleep(3)  # every racer has imported and waits
    go.touch()
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
    text = real.read_bytes().decode()
    for name in flows:
        assert text.count("[getters.%s]" % name) == 1, text
    assert '[getters.OtherFlow]\r\nrun_id = "%s"' % runs["OtherFlow"] in text
    assert '[getters.ThirdFlow]\r\nrun_id = "%s"' % runs["ThirdFlow"] in text
    assert link.is_symlink() and "\n" not in text.replace("\r\n", "")
