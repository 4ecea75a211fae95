"""Seed 000 ("RayClientMixin", the sync/async client with auto-fallback streaming), run on the
test head: every code example in the document's order, as written but for its imports and
placeholders ('raysubmit_abc123' is a real job, 'my-app' a Serve application deployed here,
'node-abc123'/'task-xyz789' real ids), then each row of its error-code table.

Where raynb differs from the document, on purpose:
- ``protocol='auto'`` tries chunked HTTP first and falls back to the WebSocket (the document
  says WebSocket first): Ray's WebSocket tail polls the log once a second (p50 940 ms here),
  the HTTP path 20 times a second (p50 21 ms); seed 001 makes HTTP the default too.
- ``websocket_tail_job_logs`` needs no extra package: ``websockets`` is one of raynb's own
  dependencies, so the 500 "library unavailable" case cannot happen.
- A line longer than ``max_message_size`` is cut with a visible marker, not a 429: one long
  line does not end a stream.
- A healthy head cannot be made to fail internally on demand, so the 500 row is shown by a
  local server that answers as the dashboard does when a handler raises (500 + traceback).
"""

from __future__ import annotations

import contextlib
import http.server
import inspect
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal

# The document's imports, as raynb spells them (AgentClient is raynb's RayClient).
from raynb import state
from raynb.client import AsyncRayClient as AsyncAgentClient
from raynb.client import ClientError, JobStatus, RayClient, StreamLimits

# Ray echoes the entrypoint into the log, so the code itself never spells the ERROR marker.
SEED_JOB = """
import time, ray
ray.init()
@ray.remote(num_cpus=0)
def seed_task(x):
    return x * 2
print('result', ray.get(seed_task.remote(21)))
for i in range(20):
    print(f'line {i}', flush=True)
    time.sleep(0.05)
print('ERR' + 'OR: the line the custom-timeout example stops at')
print('done')
"""
TOKEN = "seed-000-agent-token"  # for servers that are not the head; no message may show it


def agent_token(dashboard_url: str) -> str:
    """The documents' agent token: the test head's own (raynb's local heads have token auth), or
    TOKEN for a reused head without auth (which ignores it)."""
    return state.head_token(dashboard_url) or TOKEN


@pytest.fixture(scope="module")
def client(dashboard_url: str) -> Iterator[RayClient]:
    with RayClient(dashboard_url, token=agent_token(dashboard_url)) as c:
        yield c


@pytest.fixture(scope="module")
def job_id(client: RayClient) -> str:
    """The document's 'raysubmit_abc123': a job that prints 23 lines and runs one task."""
    return client.submit_job(py_entrypoint(SEED_JOB)).submission_id


@pytest.fixture(scope="module")
def log_lines(client: RayClient, job_id: str) -> list[str]:
    assert wait_terminal(client, job_id) == JobStatus.SUCCEEDED
    return client.get_job_logs(job_id).splitlines()


def deploy_hello(client: RayClient, name: str, folder: Path) -> None:
    """Deploy a one-deployment Serve application ``name`` from ``folder``; wait until RUNNING."""
    (folder / "hello.py").write_text(
        "from ray import serve\n"
        "@serve.deployment(ray_actor_options={'num_cpus': 0})\n"
        "class Hello:\n"
        "    def __call__(self, request): return 'hello'\n"
        "app = Hello.bind()\n"
    )
    client.deploy_serve_applications({"applications": [
        {"name": name, "route_prefix": f"/{name}", "import_path": "hello:app",
         "runtime_env": {"working_dir": str(folder)}},
    ]})  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        apps = {a.name: a for a in client.list_serve_applications()}
        if name in apps and apps[name].status.value in ("RUNNING", "DEPLOY_FAILED"):
            break
        time.sleep(1)
    assert apps[name].status.value == "RUNNING", apps[name].message


