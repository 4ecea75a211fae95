"""The client on a cluster of several nodes: resource names as written, fresh node stats,
logs of a driver on another node, and a tail that ends when that node is gone."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import join_worker
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal

from raynb import cluster
from raynb.client import JobStatus, LogNotice, NotFoundError, RayClient


def test_custom_resource_names_are_kept_as_written(client: RayClient, worker_node) -> None:
    status = client.get_cluster_status()
    alive = [n for n in client.list_nodes() if n.alive]
    for name in ("worker_node", "CPU"):  # the dashboard sends "worker_node" as "workerNode"
        assert status.resources[name].total == sum(n.resources_total.get(name, 0) for n in alive) >= 1
    assert "workerNode" not in status.resources


def test_a_driver_on_the_worker_node_is_followed_exactly(client: RayClient, worker_node) -> None:
    job = client.submit_job(
        py_entrypoint("import time\nfor i in range(200):\n    print('n', i, flush=True)\n    time.sleep(0.01)"),
        entrypoint_resources={"worker_node": 1},
    )
    got = {p: [x for x in client.tail_job_logs(job.submission_id, protocol=p) if x.startswith("n ")]
           for p in ("http", "websocket", "auto")}
    assert client.get_job(job.submission_id).driver_node_id == worker_node.node_id
    for lines in got.values():
        assert lines == [f"n {i}" for i in range(200)]


def test_a_driver_on_the_worker_node_is_attached_at_its_last_lines(client: RayClient, worker_node) -> None:
    job = client.submit_job(
        py_entrypoint("import time\nfor i in range(400):\n    print('n', i)\nprint('n', 400, flush=True)\n"
                      "for i in range(401, 500):\n    print('n', i, flush=True)\n    time.sleep(0.02)"),
        entrypoint_resources={"worker_node": 1},
    )
    job_id = job.submission_id
    while "n 400" not in client.get_job_log_tail(job_id, 200):
        time.sleep(0.1)
    tail = client.tail_job_logs(job_id, last=50)
    lines = [x for x in tail if x.startswith("n ")]
    first = int(lines[0].split()[1])
    assert 350 <= first < 490 and lines == [f"n {i}" for i in range(first, 500)]
    assert tail.earlier(20) == [f"n {i}" for i in range(first - 20, first)]
    assert client.get_job(job_id).driver_node_id == worker_node.node_id


def test_node_stats_are_fresh_and_a_tail_ends_when_the_drivers_node_is_gone(
    client: RayClient, ray_head
) -> None:
    client.list_node_stats()  # the dashboard caches this view
    spare = join_worker(ray_head, "spare_node")
    try:
        # The first read after the cache expired used to be the old list, without the new node.
        assert spare.node_id in {s.node_id for s in client.list_node_stats()}
        job = client.submit_job(
            py_entrypoint("import time\nfor i in range(5):\n    print('before', i, flush=True)\n"
                          "time.sleep(600)"),
            entrypoint_resources={"spare_node": 1},
        )
        wait_for_status(client, job.submission_id, {JobStatus.RUNNING})
        lines: list[str] = []
        errors: list[BaseException] = []

        def follow() -> None:
            try:
                lines.extend(client.tail_job_logs(job.submission_id, protocol="http"))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        deadline = time.monotonic() + 60
        while sum(x.startswith("before") for x in lines) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(x.startswith("before") for x in lines) == 5
    finally:
        cluster.stop_local_worker(spare.worker)  # the node holding the driver and its log dies
    follower.join(180)
    assert not follower.is_alive() and not errors, errors
    assert isinstance(lines[-1], LogNotice) and "which is gone" in lines[-1] and spare.node_id[:12] in lines[-1]
    assert [x for x in lines if x.startswith("before")] == [f"before {i}" for i in range(5)]
    assert wait_terminal(client, job.submission_id, timeout=180) == JobStatus.FAILED
    with pytest.raises(NotFoundError, match="which is gone"):
        client.get_job_logs(job.submission_id)
