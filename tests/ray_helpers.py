"""Helpers for tests that run jobs on the test Ray head."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import time

from raynb import state
from raynb.client import BadRequestError, JobStatus, RayClient


def py_entrypoint(code: str) -> str:
    """A job entrypoint running ``code`` with unbuffered output."""
    return f"{shlex.quote(sys.executable)} -u -c {shlex.quote(code)}"


def wait_for_status(client: RayClient, job_id: str, statuses, timeout: float = 120.0) -> JobStatus:
    """Poll until the job reaches one of ``statuses`` (a set of JobStatus)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get_job_status(job_id)
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status} after {timeout}s")


def wait_terminal(client: RayClient, job_id: str, timeout: float = 120.0) -> JobStatus:
    return wait_for_status(client, job_id, {s for s in JobStatus if s.is_terminal()}, timeout)


SPAWN_FAILURES = ("Starting Ray client server failed", "psutil.ZombieProcess")


def user_driver_env(address: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a script that calls ``ray.init(address)`` itself: on a local head raynb
    started, it names the head's token file, as its user would (raynb's own paths need nothing)."""
    env = dict(os.environ if env is None else env)
    if state.is_local_head(address):
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(state.token_file()))
    return env


def run_driver(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a driver process (``python args...``), up to twice more if Ray's client proxy failed to
    spawn its per-client server (a known, intermittent failure of Ray Client itself)."""
    for _ in range(3):
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False, **kwargs)
        if done.returncode == 0 or not any(failure in done.stderr for failure in SPAWN_FAILURES):
            break
    return done


def stop_if_running(client: RayClient, job_id: str) -> None:
    """Clean-up: stop the job unless it already ended (stopping an ended job is a 400)."""
    if not client.get_job_status(job_id).is_terminal():
        with contextlib.suppress(BadRequestError):  # it ended meanwhile
            client.stop_job(job_id)
