"""Branch teardown of deployments that have no flow file any more.

``./deploy --teardown`` first runs ``argo-workflows delete`` for each flow file it finds.
On GitHub's ``delete`` event the checkout is the default branch, so a flow that only ever
existed on the deleted branch has no file there. Its WorkflowTemplate still says which
project and branch it belongs to (``metaflow/project_name``, ``metaflow/branch_name``), and
Metaflow can delete a deployment from its name alone
(``DeployedFlow.from_argo_workflows(name).delete()``): this module finds those and deletes
each one in its own process (``python -m flowproject.deploy.teardown NAME``), so a failure shows
Metaflow's own output, like a failed file-based delete.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..errors import FlowprojectError


class TeardownError(FlowprojectError):
    headline = "Teardown error"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Deployment:
    """One WorkflowTemplate on the cluster: its name and the flow it runs."""

    name: str
    flow: str


def branch_deployments(project: str, namespace: str) -> List[Deployment]:
    """The WorkflowTemplates of ``project`` in Metaflow branch ``namespace`` (``prod``,
    ``test.feat_a``, ``user.x``), in the Kubernetes namespace Metaflow deploys to.

    Reads the cluster through Metaflow's Argo client (``KUBECONFIG`` or in-cluster
    credentials). Raises TeardownError with one line when the cluster cannot be listed.
    """
    try:
        from metaflow.metaflow_config import KUBERNETES_NAMESPACE
        from metaflow.plugins.argo.argo_client import ArgoClient

        templates = list(ArgoClient(namespace=KUBERNETES_NAMESPACE).get_workflow_templates())
    except Exception as e:  # noqa: BLE001 - kubernetes/urllib3/config errors have no common base
        # Whatever the client raised (no kubeconfig, connection refused, 403), the
        # teardown reports it as one row instead of a traceback.
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TeardownError(msg="cannot list the cluster's workflow templates: %s" % first[:300]) from None
    found = []
    for template in templates:
        meta = template.get("metadata", {})
        notes = meta.get("annotations") or {}
        if notes.get("metaflow/project_name") == project and notes.get("metaflow/branch_name") == namespace:
            found.append(Deployment(meta.get("name", ""), notes.get("metaflow/flow_name", meta.get("name", ""))))
    return sorted(found, key=lambda d: d.name)


def delete_command(name: str, python: str = sys.executable) -> List[str]:
    """The command that deletes one deployment by its WorkflowTemplate name."""
    return [python, "-m", "flowproject.deploy.teardown", name]


def delete(name: str) -> bool:
    """Delete a deployment (template, cron workflow, sensor) by name; no flow file needed."""
    from metaflow.runner.deployer import DeployedFlow

    # Metaflow adds a from_<deployer> classmethod per deployer plugin at import time.
    return DeployedFlow.from_argo_workflows(name).delete()  # type: ignore[attr-defined]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m flowproject.deploy.teardown WORKFLOW_TEMPLATE_NAME", file=sys.stderr)
        return 2
    # Metaflow streams the delete command's output to stdout; the deploy summary takes
    # a failure's cause from stderr, like every other command it runs.
    with contextlib.redirect_stdout(sys.stderr):
        return 0 if delete(args[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
