"""For the pipeline tests: a standalone service process (started and stopped by pid), the test
actions' module, and waiting on conditions and on a driver process's run ids."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# Actions live in a module of the executor's working_dir, imported the same way on Ray.
ACTIONS = '''
import os, time
from pathlib import Path
from pydantic import BaseModel
from raynb.actions import Action

class FetchParams(BaseModel):
    x: int
    counter: str

class Fetch(Action[FetchParams]):
    """Counts its runs in a file, so a test can tell it was not run again."""
    def execute(self):
        with open(self.params.counter, "a") as f:
            f.write("ran\\n")
        self.log("fetched")
        return {"a": self.params.x + 1}

class DoubleParams(BaseModel):
    a: int

class Double(Action[DoubleParams]):
    def execute(self):
        self.progress(1, 2, "half")
        print("doubling", self.params.a, flush=True)
        return {"b": self.params.a * 2}

class GateParams(BaseModel):
    gate: str

class Gate(Action[GateParams]):
    """Half way, then waits until the test creates the gate file."""
    def execute(self):
        self.progress(1, 2, "waiting at the gate")
        while not Path(self.params.gate).exists():
            time.sleep(0.05)
        return {"gated": True}

class FinishParams(BaseModel):
    b: int
    flag: str
    mult: int = 1

class Finish(Action[FinishParams]):
    """Fails while the flag file exists (with the env secret in its message)."""
    def execute(self):
        if Path(self.params.flag).exists():
            raise RuntimeError("flag is set " + os.environ.get("API_TOKEN", ""))
        return {"c": self.params.b * self.params.mult}
'''


def write_actions(folder: Path) -> Path:
    """``folder`` with the test actions' module ``pl_test_actions`` in it (a working_dir)."""
    (folder / "pl_test_actions.py").write_text(ACTIONS)
    return folder


def wait_until(condition, what: str, tries: int = 1200):
    """``condition()``'s first truthy value, checked every 0.1 s (up to ~2 minutes on a busy machine)."""
    for _ in range(tries):
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def driver_run_ids(driver: subprocess.Popen, timeout: float = 300) -> list[str]:
    """The run ids a driver process prints as ``run ids: A B ...`` (Ray also forwards its actors'
    prints to that stdout); [] if it ends or times out first."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(driver.stdout, selectors.EVENT_READ)
        while sel.select(timeout=max(0, deadline - time.monotonic())):
            line = driver.stdout.readline()
            if not line:
                break
            if line.startswith("run ids:"):
                return line.split()[2:]
    return []


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