@pytest.fixture(scope="module")
def my_app(client: RayClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    deploy_hello(client, "my-app", tmp_path_factory.mktemp("serve"))
    yield "my-app"
    client.shutdown_serve()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: a connect there hangs, as behind a
    firewall that drops packets (the real head accepts every connection at once)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    try:
        yield port
    finally:
        for s in [*fillers, listener]:
            s.close()


class _Failing(http.server.BaseHTTPRequestHandler):
    """Answers as Ray's dashboard does when a handler raises: 500 with the traceback."""

    def do_GET(self) -> None:
        body = b'Traceback (most recent call last):\n  File "job_head.py", line 1\nRuntimeError: GCS is down\n'
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def failing_dashboard() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def caught(call) -> ClientError:
    """The ClientError ``call()`` raises (a tail is iterated to the end)."""
    with pytest.raises(ClientError) as err:
        result = call()
        if hasattr(result, "__next__"):  # a tail
            list(result)
    return err.value


def assert_clean(err: ClientError, code: int, token: str = TOKEN) -> None:
    """The documented code, a one-line message, and no token anywhere in it."""
    assert err.status_code == err.status == code, str(err)
    assert "\n" not in str(err) and token not in str(err) and token not in repr(err.args)


# -- Log Streaming ------------------------------------------------------------------


def test_the_documented_signatures() -> None:
    tail = inspect.signature(RayClient.tail_job_logs).parameters
    assert list(tail)[1:3] == ["job_id", "timeout"] and tail["timeout"].default == 30.0
    assert tail["protocol"].kind is inspect.Parameter.KEYWORD_ONLY and tail["protocol"].default == "auto"
    for name in ("websocket_tail_job_logs", "stream_tail_job_logs"):
        params = inspect.signature(getattr(RayClient, name)).parameters
        assert list(params)[1:3] == ["job_id", "timeout"] and params["timeout"].default == 30.0
    assert "Iterator" in str(inspect.signature(RayClient.tail_job_logs).return_annotation)


def test_tail_job_logs(client: RayClient, job_id: str, capsys) -> None:
    raysubmit_abc123 = job_id

    # Auto protocol selection (recommended)
    for line in client.tail_job_logs(raysubmit_abc123):
        print(line)
    auto = capsys.readouterr().out.splitlines()

    # Explicit WebSocket
    for line in client.tail_job_logs(raysubmit_abc123, protocol='websocket'):
        print(line)
    websocket = capsys.readouterr().out.splitlines()

    # Explicit HTTP streaming
    for line in client.tail_job_logs(raysubmit_abc123, protocol='http'):
        print(line)
    http = capsys.readouterr().out.splitlines()

    # With custom timeout
    for line in client.tail_job_logs(raysubmit_abc123, timeout=60):
        if 'ERROR' in line:
            break

    whole = client.get_job_logs(job_id).splitlines()
    assert auto == websocket == http == whole and [f"line {i}" for i in range(20)] == [
        x for x in whole if x.startswith("line ")
    ]
    assert line.startswith("ERROR: the line")


def test_websocket_and_stream_tail_job_logs(client: RayClient, job_id: str, log_lines, capsys) -> None:
    for line in client.websocket_tail_job_logs(job_id):
        print(line)
    assert capsys.readouterr().out.splitlines() == log_lines

    for line in client.stream_tail_job_logs(job_id):
        print(line)
    assert capsys.readouterr().out.splitlines() == log_lines


async def test_async_streaming(dashboard_url: str, job_id: str, log_lines) -> None:
    base_url, agent_token_ = dashboard_url, agent_token(dashboard_url)
    printed = []
    print = printed.append  # noqa: A001 - collect what the example prints

    async with AsyncAgentClient(base_url, agent_token_) as client:
        # Auto protocol
        async for line in client.tail_job_logs(job_id):
            print(line)

        # WebSocket
        async for line in client.websocket_tail_job_logs(job_id):
            print(line)

        # HTTP
        async for line in client.stream_tail_job_logs(job_id):
            print(line)

    assert printed == log_lines * 3


def test_stream_limits(client: RayClient, job_id: str, log_lines) -> None:
    # Set custom limits
    client.stream_limits = StreamLimits(
        max_messages=10_000,     # Max WebSocket messages
        max_lines=50_000,        # Max HTTP lines
        max_bytes=50*1024*1024,  # 50MB total
        max_message_size=10_240  # 10KB per message
    )

    assert client.stream_limits == StreamLimits() and list(client.tail_job_logs(job_id)) == log_lines
    # "When limits are exceeded, ClientError with status code 429 is raised."
    client.stream_limits = StreamLimits(max_lines=5)
    delivered = []
    with pytest.raises(ClientError) as err:
        for line in client.tail_job_logs(job_id):
            delivered.append(line)
    client.stream_limits = StreamLimits()
    assert err.value.status_code == 429 and delivered == log_lines[:5]


# -- Job Operations -------------------------------------------------------------------


def test_list_jobs(client: RayClient, job_id: str, log_lines, capsys) -> None:
    jobs = client.list_jobs()
    for job in jobs:
        print(f"Job {job['job_id']}: {job['status']}")

    ray_job_id = client.get_job(job_id).job_id
    assert f"Job {ray_job_id}: SUCCEEDED" in capsys.readouterr().out.splitlines()


def test_get_job(client: RayClient, job_id: str, log_lines, capsys) -> None:
    job = client.get_job(job_id)
    print(f"Status: {job['status']}")
    print(f"Start time: {job['start_time']}")

    out = capsys.readouterr().out.splitlines()
    assert out == ["Status: SUCCEEDED", f"Start time: {job.start_time}"] and job.start_time > 0


def test_get_job_logs(client: RayClient, job_id: str, log_lines, capsys) -> None:
    logs = client.get_job_logs(job_id)
    print(logs)

    assert capsys.readouterr().out == logs + "\n" and logs.splitlines() == log_lines


def test_stop_job(client: RayClient, capsys) -> None:
    job_id = client.submit_job(py_entrypoint("import time; print('up', flush=True); time.sleep(300)")).submission_id
    wait_for_status(client, job_id, {JobStatus.RUNNING})

    result = client.stop_job(job_id)
    print(f"Stopped: {result}")

    assert result and capsys.readouterr().out.startswith(f"Stopped: {job_id}: stopping")
    assert wait_terminal(client, job_id) == JobStatus.STOPPED


# -- Node and Task Operations ------------------------------------------------------------


def test_list_nodes(client: RayClient, capsys) -> None:
    nodes = client.list_nodes()
    for node in nodes:
        print(f"Node {node['node_id']}: {node['state']}")

    head = next(n for n in client.list_nodes() if n.is_head_node)
    assert f"Node {head.node_id}: ALIVE" in capsys.readouterr().out.splitlines()


def test_get_node(client: RayClient, capsys) -> None:
    node_abc123 = next(n.node_id for n in client.list_nodes() if n.is_head_node)

    node = client.get_node(node_abc123)
    print(f"Alive: {node['alive']}")

    assert capsys.readouterr().out == "Alive: True\n"


def test_list_tasks_and_get_task(client: RayClient, job_id: str, log_lines) -> None:
    tasks = client.list_tasks()

    assert all("task_id" in t and "state" in t for t in tasks["results"])
    ray_job_id = client.get_job(job_id).job_id
    deadline = time.monotonic() + 60
    while not (seed := client.list_tasks(filters=[f"job_id={ray_job_id}", "name=seed_task"])):
        assert time.monotonic() < deadline, "the seed job's task never reached the state API"
        time.sleep(0.5)
    task_xyz789 = seed[0]["task_id"]

    task = client.get_task(task_xyz789)

    assert task["task_id"] == task_xyz789 and task["name"] == "seed_task" and task["state"] == "FINISHED"


# -- Ray Serve Operations ---------------------------------------------------------------


def test_serve_operations(client: RayClient, my_app: str, capsys) -> None:
    apps = client.list_serve_applications()
    assert my_app in {a["name"] for a in apps}

    app = client.get_serve_application('my-app')
    print(f"Status: {app['status']}")
    assert capsys.readouterr().out == "Status: RUNNING\n" and app["route_prefix"] == "/my-app"

    client.delete_serve_application('my-app')
    assert my_app not in {a["name"] for a in client.list_serve_applications()}
    assert caught(lambda: client.get_serve_application(my_app)).status_code == 404


# -- Error Handling ------------------------------------------------------------------


def handle(client: RayClient, job_id: str) -> list[str]:
    """The document's error-handling example, for ``job_id``; returns what it printed."""
    printed = []
    print = printed.append  # noqa: A001

    try:
        for line in client.tail_job_logs(job_id):
            print(line)
    except ClientError as e:
        if e.status_code == 400:
            print("Invalid job ID format")
        elif e.status_code == 429:
            print("Stream limits exceeded")
        elif e.status_code == 500:
            print("WebSocket library not installed")
        elif e.status_code == 503:
            print("Connection failed")
    return printed


def test_error_handling_example(client: RayClient, dashboard_url: str, job_id: str, log_lines) -> None:
    # As written: 'invalid-job' is a well-formed id that names no job: 404, which the
    # example does not single out.
    assert handle(client, 'invalid-job') == []
    assert handle(client, '../invalid job') == ["Invalid job ID format"]
    with RayClient(dashboard_url, stream_limits=StreamLimits(max_lines=2)) as limited:
        assert handle(limited, job_id) == [*log_lines[:2], "Stream limits exceeded"]
    with RayClient("http://127.0.0.1:9", timeout=2) as down:  # nothing listens there
        assert handle(down, job_id) == ["Connection failed"]


def test_error_code_400_invalid_job_id_timeout_or_protocol(client: RayClient, job_id: str, dashboard_url: str) -> None:
    token = agent_token(dashboard_url)  # the client's own
    for call in (
        lambda: client.tail_job_logs("../etc/passwd"),
        lambda: client.tail_job_logs(job_id, timeout=0),
        lambda: client.tail_job_logs(job_id, timeout="30"),
        lambda: client.tail_job_logs(job_id, protocol="ftp"),
        lambda: client.get_job(f"{token}/x"),  # an echoed id never shows a token either
    ):
        assert_clean(caught(call), 400, token)


def test_error_code_404_resource_not_found(client: RayClient, dashboard_url: str) -> None:
    token = agent_token(dashboard_url)  # the client's own
    for call in (
        lambda: client.tail_job_logs("raysubmit_doesnotexist"),
        lambda: client.get_job(token),
        lambda: client.get_node("f" * 56),
        lambda: client.get_task("0" * 48),
        lambda: client.get_serve_application("no-such-app"),
    ):
        assert_clean(caught(call), 404, token)


def test_error_code_408_connection_timeout(dashboard_url: str) -> None:
    with silent_port() as port, RayClient(f"http://127.0.0.1:{port}", timeout=1, token=TOKEN) as c:
        assert_clean(caught(c.list_jobs), 408)
    # No dashboard answers within a microsecond: the real head's answer comes too late.
    with RayClient(dashboard_url, timeout={"connect": 5, "read": 1e-6}, token=agent_token(dashboard_url)) as c:
        assert_clean(caught(c.get_cluster_status), 408)


def test_error_code_429_stream_limits_exceeded(client: RayClient, job_id: str, log_lines) -> None:
    for limits in (StreamLimits(max_lines=3), StreamLimits(max_bytes=40), StreamLimits(max_messages=1)):
        delivered = []
        with pytest.raises(ClientError) as err:
            for line in client.tail_job_logs(job_id, protocol="websocket", stream_limits=limits):
                delivered.append(line)
        assert_clean(err.value, 429)
        assert delivered == log_lines[: len(delivered)]


def test_error_code_500_internal_error() -> None:
    with failing_dashboard() as url, RayClient(url, token=TOKEN) as c:
        err = caught(c.list_jobs)
    assert_clean(err, 500)
    assert str(err) == "[500] GET /api/jobs/ answered 500: GCS is down"


def test_error_code_503_connection_failed_or_closed(dashboard_url: str, job_id: str, log_lines) -> None:
    with RayClient("http://127.0.0.1:9", timeout=2, token=TOKEN) as c:
        assert_clean(caught(c.list_jobs), 503)
    host, port = dashboard_url.split("//")[1].split(":")
    with FaultProxy(host, int(port)) as proxy, RayClient(proxy.url, token=agent_token(dashboard_url)) as c:
        proxy.refuse(b"/api/jobs/")  # the head's connection is closed under the request
        assert_clean(caught(c.list_jobs), 503)


# -- Best Practices --------------------------------------------------------------------


def test_protocol_selection(client: RayClient, job_id: str, log_lines) -> None:
    processed, displayed, logged = [], [], []
    process, display_realtime, log = processed.append, displayed.append, logged.append

    # Let auto handle fallback (recommended for production)
    for line in client.tail_job_logs(job_id, protocol='auto'):
        process(line)

    # Use WebSocket for interactive monitoring
    for line in client.tail_job_logs(job_id, protocol='websocket'):
        display_realtime(line)

    # Use HTTP for compatibility with proxies/firewalls
    for line in client.tail_job_logs(job_id, protocol='http'):
        log(line)

    assert processed == displayed == logged == log_lines


def robust_streaming(client, job_id, max_retries=3):
    for attempt in range(max_retries):
        try:
            for line in client.tail_job_logs(job_id):
                yield line
            break
        except ClientError as e:
            if e.status_code == 503 and attempt < max_retries - 1:
                time.sleep(2 ** attempt)  # Exponential backoff
                continue
            raise


def test_error_recovery(client: RayClient, dashboard_url: str, job_id: str, log_lines) -> None:
    assert list(robust_streaming(client, job_id)) == log_lines
    host, port = dashboard_url.split("//")[1].split(":")
    with FaultProxy(host, int(port)) as proxy, RayClient(proxy.url, token=agent_token(dashboard_url)) as flaky:
        proxy.refuse(f"/api/jobs/{job_id} ".encode())  # the first attempt fails with a 503
        assert list(robust_streaming(flaky, job_id)) == log_lines
        assert proxy.requests.count(f"GET /api/jobs/{job_id} HTTP/1.1") >= 2


def test_stream_limit_configuration(client: RayClient, job_id: str, log_lines) -> None:
    # High-volume production logs
    client.stream_limits = StreamLimits(
        max_messages=50_000,
        max_lines=100_000,
        max_bytes=200 * 1024 * 1024  # 200MB
    )
    assert list(client.tail_job_logs(job_id)) == log_lines

    # Limited development environment
    client.stream_limits = StreamLimits(
        max_messages=1_000,
        max_lines=5_000,
        max_bytes=10 * 1024 * 1024  # 10MB
    )
    assert list(client.tail_job_logs(job_id)) == log_lines
    assert client.stream_limits.max_lines == 5_000 and client.stream_limits.max_message_size == 10_240
    client.stream_limits = StreamLimits()
