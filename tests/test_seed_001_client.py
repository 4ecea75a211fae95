"""Seed 001 ("RayClient", the mixin built on BaseClient; 002 is its Korean copy with the same
code) run on the test head: every code example in the document's order, as written but for
its imports and placeholders ('job-12345' is a real job of the state the example needs,
'app-123' a Serve application deployed here, 'node-abc123'/'task-xyz789' real ids), then its
common error codes, default stream limits and best practices.

Where raynb differs from the document, on purpose:
- ``tail_job_logs`` defaults to ``protocol='auto'`` (chunked HTTP, falling back to the
  WebSocket) and ``timeout=30``, as seed 000 writes its signature; 'stream' is still taken
  and means HTTP, ``stream_timeout=`` is still taken.
- A tail, like the document's own generators, checks its arguments and connects when it
  is first iterated: the "Protocol Selection" example's ``except`` catches nothing at the
  call itself, and its fallback is for failures met while iterating.
- Cleanup happens when the client is collected (``weakref.finalize``, as ``__del__`` in the
  document) or at once with ``close()``/``with``; no thread pool is kept: the client runs
  one event-loop thread, and ``queue_size`` bounds nothing since no queue is kept.
- The 500 row: see seed 000's module (a local server answering as a failing dashboard).

002's code blocks are 001's with the printed words in Korean; the same run covers them.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from faultproxy import FaultProxy
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal
from test_seed_000_client import TOKEN, agent_token, assert_clean, caught, deploy_hello, failing_dashboard, silent_port

# The document's imports, as raynb spells them.
from raynb.client import BaseClient, ClientError, JobStatus, RayClientMixin, StreamLimits

# Ray echoes the entrypoint into the log, so the code spells no marker the examples look for.
SEED_JOB = """
import time
for i in range(20):
    print(f'line {i}', flush=True)
    time.sleep(0.05)
