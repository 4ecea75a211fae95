"""Shared fixtures: one real local Ray head for the whole session.

Set RAYNB_TEST_DASHBOARD=http://127.0.0.1:8265 (and optionally RAYNB_TEST_RAY_CLIENT=
ray://127.0.0.1:10001) to reuse a running head instead of starting one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

sys.path.insert(0, str(Path(__file__).parent))

from raynb.client import RayClient  # noqa: E402


@dataclass(frozen=True)
class TestHead:
    dashboard_url: str
    client_address: str | None


@pytest.fixture(scope="session", autouse=True)
def private_pipeline_db(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Embedded pipeline services (in this process, notebooks' kernels, JupyterLab's kernels)
    keep their database here, not in the user's data folder."""
    os.environ.setdefault("RAYNB_PIPELINE_DB", str(tmp_path_factory.mktemp("pipelines") / "pipelines.db"))


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


@pytest.fixture(scope="module")
def connected(dashboard_url: str) -> None:
    """This test process drives the test head; 'auto' finds it from RAY_API_SERVER_ADDRESS."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
    mp.delenv("RAY_ADDRESS", raising=False)
    from raynb.executors.connect import connect

    connect("auto")
    yield
    mp.undo()


@pytest.fixture
def client(dashboard_url: str):
    with RayClient(dashboard_url) as c:
        yield c


@pytest.fixture(scope="module")
def shell(dashboard_url: str):
    """A real IPython shell with raynb loaded and connected to the test head."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "raynb")
    with capture_output():
        ip.run_line_magic("ray_connect", dashboard_url)
    yield ip
    ip.run_line_magic("ray_disconnect", "")
