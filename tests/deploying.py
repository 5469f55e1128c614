"""Helpers for tests in several folders that deploy or use git: one definition each."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# What a cluster's Metaflow config gives for Argo Events, so --only-json renders triggers.
ARGO_EVENTS_ENV = {
    "METAFLOW_ARGO_EVENTS_EVENT": "metaflow-event",
    "METAFLOW_ARGO_EVENTS_EVENT_SOURCE": "metaflow-webhook",
    "METAFLOW_ARGO_EVENTS_SERVICE_ACCOUNT": "operate-workflow-sa",
    "METAFLOW_ARGO_EVENTS_WEBHOOK_URL": "http://127.0.0.1:9/webhook",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def tool(name: str) -> str:
    # Installed by the dev extra next to this interpreter; PATH is the fallback.
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip("%s is not installed (pip install -e '.[dev]')" % name)
    return found