print('ERR' + 'OR: the line the custom-timeout example stops at')
print('COMP' + 'LETED')
"""
FAILING_JOB = "import sys\nprint('step 1')\nprint('FAI' + 'LED: step 2 found no data')\nsys.exit(1)"
SLEEPER = "import time; print('up', flush=True); time.sleep(300)"


class RayClient(RayClientMixin, BaseClient):
    pass


@pytest.fixture(scope="module")
def client(dashboard_url: str) -> Iterator[RayClient]:
    client = RayClient(base_url=dashboard_url, token=agent_token(dashboard_url))
    yield client
    client.close()


@pytest.fixture(scope="module")
def job_id(client: RayClient) -> str:
    """A finished job whose log has an ERROR and a COMPLETED line."""
    job_id = client.submit_job(py_entrypoint(SEED_JOB)).submission_id
    assert wait_terminal(client, job_id) == JobStatus.SUCCEEDED
    return job_id


@pytest.fixture(scope="module")
def log_lines(client: RayClient, job_id: str) -> list[str]:
    return client.get_job_logs(job_id).splitlines()


def running_job(client: RayClient) -> str:
    job_id = client.submit_job(py_entrypoint(SLEEPER)).submission_id
    wait_for_status(client, job_id, {JobStatus.RUNNING})
    return job_id


@pytest.fixture(scope="module")
def app_123(client: RayClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    deploy_hello(client, "app-123", tmp_path_factory.mktemp("serve"))
    yield "app-123"
    client.shutdown_serve()


def test_constructor(dashboard_url: str) -> None:
    # RayClientMixin is typically used as a mixin
    class RayClient(RayClientMixin):
        def __init__(self, base_url: str, timeout: dict = None):
            super().__init__(base_url, timeout)

    for timeout in (None, {"connect": 5, "read": 30}):
        with RayClient(dashboard_url, timeout) as c:
            assert c.base_url == dashboard_url and c.timeout == 30 and c.list_jobs()["total"] >= 0


def test_usage(dashboard_url: str, capsys) -> None:
    with RayClient(dashboard_url) as setup:
        job_12345 = running_job(setup)

    client = RayClient(base_url=dashboard_url)

    # List all jobs
    jobs = client.list_jobs()

    # Get specific job details
    job = client.get_job(job_12345)

    # Stop a running job if needed
    if job['status'] == 'RUNNING':
        result = client.stop_job(job_12345)
        print(f"Job stop initiated: {result['status']}")

    # Stream logs in real-time
    for log_line in client.tail_job_logs(job_12345):
        print(log_line.strip())

    out = capsys.readouterr().out.splitlines()
    assert job_12345 in {j["submission_id"] for j in jobs}
    assert out[0] in ("Job stop initiated: RUNNING", "Job stop initiated: STOPPED") and "up" in out
    assert client.get_job(job_12345)["status"] == "STOPPED"
    client.close()


def test_get_job(client: RayClient, job_id: str, capsys) -> None:
    job = client.get_job(job_id)
    print(f"Job status: {job['status']}")

    assert capsys.readouterr().out == "Job status: SUCCEEDED\n"


def test_list_jobs(client: RayClient, job_id: str, capsys) -> None:
    jobs = client.list_jobs()
    for job in jobs['results']:
        print(f"Job {job['id']}: {job['status']}")

    assert f"Job {job_id}: SUCCEEDED" in capsys.readouterr().out.splitlines()


def test_list_job_logs(client: RayClient, job_id: str, log_lines) -> None:
    logs = client.list_job_logs(job_id)

    assert logs == log_lines and "line 19" in logs


def test_stop_job(client: RayClient, capsys) -> None:
    job_12345 = running_job(client)

    # Stop a running job
    result = client.stop_job(job_12345)
    print(f"Stop status: {result['status']}")

    assert capsys.readouterr().out in ("Stop status: RUNNING\n", "Stop status: STOPPED\n")
    assert wait_terminal(client, job_12345) == JobStatus.STOPPED

    # Handle stop errors
    try:
        client.stop_job(job_12345)
    except ClientError as e:
        print(f"Stop failed: {e}")

    assert capsys.readouterr().out.startswith(f"Stop failed: [400] job {job_12345} is already in terminal state")


def test_tail_job_logs(client: RayClient, job_id: str, log_lines, capsys) -> None:
    # HTTP streaming (default, more compatible)
    for log_line in client.tail_job_logs(job_id, protocol='stream'):
        print(log_line.strip())
    http = capsys.readouterr().out.splitlines()

    # WebSocket streaming (lower latency)
    for log_line in client.tail_job_logs(job_id, protocol='websocket'):
        print(log_line.strip())
    websocket = capsys.readouterr().out.splitlines()

    # With custom timeout
    for log_line in client.tail_job_logs(job_id, stream_timeout=30):
        if 'ERROR' in log_line:
            break

    assert http == websocket == [x.strip() for x in log_lines]
    assert log_line.startswith("ERROR: the line")


def test_websocket_tail_job_logs(client: RayClient, job_id: str, log_lines, capsys) -> None:
    try:
        for log_line in client.websocket_tail_job_logs(job_id):
            print(log_line.strip())
            if 'COMPLETED' in log_line:
                break
    except ClientError as e:
        print(f"WebSocket streaming failed: {e}")

    printed = capsys.readouterr().out.splitlines()
    assert printed == [x.strip() for x in log_lines[: log_lines.index("COMPLETED") + 1]]


def test_stream_tail_job_logs(client: RayClient, capsys) -> None:
    job_12345 = client.submit_job(py_entrypoint(FAILING_JOB)).submission_id

    for log_line in client.stream_tail_job_logs(job_12345, stream_timeout=60):
        if 'FAILED' in log_line:
            print(f"Job failed: {log_line}")
            break

    assert capsys.readouterr().out == "Job failed: FAILED: step 2 found no data\n"
    assert wait_terminal(client, job_12345) == JobStatus.FAILED


def test_node_operations(client: RayClient, capsys) -> None:
    node_abc123 = next(n.node_id for n in client.list_nodes() if n.is_head_node)

    node = client.get_node(node_abc123)
    print(f"Node status: {node['alive']}")

    nodes = client.list_nodes()
    for node in nodes['results']:
        print(f"Node {node['node_id']}: {node['state']}")

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Node status: True" and f"Node {node_abc123}: ALIVE" in out


def test_task_operations(client: RayClient) -> None:
    code = "import ray\nray.init()\n@ray.remote(num_cpus=0)\ndef seed_task(): return 1\nray.get(seed_task.remote())"
    submitted = client.submit_job(py_entrypoint(code)).submission_id
    assert wait_terminal(client, submitted) == JobStatus.SUCCEEDED
    ray_job_id = client.get_job(submitted)["job_id"]
    deadline = time.monotonic() + 60
    while not (seed := client.list_tasks(filters=[f"job_id={ray_job_id}", "name=seed_task"])):
        assert time.monotonic() < deadline, "the job's task never reached the state API"
        time.sleep(0.5)
    task_xyz789 = seed[0]["task_id"]

    task = client.get_task(task_xyz789)

    tasks = client.list_tasks()

    assert task["task_id"] == task_xyz789 and task["state"] == "FINISHED"
    assert all("task_id" in t for t in tasks["results"]) and tasks["total"] >= len(tasks)


def test_serve_operations(client: RayClient, app_123: str, capsys) -> None:
    app = client.get_serve_application('app-123')
    print(f"Application status: {app['status']}")

    apps = client.list_serve_applications()

    client.delete_serve_application('app-123')

    assert capsys.readouterr().out == "Application status: RUNNING\n" and app_123 in {a["name"] for a in apps}
    assert app_123 not in {a["name"] for a in client.list_serve_applications()}


# -- Error Handling ------------------------------------------------------------------


def handle(client: RayClient, job_id: str) -> list[str]:
    """The document's error-handling example, for ``job_id``; returns what it printed."""
    printed = []
    print = printed.append  # noqa: A001

    try:
        for log_line in client.tail_job_logs(job_id):
            print(log_line)
    except ClientError as e:
        if e.status == 400:
            print("Invalid job ID or parameters")
        elif e.status == 404:
            print("Job not found")
        elif e.status == 503:
            print("Connection to Ray cluster failed")
        else:
            print(f"Unexpected error: {e}")
    return printed


