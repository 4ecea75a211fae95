"""The dashboard client against a real Ray head: happy paths and every error code."""

from __future__ import annotations

import asyncio
import textwrap
import time

import pytest
from ray_helpers import py_entrypoint, stop_if_running, wait_for_status, wait_terminal

from raynb.client import (
    AsyncRayClient,
    BadRequestError,
    JobStatus,
    NotFoundError,
    RayClient,
    RayClientError,
    UnavailableError,
)


def test_version_nodes_and_cluster_status(client: RayClient) -> None:
    assert client.get_version().ray_version.startswith("2.")
    nodes = client.list_nodes()
    head = next(n for n in nodes if n.is_head_node)
    assert head.state == "ALIVE" and head.resources_total["CPU"] >= 1
    assert nodes.total >= 1 and not nodes.truncated
    assert client.get_node(head.node_id).node_id == head.node_id
    status = client.get_cluster_status()
    assert status.nodes_alive >= 1
    assert status.resources["CPU"].total == sum(n.resources_total.get("CPU", 0) for n in nodes if n.alive)
    assert "Resources" in status.text
    deadline = time.monotonic() + 60
    while True:  # a fresh head reports its node's usage a few seconds after it starts
        head_stats = next((s for s in client.list_node_stats() if s.node_id == head.node_id), None)
        if (head_stats and head_stats.memory_total and head_stats.object_store_total) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert head_stats.is_head_node and head_stats.memory_total > head_stats.memory_used > 0
    assert head_stats.object_store_total > 0 and head_stats.num_cpus >= 1


def test_submit_with_working_dir_list_get_logs_delete(client: RayClient, tmp_path) -> None:
    (tmp_path / "main.py").write_text("import helper\nprint('answer', helper.VALUE)\n")
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "big").write_bytes(b"x" * 1000)
    job = client.submit_job(
        "python main.py",
        runtime_env={"working_dir": str(tmp_path)},
        metadata={"owner": "raynb-tests"},
        entrypoint_num_cpus=0.5,
    )
    assert wait_terminal(client, job.submission_id) == JobStatus.SUCCEEDED
    assert "answer 42" in client.get_job_logs(job.submission_id)
    info = client.get_job(job.submission_id)
    assert info.metadata["owner"] == "raynb-tests"
    assert info.runtime_env["working_dir"].startswith("gcs://_ray_pkg_")
    assert info.duration_s is not None and info.status.is_terminal()
    assert job.submission_id in {j.id for j in client.list_jobs()}
    assert client.delete_job(job.submission_id) is True
    with pytest.raises(NotFoundError) as err:
        client.get_job(job.submission_id)
    assert err.value.status_code == 404


def test_log_tail_and_a_delete_right_after_the_end_stays_deleted(client: RayClient) -> None:
    job = client.submit_job(py_entrypoint("for i in range(300): print('line', i)"))
    assert wait_terminal(client, job.submission_id) == JobStatus.SUCCEEDED
    whole = client.get_job_logs(job.submission_id).splitlines()
    tail = client.get_job_log_tail(job.submission_id, 5)
    assert tail == whole[-5:] and "line 299" in tail
    assert client.get_job_log_tail(client.get_job(job.submission_id), 5) == tail  # a Job just read
    # Ray's job monitor writes the status again ~1 s after the end: the delete waits for it.
    assert client.delete_job(job.submission_id) is True
    time.sleep(3)
    with pytest.raises(NotFoundError):
        client.get_job(job.submission_id)


def test_stop_a_sleeping_job(client: RayClient) -> None:
    job = client.submit_job(py_entrypoint("import time; print('up', flush=True); time.sleep(300)"))
    wait_for_status(client, job.submission_id, {JobStatus.RUNNING})
    with pytest.raises(BadRequestError, match="stop it first"):
        client.delete_job(job.submission_id)
    result = client.stop_job(job.submission_id)
    assert result and result.stopped and result["stopped"] is True
    assert result["status"] in ("RUNNING", "STOPPED") and result.job_id == job.submission_id
    assert wait_terminal(client, job.submission_id) == JobStatus.STOPPED
    # Stopping it again is the documents' 400 "already in terminal state", naming the status.
    with pytest.raises(BadRequestError, match="already in terminal state STOPPED") as err:
        client.stop_job(job.submission_id)
    assert err.value.status == 400


def test_tasks_and_actors_with_filters(client: RayClient) -> None:
    code = textwrap.dedent(
        """
        import time, ray
        ray.init()
        @ray.remote(num_cpus=0)
        class Counter:
            def ping(self): return 1
        @ray.remote(num_cpus=0)
        def square(x): return x * x
        c = Counter.options(name="raynb_test_counter").remote()
        ray.get(c.ping.remote())
        print("READY", sum(ray.get([square.remote(i) for i in range(5)])), flush=True)
        time.sleep(300)
        """
    )
    job = client.submit_job(py_entrypoint(code))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "READY 30" not in client.get_job_logs(job.submission_id):
            time.sleep(0.3)
        ray_job_id = client.get_job(job.submission_id).job_id
        actors = client.list_actors(filters={"state": "ALIVE", "job_id": ray_job_id})
        counter = next(a for a in actors if a.class_name == "Counter")
        assert counter.name == "raynb_test_counter"
        assert client.get_actor(counter.actor_id).pid == counter.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # task events reach the dashboard with a delay
            tasks = client.list_tasks(filters=[f"job_id={ray_job_id}", "name=square"], limit=10_000)
            if len(tasks) == 5:
                break
            time.sleep(0.5)
        assert len(tasks) == 5 and all(t.func_or_class_name == "square" for t in tasks)
        assert client.get_task(tasks[0].task_id).task_id == tasks[0].task_id
        one = client.list_tasks(filters=[f"job_id={ray_job_id}"], limit=1)
        assert len(one) == 1 and one.truncated
    finally:
        stop_if_running(client, job.submission_id)


