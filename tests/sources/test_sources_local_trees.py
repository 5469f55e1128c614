"""Local ``files_metadata`` on awkward real trees: symlinks, odd names, unreadable folders, churn."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from conftest import REPO, run_id_of, write_project

from flowproject import observe
from flowproject.sources import SourceError

T0 = 1_600_000_000_000_000_000


def data(path):
    return {"type": "local", "check_mode": "files_metadata", "path": str(path)}


def write(path, content=b"x", mtime_ns=T0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "watched"
    write(root / "a.csv", b"a,b\n")
    write(tmp_path / "outside" / "part-0.csv", b"1,2\n")
    return root


# -- the order, and with it every value already stored, stays what it was ----------------


def test_listing_order_is_the_sorted_full_paths(tmp_path):
    # Walking folder by folder must fold entries in the order of the sorted relative paths
    # (the order of earlier releases): otherwise upgrading would publish a change nobody made.
    root = tmp_path / "w"
    rels = ["a.csv", "a/x", "a-b/y", "ab", "a/b/c", "a0", "b"]
    # A wide folder, folded in batches, with a sub-folder sorting into its middle.
    rels += ["wide/f%04d" % i for i in range(1500)] + ["wide/f0700x/y", "wide/f0700.5"]
    for i, rel in enumerate(rels):
        write(root / rel, b"z" * i)
    sha = hashlib.sha256()
    for i, rel in sorted(enumerate(rels), key=lambda p: p[1]):
        sha.update(("%s\0%d\0%s\n" % (rel, i, "2020-09-13T12:26:40.000000Z")).encode())
    assert observe(data(root)).value["listing_sha256"] == sha.hexdigest()


# -- symbolic links ------------------------------------------------------------------------


def test_symlinked_folder_is_followed_and_a_change_under_it_is_seen(tree, tmp_path):
    (tree / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    before = observe(data(tree))
    assert before.value["count"] == 2 and before.value["total_bytes"] == 8
    write(tmp_path / "outside" / "part-1.csv", b"3,4\n")
    after = observe(data(tree))
    assert after.value["count"] == 3
    assert after.fingerprint != before.fingerprint


def test_symlinked_folder_reads_as_the_same_folder_copied_in(tree, tmp_path):
    # Followed transparently: the files appear under the link's name.
    (tree / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=False)
    for p in copy.rglob("*"):
        os.utime(p, ns=(T0, T0))
    assert observe(data(tree)).value == observe(data(copy)).value


def test_link_back_to_an_ancestor_is_recorded_once_not_followed(tree):
    plain = observe(data(tree))
    (tree / "sub").mkdir()
    (tree / "sub" / "up").symlink_to("..", target_is_directory=True)
    looped = observe(data(tree))
    assert looped.value["count"] == plain.value["count"]
    assert looped.value["listing_sha256"] != plain.value["listing_sha256"]
    assert "1 link not followed (loop or dangling)" in looped.summary
    assert observe(data(tree)) == looped  # deterministic
    # Re-pointing the loop elsewhere in the loop is a change too: the target text is recorded.
    (tree / "sub" / "up").unlink()
    (tree / "sub" / "up").symlink_to("../../watched", target_is_directory=True)
    assert observe(data(tree)).fingerprint != looped.fingerprint


def test_link_to_itself_and_dangling_link_are_recorded_not_a_traceback(tree):
    plain = observe(data(tree))
    (tree / "self").symlink_to("self")
    (tree / "gone").symlink_to("nowhere.csv")
    obs = observe(data(tree))
    assert obs.value["count"] == plain.value["count"] == 1
    assert "2 links not followed" in obs.summary
    assert obs.fingerprint != plain.fingerprint
    assert observe(data(tree)) == obs
    (tree / "gone").unlink()
    (tree / "gone").symlink_to("elsewhere.csv")
    assert observe(data(tree)).fingerprint != obs.fingerprint


def test_dangling_link_that_comes_to_life_is_a_change(tree):
    (tree / "later.csv").symlink_to("target.csv")
    dangling = observe(data(tree))
    write(tree / "target.csv", b"123")
    alive = observe(data(tree))
    assert alive.value["count"] == 3 and alive.value["total_bytes"] == 4 + 3 + 3
    assert alive.fingerprint != dangling.fingerprint


# -- names and depths a str path does not survive ----------------------------------------


def test_name_that_is_not_utf8_is_recorded_by_its_bytes(tmp_path):
    root = tmp_path / "w"
    root.mkdir()
    for raw in (b"caf\xe9.csv", b"caf\xff.csv"):
        fd = os.open(os.path.join(os.fsencode(root), raw), os.O_CREAT | os.O_WRONLY)
        os.close(fd)
        os.utime(os.path.join(os.fsencode(root), raw), ns=(T0, T0))
    obs = observe(data(root))
    assert obs.value["count"] == 2
    assert observe(data(root)) == obs
    os.rename(os.path.join(os.fsencode(root), b"caf\xff.csv"), os.path.join(os.fsencode(root), b"caf\xfe.csv"))
    assert observe(data(root)).fingerprint != obs.fingerprint


def test_tree_deeper_than_path_max_is_listed(tmp_path):
    root = tmp_path / "w"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(24):  # 24 * 201 bytes: past Linux's 4096-byte PATH_MAX
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("deep.csv", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    assert observe(data(root)).value["count"] == 1


# -- folders the user must fix: one line naming them ----------------------------------------

# The observing process gives up root (as which permissions do not apply) after its imports,
# so a chmod blocks it as it blocks a sensor running as an ordinary user.
CHILD = textwrap.dedent(
    """
    import os, sys
    from flowproject import cli
    assert cli.main(["check", "--config", sys.argv[1]]) in (0, 2)  # imports everything while allowed
    sys.stderr.flush()
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    print("@@@", file=sys.stderr)
    sys.exit(cli.main(["check", "--config", sys.argv[1]]))
    """
)


@pytest.fixture
def shared_tree():
    # Under /tmp and world-traversable: pytest's own tmp folder is private to root.
    root = tempfile.mkdtemp(prefix="fp-local-perm-", dir="/tmp")
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        for folder, dirs, _ in os.walk(os.fsencode(root)):
            for d in dirs:
                os.chmod(os.path.join(folder, d), 0o755)
        shutil.rmtree(root)


def check_as_unprivileged(root, mode, locked=b"locked"):
    watched = os.path.join(os.fsencode(root), b"watched")
    os.makedirs(os.path.join(watched, locked))
    with open(os.path.join(watched, locked, b"f.csv"), "w") as f:
        f.write("1\n")
    cfg = os.path.join(root, "flowproject.toml")
    with open(cfg, "w") as f:
        f.write('project_name = "p"\n[data]\npath = "watched"\n')
    os.chmod(os.path.join(watched, locked), mode)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, cfg], capture_output=True, text=True, cwd=str(REPO), timeout=120
    )
    return proc.returncode, proc.stderr.split("@@@\n", 1)[-1]


def test_unsearchable_folder_is_one_line_naming_it(shared_tree):
    # r but no x: its names can be listed, but nothing in it can be looked at.
    code, err = check_as_unprivileged(shared_tree, 0o644)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: data.path: %s/watched/locked: cannot be searched" % shared_tree)


def test_unreadable_folder_is_one_line_naming_it(shared_tree):
    code, err = check_as_unprivileged(shared_tree, 0o311)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: data.path: %s/watched/locked: cannot be listed: Permission denied" % shared_tree)


def test_unsearchable_folder_with_a_non_utf8_name_is_named_printably(shared_tree):
    code, err = check_as_unprivileged(shared_tree, 0o644, locked=b"caf\xe9")
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: data.path: %s/watched/caf\\xe9: cannot be searched" % shared_tree)


# -- entries that vanish while the folder is being walked -------------------------------------

CHURN = textwrap.dedent(
    """
    import os, shutil, sys, time
    root, stop = sys.argv[1], time.time() + float(sys.argv[2])
    i = 0
    while time.time() < stop:
        d = os.path.join(root, "churn%d" % (i % 8))
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "inner"), exist_ok=True)
        for j in range(20):
            open(os.path.join(d, "inner", "f%d" % j), "w").close()
        i += 1
    """
)


def test_files_and_folders_vanishing_mid_walk_never_fail_a_tick(tmp_path):
    root = tmp_path / "w"
    for i in range(200):
        write(root / ("steady%03d" % i) / "f.csv")
    churn = subprocess.Popen([sys.executable, "-c", CHURN, str(root), "4"])
    try:
        counts = []
        stop = time.time() + 3
        while time.time() < stop:
            counts.append(observe(data(root)).value["count"])
    finally:
        churn.wait(timeout=30)
    assert churn.returncode == 0
    assert len(counts) > 3 and min(counts) >= 200


def test_files_metadata_on_a_missing_folder_under_a_file_is_missing(tmp_path):
    write(tmp_path / "f.csv")
    obs = observe(data(tmp_path / "f.csv" / "sub"))
    assert obs.value["exists"] is False


def test_files_metadata_on_a_symlink_to_a_file_is_an_error(tmp_path):
    write(tmp_path / "f.csv")
    (tmp_path / "ln").symlink_to(tmp_path / "f.csv")
    with pytest.raises(SourceError, match="is a file; files_metadata watches a folder"):
        observe(data(tmp_path / "ln"))


# -- a real SensorFlow tick sees a change made under a symlinked folder -----------------------

SENSOR_TOML = """
project_name = "linked"
[data]
type = "local"
check_mode = "files_metadata"
path = "watched"
"""


def test_sensorflow_publishes_a_change_made_under_a_symlinked_folder(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", SENSOR_TOML, {})
    shutil.copy(REPO / "flows" / "sensor.flow.py", project / "flows" / "sensor.flow.py")
    write(project / "watched" / "a.csv", b"1\n")
    write(tmp_path / "landing" / "day=1" / "part-0.csv", b"2\n")
    (project / "watched" / "landing").symlink_to(tmp_path / "landing", target_is_directory=True)

    def tick():
        run_id = run_id_of(sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=project))
        return sandbox.client(
            'namespace(None)\nd = Run("SensorFlow/%s").data\nresult = [d.changed, d.value["count"]]' % run_id
        )

    assert tick() == [True, 2]  # the first tick: the file behind the link is counted
    assert tick() == [False, 2]
    write(tmp_path / "landing" / "day=2" / "part-0.csv", b"3\n")
    assert tick() == [True, 3]
