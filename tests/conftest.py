"""Shared fixtures: one real local Ray head for the whole session.

Set RAYNB_TEST_DASHBOARD=http://127.0.0.1:8265 (and optionally RAYNB_TEST_RAY_CLIENT=
ray://127.0.0.1:10001, RAYNB_TEST_GCS=127.0.0.1:6379) to reuse a running head instead of
starting one. ``worker_node`` adds a second node to the head, once per session.
"""

from __future__ import annotations

import os
import sys
import time
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
    gcs_address: str | None = None


@dataclass(frozen=True)
class TestWorker:
    node_id: str
    resource: str  # a custom resource only this node has: resources={name: 1} places work there
    worker: object  # the raynb.cluster.LocalWorker


@pytest.fixture(scope="session", autouse=True)
def private_pipeline_db(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Embedded pipeline services (in this process, notebooks' kernels, JupyterLab's kernels)
    keep their database here, not in the user's data folder."""
    os.environ.setdefault("RAYNB_PIPELINE_DB", str(tmp_path_factory.mktemp("pipelines") / "pipelines.db"))


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory):
    url = os.environ.get("RAYNB_TEST_DASHBOARD")
    if url:
        yield TestHead(url, os.environ.get("RAYNB_TEST_RAY_CLIENT"), os.environ.get("RAYNB_TEST_GCS"))
        return
    from raynb import cluster

    os.environ["RAYNB_STATE_DIR"] = str(tmp_path_factory.mktemp("raynb-state"))
    head = cluster.start_local_head(num_cpus=4, object_store_memory=200 * 1024**2)
    try:
        yield TestHead(head.dashboard_url, head.client_address, head.gcs_address)
    finally:
        cluster.stop_local_head(head)


def private_state_dir(monkeypatch: pytest.MonkeyPatch, path: Path) -> Path:
    """Point RAYNB_STATE_DIR at a fresh ``path`` that still knows the local heads this user
    started and their token (linked in), as the same user's other state folder would."""
    from raynb import state

    links = [state.token_file(), state.state_dir() / "local_heads.json"]
    path.mkdir(parents=True, exist_ok=True)
    for link in links:
        if link.exists():
            (path / link.name).symlink_to(link)
    monkeypatch.setenv("RAYNB_STATE_DIR", str(path))
    return path


def join_worker(head: TestHead, resource: str, num_cpus: int = 1, **options) -> TestWorker:
    """Start a worker node on this machine joined to ``head``; return once Ray lists it ALIVE
    with ``resource`` in the cluster's totals. ``options`` go to ``cluster.start_local_worker``."""
    from raynb import cluster

    if not head.gcs_address:
        pytest.fail("a worker node needs the head's GCS address: set RAYNB_TEST_GCS")
    with RayClient(head.dashboard_url) as client:
        before = {n.node_id for n in client.list_nodes(limit=1000)}
        worker = cluster.start_local_worker(head.gcs_address, num_cpus=num_cpus, resources={resource: 1}, **options)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            alive = [n for n in client.list_nodes(limit=1000) if n.alive]
            nodes = [n for n in alive if n.node_id not in before and (n.resources_total or {}).get(resource)]
            usage = client.get_cluster_status().resources  # the autoscaler's view lags a little
            if nodes and usage.get("CPU") and usage["CPU"].total == sum(n.resources_total["CPU"] for n in alive):
                return TestWorker(nodes[0].node_id, resource, worker)
            time.sleep(0.5)
    cluster.stop_local_worker(worker)
    pytest.fail(f"the worker node with {resource} did not join within 120 s")


@pytest.fixture(scope="session")
def worker_node(ray_head: TestHead):
    """A second node (1 CPU, custom resource ``worker_node``) for the whole session."""
    from raynb import cluster

    node = join_worker(ray_head, "worker_node")
    yield node
    cluster.stop_local_worker(node.worker)


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
