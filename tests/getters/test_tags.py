"""`flowproject tag` and getters by tag, with real runs (plain, --branch, --production)."""

from __future__ import annotations

import pytest
from conftest import run_id_of, write_project
from flow_sources import base_flow
from test_getters import PRODUCER
from test_pins import GET

CONSUMER = base_flow(
    "ConsumerFlow", 'self.got = self.get_artifact("ProducerFlow", "value", tag="champion")\nprint("GOT", self.got)'
)


@pytest.fixture
def project(tmp_path):
    return write_project(
        tmp_path / "proj", 'project_name = "tagproj"\n', {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER}
    )


def produce(sandbox, project, number, *flags, ok=True, run_args=()):
    cmd = ["flows/producer.flow.py", *flags, "run", "--number", str(number), *run_args]
    proc = (sandbox.run_ok if ok else sandbox.run)(cmd, cwd=project)
    return run_id_of(proc)


def tag(sandbox, project, run_id, name, *flags):
    return sandbox.run(["-m", "flowproject.cli", "tag", "ProducerFlow/%s" % run_id, name, *flags], cwd=project)


def get(sandbox, project, args):
    return sandbox.client(GET % args, cwd=project)


def holders(sandbox, project, name):
    code = "namespace(None)\nresult = sorted(r.id for r in Flow('ProducerFlow') if %r in r.user_tags)" % name
    return sandbox.client(code, cwd=project)


def test_tag_move_and_get_by_tag_per_branch(sandbox, project):
    p1 = produce(sandbox, project, 1, "--production")
    p2 = produce(sandbox, project, 2, "--production")
    produce(sandbox, project, 3, "--production")
    b1 = produce(sandbox, project, 10, "--branch", "a")

    none = get(sandbox, project, '"ProducerFlow", "value", tag="champion"')
    assert none == (
        "ERR no successful run of ProducerFlow tagged 'champion' in project 'tagproj', branch 'prod'; "
        "tag one with `flowproject tag ProducerFlow/<run id> champion`"
    )

    proc = tag(sandbox, project, p1, "champion")
    assert (proc.returncode, proc.stdout) == (0, "tagged ProducerFlow/%s champion\n" % p1)
    assert get(sandbox, project, '"ProducerFlow", "value"') == 3  # latest is untouched
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 1

    # Without --move both hold the tag; the newest successful holder wins.
    assert tag(sandbox, project, p2, "champion").returncode == 0
    assert holders(sandbox, project, "champion") == sorted([p1, p2])
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 2

    # --move: one holder again.
    proc = tag(sandbox, project, p1, "champion", "--move")
    assert proc.returncode == 0, proc.stderr
    assert "removed champion from ProducerFlow/%s" % p2 in proc.stdout
    assert holders(sandbox, project, "champion") == [p1]
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 1
    code = "from flowproject import latest_successful_run\nresult = latest_successful_run('ProducerFlow', tag='champion').id"
    assert sandbox.client(code, cwd=project) == p1

    # The branch scope is the usual one: prod's champion is not test.a's.
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion", branch="test.a"').startswith(
        "ERR no successful run of ProducerFlow tagged 'champion' in project 'tagproj', branch 'test.a'"
    )
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion", branch="any"') == 1
    # --move works across the project: the tag leaves prod for the branch run.
    assert tag(sandbox, project, b1, "champion", "--move").returncode == 0
    assert holders(sandbox, project, "champion") == [b1]
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"').startswith("ERR no successful run")
    proc = sandbox.run_ok(["flows/consumer.flow.py", "--branch", "a", "run"], cwd=project)
    assert "GOT 10" in proc.stdout
    # An explicit tag and run id together are refused.
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion", run_id="%s"' % p1) == (
        "ERR pass run_id=... or tag=..., not both"
    )


def test_failed_runs_never_win_and_the_tag_outranks_a_pin(sandbox, project):
    good = produce(sandbox, project, 1)
    failed = produce(sandbox, project, 2, ok=False, run_args=("--fail", "true"))
    other = produce(sandbox, project, 3)
    assert tag(sandbox, project, good, "champion").returncode == 0
    assert tag(sandbox, project, failed, "champion").returncode == 0
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion", branch="any"') == 1
    (project / "flowproject.toml").write_text(
        'project_name = "tagproj"\n[getters.ProducerFlow]\nrun_id = "%s"\n' % other
    )
    assert get(sandbox, project, '"ProducerFlow", "value", branch="any"') == 3
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion", branch="any"') == 1


def test_a_stale_or_corrupt_index_costs_time_not_correctness(sandbox, project):
    old = produce(sandbox, project, 1, "--production")
    new = produce(sandbox, project, 2, "--production")
    spoof = produce(sandbox, project, 3, "--branch", "a")
    assert tag(sandbox, project, new, "champion").returncode == 0
    # From outside flowproject: take the tag off the indexed run, put it on another run,
    # and try to pass a branch run off as prod with a user tag.
    sandbox.client(
        "namespace(None)\nRun('ProducerFlow/%s').remove_tag('champion')\nRun('ProducerFlow/%s').add_tag('champion')\n"
        "Run('ProducerFlow/%s').add_tags(['champion', 'project_branch:prod'])\nresult = 0" % (new, old, spoof),
        cwd=project,
    )
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 1

    # A corrupt index: listing again gives the same answer.
    indexes = list(
        (sandbox.root / "datastore" / ".metaflow" / "ProducerFlow" / "_flowproject" / "tags").rglob("*.json")
    )
    assert len(indexes) == 1
    indexes[0].write_text("{not json")
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 1
    # Re-tagging rewrites it.
    assert tag(sandbox, project, new, "champion", "--move").returncode == 0
    assert get(sandbox, project, '"ProducerFlow", "value", tag="champion"') == 2


def test_tag_errors_are_one_line(sandbox, project):
    run = produce(sandbox, project, 1)
    cases = [
        (
            ["ProducerFlow", "champion"],
            "error: expected FLOW/RUN_ID (for example TrainFlow/1712345), got 'ProducerFlow'",
        ),
        (["ProducerFlow/999999", "champion"], "error: no run ProducerFlow/999999"),
        (
            ["ProducerFlow/%s" % run, "project_branch:prod"],
            "error: tag 'project_branch:prod' looks like a Metaflow system tag (project:/project_branch:...); choose another",
        ),
    ]
    for args, expected in cases:
        proc = sandbox.run(["-m", "flowproject.cli", "tag", *args], cwd=project)
        assert (proc.returncode, proc.stderr.strip()) == (2, expected)
    proc = sandbox.run(["-m", "flowproject.cli", "tag", "ProducerFlow/%s" % run, "x" * 600], cwd=project)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
