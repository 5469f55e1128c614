"""Branch teardown against a stand-in Kubernetes API on 127.0.0.1, and the job summary."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from conftest import two_step_flow
from test_deploy import git_project

ARGO = "/apis/argoproj.io/v1alpha1/namespaces/"


def template(name: str, flow: str, branch: str, project: str = "demo", owner: str = "someone_else") -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {
            "name": name,
            "namespace": "default",
            "annotations": {
                "metaflow/project_name": project,
                "metaflow/branch_name": branch,
                "metaflow/flow_name": flow,
                "metaflow/owner": owner,
                "metaflow/production_token": "%s-token" % name,
                "metaflow/parameters": "{}",
            },
        },
        "spec": {},
    }


class StandInKubernetes:
    """Just enough of the Kubernetes API for Argo objects: list, get and delete of
    workflowtemplates, cronworkflows and sensors, kept in memory."""

    def __init__(self) -> None:
        self.objects: Dict[Tuple[str, str], dict] = {}
        self.requests: List[str] = []
        self.fail_list = False
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self) -> None:
                self._answer(
                    404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
                )

            def _route(self) -> Tuple[str, str]:
                path = self.path.split("?", 1)[0]
                m = re.match(r"^%s[^/]+/([a-z]+)(?:/([^/]+))?$" % re.escape(ARGO), path)
                return (m.group(1), m.group(2) or "") if m else ("", "")

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                stand_in.requests.append("GET %s" % self.path)
                plural, name = self._route()
                if plural and not name:
                    if stand_in.fail_list:
                        return self._answer(
                            403, {"kind": "Status", "status": "Failure", "message": "forbidden: no list", "code": 403}
                        )
                    items = [o for (p, _), o in sorted(stand_in.objects.items()) if p == plural]
                    return self._answer(200, {"apiVersion": "argoproj.io/v1alpha1", "items": items, "metadata": {}})
                if (plural, name) in stand_in.objects:
                    return self._answer(200, stand_in.objects[(plural, name)])
                self._not_found()

            def do_DELETE(self) -> None:  # noqa: N802
                stand_in.requests.append("DELETE %s" % self.path)
                plural, name = self._route()
                if stand_in.objects.pop((plural, name), None) is None:
                    return self._not_found()
                self._answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, body: dict) -> None:
        name = body["metadata"]["name"]
        self.objects[("workflowtemplates", name)] = body
        self.objects[("cronworkflows", name)] = {"metadata": {"name": name}}
        self.objects[("sensors", name.replace(".", "-"))] = {"metadata": {"name": name}}

    def kubeconfig(self, folder: Path) -> Path:
        path = folder / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
                    "users": [{"name": "u", "user": {"token": "not-a-secret"}}],
                    "contexts": [
                        {"name": "c", "context": {"cluster": "stand-in", "user": "u", "namespace": "default"}}
                    ],
                    "current-context": "c",
                }
            )
        )
        return path

    def names(self, plural: str = "workflowtemplates") -> List[str]:
        return sorted(n for p, n in self.objects if p == plural)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kube():
    stand_in = StandInKubernetes()
    try:
        yield stand_in
    finally:
        stand_in.close()


def teardown_env(sandbox, kube, tmp_path: Path) -> Dict[str, str]:
    return {"KUBECONFIG": str(kube.kubeconfig(tmp_path)), "METAFLOW_KUBERNETES_NAMESPACE": "default"}


def test_teardown_deletes_flows_that_only_existed_on_the_branch(sandbox, kube, tmp_path):
    pytest.importorskip("kubernetes")
    repo = git_project(tmp_path / "repo", "main", flows={"hello.flow.py": two_step_flow("HelloFlow")})
    user = sandbox.env["METAFLOW_USER"]
    kube.add(template("demo.test.featx.helloflow", "HelloFlow", "test.feat_x", owner=user))
    kube.add(template("demo.test.featx.onlyonbranchflow", "OnlyOnBranchFlow", "test.feat_x"))
    kube.add(template("demo.prod.helloflow", "HelloFlow", "prod"))
    kube.add(template("other.test.featx.helloflow", "HelloFlow", "test.feat_x", project="other"))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")

    proc = sandbox.run(
        [
            "-m",
            "flowproject.cli",
            "deploy",
            "--teardown",
            "--branch",
            "feat_x",
            "--json",
            "--summary-markdown",
            str(summary),
        ],
        cwd=repo,
        env=teardown_env(sandbox, kube, tmp_path),
    )
    rows = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    # Every deployment of project demo in test.feat_x is gone, with its cron workflow and
    # sensor; other branches and other projects are untouched.
    assert kube.names() == ["demo.prod.helloflow", "other.test.featx.helloflow"]
    assert kube.names("cronworkflows") == ["demo.prod.helloflow", "other.test.featx.helloflow"]
    assert kube.names("sensors") == ["demo-prod-helloflow", "other-test-featx-helloflow"]
    # HelloFlow by its file, OnlyOnBranchFlow (no file on this checkout) by its name.
    assert [(r["flow"], r["status"]) for r in rows] == [("HelloFlow", "ok"), ("OnlyOnBranchFlow", "ok")]
    by_flow = {r["flow"]: r for r in rows}
    assert by_flow["OnlyOnBranchFlow"]["status"] == "ok"
    assert by_flow["OnlyOnBranchFlow"]["file"] == "(no file; deployed as demo.test.featx.onlyonbranchflow)"
    assert by_flow["OnlyOnBranchFlow"]["command"][-3:] == [
        "-m",
        "flowproject.deploy.teardown",
        "demo.test.featx.onlyonbranchflow",
    ]
    # The job summary was appended to, not replaced.
    text = summary.read_text()
    assert text.startswith("earlier step\n### flowproject teardown: demo\n")
    assert "| OnlyOnBranchFlow | (no file; deployed as demo.test.featx.onlyonbranchflow) | test.feat_x | ok |" in text


def test_teardown_that_cannot_list_the_cluster_fails_with_one_row(sandbox, kube, tmp_path):
    pytest.importorskip("kubernetes")
    repo = git_project(tmp_path / "repo", "main", flows={"hello.flow.py": two_step_flow("HelloFlow")})
    kube.add(template("demo.test.featx.onlyonbranchflow", "OnlyOnBranchFlow", "test.feat_x"))
    kube.fail_list = True
    proc = sandbox.run(
        ["-m", "flowproject.cli", "deploy", "--teardown", "--branch", "feat_x", "--json"],
        cwd=repo,
        env=teardown_env(sandbox, kube, tmp_path),
    )
    assert proc.returncode == 1
    rows = json.loads(proc.stdout)
    cluster = [r for r in rows if r["flow"] == "(cluster)"]
    assert (
        len(cluster) == 1 and cluster[0]["error"] == "cannot list the cluster's workflow templates: forbidden: no list"
    )
    assert "Traceback" not in proc.stderr
    assert kube.names() == ["demo.test.featx.onlyonbranchflow"]


def test_teardown_of_named_files_leaves_the_rest_of_the_branch(sandbox, kube, tmp_path):
    pytest.importorskip("kubernetes")
    repo = git_project(tmp_path / "repo", "main", flows={"hello.flow.py": two_step_flow("HelloFlow")})
    kube.add(template("demo.test.featx.helloflow", "HelloFlow", "test.feat_x", owner=sandbox.env["METAFLOW_USER"]))
    kube.add(template("demo.test.featx.onlyonbranchflow", "OnlyOnBranchFlow", "test.feat_x"))
    proc = sandbox.run(
        ["-m", "flowproject.cli", "deploy", "--teardown", "--branch", "feat_x", "--json", "flows/hello.flow.py"],
        cwd=repo,
        env=teardown_env(sandbox, kube, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["flow"] for r in json.loads(proc.stdout)] == ["HelloFlow"]
    assert kube.names() == ["demo.test.featx.onlyonbranchflow"]


def test_teardown_dry_run_says_it_will_also_clear_the_cluster(sandbox, tmp_path):
    repo = git_project(tmp_path / "repo", "main", flows={"hello.flow.py": two_step_flow("HelloFlow")})
    summary = tmp_path / "summary.md"
    proc = sandbox.run_ok(
        [
            "-m",
            "flowproject.cli",
            "deploy",
            "--dry-run",
            "--teardown",
            "--branch",
            "feat_x",
            "--summary-markdown",
            str(summary),
        ],
        cwd=repo,
    )
    assert (
        proc.stdout.splitlines()[-1]
        == "# then: every other deployment of project demo in test.feat_x found on the cluster"
    )
    assert "hello.flow.py --branch feat_x argo-workflows delete" in proc.stdout
    assert "| HelloFlow | flows/hello.flow.py | test.feat_x | planned | 0.0 |  |" in summary.read_text()


def test_deploy_summary_markdown_escapes_cells():
    from flowproject.deploy.branches import decide
    from flowproject.deploy.report import Result, markdown_table

    decision = decide("feat_x", production_branches=["main"])
    text = markdown_table(
        [Result("AFlow", "flows/a.flow.py", [], "failed", 1.25, "exit 1: a | b\nc")],
        decision,
        title="flowproject deploy: demo",
    )
    assert text.splitlines()[-1] == "| AFlow | flows/a.flow.py | test.feat_x | failed | 1.2 | exit 1: a \\| b c |"
