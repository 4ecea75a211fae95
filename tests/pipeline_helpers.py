"""A standalone pipeline service process for the tests, started and stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``python -m raynb.pipeline`` on 127.0.0.1 over ``db``; ``kill()`` sends SIGKILL."""

    def __init__(self, db: Path, port: int | None = None, token: str | None = None) -> None:
        self.db, self.port, self.token = db, port or free_port(), token
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        args = [sys.executable, "-m", "raynb.pipeline", "--port", str(self.port), "--db", str(self.db),
                "--heartbeat", "0.5"]
        env = {k: v for k, v in os.environ.items() if k != "RAYNB_PIPELINE_TOKEN"}
        self.proc = subprocess.Popen([*args, *(["--token", self.token] if self.token else [])], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(600):  # up to ~60 s on a busy machine
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service did not answer at {self.url}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
