"""metaflow-local-service's app plus the one route its 0.2.0 lacks, run on 127.0.0.1.

Metaflow's Client reads a single artifact (``task["_success"]``, behind
``Run.successful``) with ``GET .../tasks/<id>/artifacts/<name>[/attempt/<n>]``, which
metaflow-local-service 0.2.0 does not serve (every run then looks unsuccessful). This adds
that route on top of its own store; everything else is the package's service API.

Usage: python -m flowproject.testing.metadata_server PORT METAFLOW_ROOT
"""

from __future__ import annotations

import sys
from typing import Optional


def build_app(root: str):
    from fastapi import HTTPException
    from fastapi.responses import JSONResponse
    from metaflow_local_service import server, store

    app = server.create_app(root)

    def one(flow_name: str, run_id: str, step_name: str, task_id: str, name: str, attempt: Optional[int]):
        found = [
            a for a in store.get_artifacts(flow_name, run_id, step_name, task_id, attempt) if a.get("name") == name
        ]
        if not found:
            raise HTTPException(status_code=404, detail="no artifact %s" % name)
        # Without an attempt, the latest one (as the real service answers).
        return JSONResponse(max(found, key=lambda a: int(a.get("attempt_id") or 0)))

    @app.get("/flows/{flow_name}/runs/{run_id}/steps/{step_name}/tasks/{task_id}/artifacts/{name}")
    async def get_artifact(flow_name: str, run_id: str, step_name: str, task_id: str, name: str):
        return one(flow_name, run_id, step_name, task_id, name, None)

    @app.get("/flows/{flow_name}/runs/{run_id}/steps/{step_name}/tasks/{task_id}/artifacts/{name}/attempt/{attempt}")
    async def get_artifact_attempt(flow_name: str, run_id: str, step_name: str, task_id: str, name: str, attempt: int):
        return one(flow_name, run_id, step_name, task_id, name, attempt)

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(build_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