def test_error_handling(client: RayClient, dashboard_url: str, job_id: str, log_lines) -> None:
    assert handle(client, 'invalid-job') == ["Job not found"]
    assert handle(client, 'invalid job') == ["Invalid job ID or parameters"]
    with RayClient("http://127.0.0.1:9", timeout=2) as down:
        assert handle(down, job_id) == ["Connection to Ray cluster failed"]
    with RayClient(dashboard_url, stream_limits=StreamLimits(max_lines=1)) as limited:
        printed = handle(limited, job_id)
    assert printed[0] == log_lines[0] and printed[1].startswith("Unexpected error: [429] log stream stopped")


def test_common_error_codes(client: RayClient, dashboard_url: str, job_id: str) -> None:
    finished = job_id
    rows = {
        400: [lambda: client.tail_job_logs("job/12345"), lambda: client.tail_job_logs(job_id, stream_timeout=-1),
              lambda: client.tail_job_logs(job_id, protocol="grpc"), lambda: client.stop_job(finished)],
        404: [lambda: client.get_job("job-12345"), lambda: client.get_node("a" * 56),
              lambda: client.get_task("b" * 48), lambda: client.get_serve_application("app-124")],
        429: [lambda: client.tail_job_logs(job_id, stream_limits=StreamLimits(max_bytes=10))],
    }  # fmt: skip
    for code, calls in rows.items():
        for call in calls:
            assert_clean(caught(call), code)
    with silent_port() as port, RayClient(f"http://127.0.0.1:{port}", timeout=1, token=TOKEN) as c:
        assert_clean(caught(c.list_nodes), 408)  # connection timeout
    with RayClient(dashboard_url, timeout={"connect": 5, "read": 1e-6}, token=agent_token(dashboard_url)) as c:
        assert_clean(caught(c.list_jobs), 408)  # read timeout: no dashboard answers in a microsecond
    with failing_dashboard() as url, RayClient(url, token=TOKEN) as c:
        assert_clean(caught(c.list_jobs), 500)
    with RayClient("http://127.0.0.1:9", timeout=2, token=TOKEN) as c:
        assert_clean(caught(c.list_jobs), 503)