def test_serve_deploy_list_get_delete(client: RayClient, tmp_path) -> None:
    pytest.importorskip("ray.serve", reason="ray[serve] is part of the test extra")
    (tmp_path / "app.py").write_text(
        "from ray import serve\n"
        "@serve.deployment(ray_actor_options={'num_cpus': 0})\n"
        "class Hello:\n"
        "    def __call__(self, request): return 'hello'\n"
        "app = Hello.bind()\n"
    )
    client.deploy_serve_applications(
        {"applications": [{"name": "raynb_hello", "route_prefix": "/hello", "import_path": "app:app",
                           "runtime_env": {"working_dir": str(tmp_path)}}]}
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            apps = client.list_serve_applications()
            if apps and apps[0].status.value in ("RUNNING", "DEPLOY_FAILED"):
                break
            time.sleep(1)
        app = client.get_serve_application("raynb_hello")
        assert app.status.value == "RUNNING", app.message
        assert app.route_prefix == "/hello" and "Hello" in app.deployments
    finally:
        client.delete_serve_application("raynb_hello")
    assert len(client.list_serve_applications()) == 0
    with pytest.raises(NotFoundError):
        client.get_serve_application("raynb_hello")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_job("../x"),
        lambda c: c.stop_job("a/b"),
        lambda c: c.delete_job(""),
        lambda c: c.get_job_logs("id with space"),
        lambda c: c.get_job_log_tail("../x"),
        lambda c: c.get_job_log_tail("raysubmit_x", lines=0),
        lambda c: c.get_node("../../etc"),
        lambda c: c.get_task("not-hex"),
        lambda c: c.list_tasks(limit=10_001),
        lambda c: c.list_actors(filters=["state~ALIVE"]),
        lambda c: c.submit_job(""),
        lambda c: c.submit_job("echo", submission_id="x/../y"),
    ],
)
def test_bad_input_is_400_and_never_reaches_the_network(call) -> None:
    # The address is a closed port: any request would fail with 503, not 400.
    with RayClient("http://127.0.0.1:9", timeout=2) as c, pytest.raises(BadRequestError) as err:
        call(c)
    assert err.value.status_code == 400
    assert "\n" not in str(err.value)


def test_a_filter_ray_refuses_is_a_400_with_rays_reason(client: RayClient) -> None:
    with pytest.raises(BadRequestError) as err:
        client.list_tasks(filters=["colour=red"])
    assert "answered 400: The given filter column colour is not supported" in str(err.value)
    assert '"result"' not in str(err.value)  # the reason, not the state API's JSON envelope


def test_unknown_ids_are_404(client: RayClient) -> None:
    for call in (client.get_job, client.stop_job, client.delete_job, client.get_job_logs):
        with pytest.raises(NotFoundError, match="does not exist"):
            call("raysubmit_doesnotexist")
    with pytest.raises(NotFoundError):
        client.get_actor("0" * 32)


def test_dashboard_down_is_503_within_timeout() -> None:
    start = time.monotonic()
    with RayClient("127.0.0.1:9", timeout=3) as c, pytest.raises(UnavailableError) as err:
        c.list_jobs()
    assert err.value.status_code == 503 and "ray start --head" in str(err.value)
    assert time.monotonic() - start < 10


async def test_timeout_is_408(dashboard_url: str) -> None:
    # Ray's own /api/v0/delay route answers after 5 s, longer than our 0.5 s timeout.
    async with AsyncRayClient(dashboard_url, timeout=0.5) as c:
        with pytest.raises(RayClientError) as err:
            await c._json("GET", "/api/v0/delay/5")
    assert err.value.status_code == 408 and isinstance(err.value, TimeoutError)


async def test_async_client_concurrent_calls(dashboard_url: str) -> None:
    async with AsyncRayClient(dashboard_url) as c:
        version, jobs, nodes = await asyncio.gather(c.get_version(), c.list_jobs(), c.list_nodes())
    assert version.ray_version and nodes.total >= 1 and jobs.total == len(jobs)


def test_sync_client_inside_a_running_loop(dashboard_url: str) -> None:
    """A Jupyter kernel already runs a loop; the sync client must still work there."""

    async def inside_loop() -> str:
        with RayClient(dashboard_url) as c:
            return c.get_version().ray_version

    assert asyncio.run(inside_loop()).startswith("2.")


def test_address_resolution(monkeypatch) -> None:
    from raynb.client import resolve_address

    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_ADDRESS", "ray://10.0.0.1:10001")
    assert resolve_address() == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "https://ray.example:8443/")
    assert resolve_address() == "https://ray.example:8443"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "head:8265")
    assert resolve_address() == "http://head:8265"
    assert resolve_address("10.1.1.1:1234") == "http://10.1.1.1:1234"
