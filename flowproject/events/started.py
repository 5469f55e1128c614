"""A run ``events serve`` started: its process, log and (once announced) run id."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# How long to wait for a started run to announce its id before reporting it without one.
RUN_ID_WAIT_SECONDS = 120

# "2026-01-01 10:00:00.000 [123/start/1 (pid 42)] " before each line of a task's output.
_TASK_PREFIX = re.compile(r"^\S+ \S+ \[[^\]]+\] ?")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


@dataclass
class StartedRun:
    flow: str
    branch: str
    process: subprocess.Popen
    log: Path
    run_id_file: Path
    run_id: Optional[str] = None

    @property
    def pathspec(self) -> str:
        return "%s/%s" % (self.flow, self.run_id or "?")

    def wait_for_id(self, timeout: float = RUN_ID_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_id_file.is_file() and self.run_id_file.read_text().strip():
                self.run_id = self.run_id_file.read_text().strip()
                return
            if self.process.poll() is not None and not self.run_id_file.is_file():
                return
            time.sleep(0.05)

    def failure_line(self) -> str:
        """The exception a task raised (Metaflow's own last line only says a step failed)."""
        lines = [_TASK_PREFIX.sub("", line).strip() for line in self.log.read_text(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        return (raised or lines or ["no output"])[-1]