def test_default_stream_limits(client: RayClient) -> None:
    limits = client.stream_limits
    assert (limits.max_messages, limits.max_lines, limits.max_bytes, limits.max_message_size, limits.queue_size) == (
        10_000, 50_000, 50 * 1024 * 1024, 10 * 1024, 1_000,
    )  # fmt: skip


# -- Best Practices --------------------------------------------------------------------


def test_protocol_selection(client: RayClient, job_id: str, log_lines) -> None:
    # Use WebSocket for lowest latency when available
    try:
        logs = client.tail_job_logs(job_id, protocol='websocket')
    except ClientError:
        # Fallback to HTTP streaming
        logs = client.tail_job_logs(job_id, protocol='stream')

    assert list(logs) == log_lines


def test_timeout_management(client: RayClient, job_id: str, log_lines) -> None:
    processed = []
    process_log_line = processed.append

    # Use appropriate timeouts for long-running jobs
    for log_line in client.tail_job_logs(job_id, stream_timeout=300):
        process_log_line(log_line)

    assert processed == log_lines


def robust_log_streaming(client, job_id, max_retries=3):
    for attempt in range(max_retries):
        try:
            for log_line in client.tail_job_logs(job_id):
                yield log_line
            break
        except ClientError as e:
            if e.status == 503 and attempt < max_retries - 1:
                time.sleep(2 ** attempt)  # Exponential backoff
                continue
            raise


def test_error_recovery(client: RayClient, dashboard_url: str, job_id: str, log_lines) -> None:
    assert list(robust_log_streaming(client, job_id)) == log_lines
    host, port = dashboard_url.split("//")[1].split(":")
    with FaultProxy(host, int(port)) as proxy, RayClient(proxy.url, token=agent_token(dashboard_url)) as flaky:
        proxy.refuse(f"/api/jobs/{job_id} ".encode(), times=2)  # two attempts fail with a 503
        assert list(robust_log_streaming(flaky, job_id)) == log_lines
    with RayClient("http://127.0.0.1:9", timeout=2) as down, pytest.raises(ClientError) as err:
        list(robust_log_streaming(down, job_id))  # the third 503 is raised
    assert err.value.status == 503


def test_resource_cleanup(dashboard_url: str, job_id: str, log_lines, capsys) -> None:
    def loop_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "raynb-client-loop"}

    before = loop_threads()

    # Context manager for proper cleanup
    class RayClientContext:
        def __init__(self, base_url):
            self.client = RayClient(base_url)

        def __enter__(self):
            return self.client

        def __exit__(self, exc_type, exc_val, exc_tb):
            # Cleanup handled automatically by RayClient.__del__()
            pass

    with RayClientContext(dashboard_url) as client:
        for log_line in client.tail_job_logs(job_id):
            print(log_line.strip())

    assert capsys.readouterr().out.splitlines() == [x.strip() for x in log_lines]
    ours = loop_threads() - before
    assert len(ours) == 1
    del client
    gc.collect()
    assert not any(t.is_alive() for t in ours)  # the client's thread and connections are gone


def test_thread_safety(client: RayClient, job_id: str, log_lines) -> None:
    """"RayClient is designed for concurrent use": one client, calls and tails from 5 threads."""
    calls = [lambda: client.get_job(job_id)["status"], lambda: list(client.tail_job_logs(job_id))] * 5
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda call: call(), calls))
    assert results == ["SUCCEEDED", log_lines] * 5
