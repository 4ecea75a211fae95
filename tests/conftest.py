"""Shared fixtures: one real local Ray head for the whole session.

Set RAYNB_TEST_DASHBOARD=http://127.0.0.1:8265 (and optionally RAYNB_TEST_RAY_CLIENT=
ray://127.0.0.1:10001) to reuse a running head instead of starting one.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from raynb.client import JobStatus, RayClient  # noqa: E402


@dataclass(frozen=True)
class TestHead:
    dashboard_url: str
    client_address: str | None


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory):
    url = os.environ.get("RAYNB_TEST_DASHBOARD")
    if url:
        yield TestHead(url, os.environ.get("RAYNB_TEST_RAY_CLIENT"))
        return
    from raynb import cluster

    os.environ["RAYNB_STATE_DIR"] = str(tmp_path_factory.mktemp("raynb-state"))
    head = cluster.start_local_head(num_cpus=4, object_store_memory=200 * 1024**2)
    try:
        yield TestHead(head.dashboard_url, head.client_address)
    finally:
        cluster.stop_local_head(head)


@pytest.fixture(scope="session")
def dashboard_url(ray_head: TestHead) -> str:
    return ray_head.dashboard_url


@pytest.fixture
def client(dashboard_url: str):
    with RayClient(dashboard_url) as c:
        yield c


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
