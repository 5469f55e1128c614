"""A real `flowproject events serve` process for tests that post events to it and read its lines."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


class Server:
    """`flowproject events serve --port 0` as a real process; its stdout lines in a queue."""

    def __init__(self, sandbox, project, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flowproject.cli", "events", "serve", "--port", "0", *extra],
            cwd=str(project),
            env=sandbox.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()
        line = self.wait_for(r"^serving (http://\S+)")
        self.url = re.search(r"(http://\S+)", line).group(1)

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None or not self.lines.empty(), "server exited:\n%s" % "\n".join(self.seen)
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError("no line matching %r in:\n%s" % (pattern, "\n".join(self.seen)))

    def post(self, body, method="POST"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url,
            data=data if method == "POST" else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out = self.proc.wait(timeout=180)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return out
