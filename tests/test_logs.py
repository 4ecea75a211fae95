"""Live job logs against a real Ray head: every line exactly once, in order, on every path."""

from __future__ import annotations

import contextlib
import textwrap
import time

import httpx
import pytest
from faultproxy import FaultProxy
from ray_helpers import py_entrypoint, wait_terminal

from raynb.client import (
    AsyncRayClient,
    BadRequestError,
    JobStatus,
    NotFoundError,
    RayClient,
    StreamLimitError,
    StreamLimits,
    UnavailableError,
    resolve_token,
)

N_LINES = 300


def numbered_job(client: RayClient, n: int = N_LINES, delay: float = 0.01) -> str:
    code = f"import time\nfor i in range({n}):\n    print(f'line-{{i:05d}}', flush=True)\n    time.sleep({delay})\n"
    return client.submit_job(py_entrypoint(code)).submission_id


def numbered(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.startswith("line-")]


EXPECTED = [f"line-{i:05d}" for i in range(N_LINES)]


@pytest.mark.parametrize("protocol", ["auto", "http", "websocket"])
def test_tail_delivers_every_line_once_and_ends_with_the_job(client: RayClient, protocol: str) -> None:
    job_id = numbered_job(client)
    lines = list(client.tail_job_logs(job_id, protocol=protocol))
    assert numbered(lines) == EXPECTED
    assert client.get_job_status(job_id) == JobStatus.SUCCEEDED


def test_named_tails_and_a_finished_job(client: RayClient) -> None:
    job_id = numbered_job(client, n=20, delay=0)
    wait_terminal(client, job_id)
    assert numbered(list(client.websocket_tail_job_logs(job_id))) == EXPECTED[:20]
    assert numbered(list(client.stream_tail_job_logs(job_id))) == EXPECTED[:20]


async def test_async_tail(dashboard_url: str) -> None:
    async with AsyncRayClient(dashboard_url) as c:
        job = await c.submit_job(py_entrypoint("print('hello from async')"))
        lines = [line async for line in c.tail_job_logs(job.submission_id)]
    assert "hello from async" in lines


def test_awkward_bytes_pass_through(client: RayClient) -> None:
    code = textwrap.dedent(
        r"""
        import sys
        out = sys.stdout.buffer
        out.write(b'bad \xff\xfe utf8\n')
        out.write(b'nul \x00 byte\n')
        out.write(b'progress 10%\rprogress 100%\n')
        out.write(b'\x1b[31mred\x1b[0m\n')
        out.write('caf\u00e9 \u2713\n'.encode())
        out.write(b'<img src=x onerror=alert(1)>\n')
        out.write(b'L' * 50000 + b'\n')
        out.write(b'after the long line\n')
        out.flush()
        """
    )
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    lines = list(client.tail_job_logs(job_id, protocol="http"))
    body = lines[lines.index(next(ln for ln in lines if ln.startswith("bad "))) :]
    assert body[0] == "bad \ufffd\ufffd utf8"
    assert body[1] == "nul \x00 byte"
    assert body[2] == "progress 10%\rprogress 100%"
    assert body[3] == "\x1b[31mred\x1b[0m"
    assert body[4] == "caf\u00e9 \u2713"
    assert body[5] == "<img src=x onerror=alert(1)>"
    assert body[6].startswith("L" * 10240) and body[6].endswith("[line truncated: 39760 more bytes]")
    assert body[7] == "after the long line"  # Ray may append its own lines after the job's


def test_line_limit_delivers_what_fits_then_429(dashboard_url: str) -> None:
    with RayClient(dashboard_url, stream_limits=StreamLimits(max_lines=10)) as c:
        job_id = numbered_job(c, n=50, delay=0)
        got: list[str] = []
        with pytest.raises(StreamLimitError) as err:
            for line in c.tail_job_logs(job_id):
                got.append(line)
    assert len(got) == 10 and err.value.status_code == 429 and "StreamLimits" in str(err.value)


def test_bad_protocol_unknown_job_and_dead_dashboard(client: RayClient) -> None:
    with pytest.raises(BadRequestError):
        list(client.tail_job_logs("raysubmit_x", protocol="carrier-pigeon"))
    with pytest.raises(BadRequestError):
        list(client.tail_job_logs("../../etc/passwd"))
    with pytest.raises(NotFoundError):
        list(client.tail_job_logs("raysubmit_doesnotexist"))
    with RayClient("127.0.0.1:9", timeout=2) as dead, pytest.raises(UnavailableError):
        list(dead.tail_job_logs("raysubmit_x"))


# -- faults Ray cannot show on demand: a TCP proxy cuts connections mid-stream ---------
# The tail reads the driver log by byte ranges from the node's dashboard agent; the tests
# route those reads through a proxy with ``node_agents``, and the dashboard's own paths
# (the state API file read, the WebSocket) through another.

PAD = 400  # bytes per line; lines come in bursts of 10 (4 KB), more than a cut lets through


def padded_job(client: RayClient, n: int = N_LINES, delay: float = 0.1) -> str:
    code = (f"import sys, time\nfor b in range(0, {n}, 10):\n"
            f"    sys.stdout.write(''.join(f'line-{{i:05d}} ' + 'x' * {PAD} + '\\n' for i in range(b, b + 10)))\n"
            f"    sys.stdout.flush()\n    time.sleep({delay})\n")
    return client.submit_job(py_entrypoint(code)).submission_id


def names(lines: list[str]) -> list[str]:
    return [ln.split()[0] for ln in numbered(lines)]


def _upstream(url: str) -> tuple[str, int]:
    host, port = url.split("://")[1].rsplit(":", 1)
    return host, int(port)


def _agent_of(client: RayClient, job_id: str) -> tuple[str, str]:
    """(node id, agent URL) of the node that runs ``job_id``'s driver."""
    while not (job := client.get_job(job_id)).driver_node_id:
        time.sleep(0.1)
    detail = httpx.get(f"{client.address}/nodes/{job.driver_node_id}", headers=client.aio._headers).json()["data"]["detail"]
    return job.driver_node_id, f"http://{detail['ip']}:{detail['raylet']['dashboardAgentListenPort']}"


@contextlib.contextmanager
def _proxied(dashboard_url: str, agent: str | None = "proxy", delay: float = 0.1):
    """A job, and a client whose dashboard and agent reads go through two fault proxies
    (``agent=None``: the agent is unreachable, so reads go through the dashboard)."""
    token = resolve_token(None, dashboard_url)
    with RayClient(dashboard_url) as direct:
        job_id = padded_job(direct, delay=delay)
        node_id, agent_url = _agent_of(direct, job_id)
    with FaultProxy(*_upstream(dashboard_url)) as dash, FaultProxy(*_upstream(agent_url)) as agent_proxy:
        with RayClient(dash.url, token=token) as c:
            c.node_agents = {node_id: agent_proxy.url if agent else "http://127.0.0.1:9"}
            yield job_id, c, dash, agent_proxy


def _follow(c: RayClient, job_id: str, protocol: str, arm, **options) -> tuple[list[str], object]:
    """Tail through the proxies; ``arm()`` sets the faults once line 150 of 300 arrived."""
    got = []
    tail = c.tail_job_logs(job_id, protocol=protocol, **options)
    for line in tail:
        got.append(line)
        if line.startswith("line-00150"):
            arm()
    return names(got), tail


@pytest.mark.parametrize("protocol", ["auto", "http"])
def test_agent_reads_cut_and_refused_lose_and_repeat_nothing(dashboard_url: str, protocol: str) -> None:
    with _proxied(dashboard_url) as (job_id, c, dash, agent):
        def arm() -> None:
            agent.cut(b"/logs/job-driver", after_bytes=1500, times=6)  # an empty poll uses one up
            agent.refuse(b"/logs/job-driver", times=2)  # and the reconnects after the cuts

        lines, _ = _follow(c, job_id, protocol, arm)
        assert lines == EXPECTED
        assert agent.cuts >= 1  # a cut fires only on a read that carries more than 1500 bytes
        assert not any("/logs/tail" in r or "/api/v0/logs/file" in r for r in dash.requests)  # no fallback was needed


def test_dashboard_file_reads_cut_lose_and_repeat_nothing(dashboard_url: str) -> None:
    with _proxied(dashboard_url, agent=None) as (job_id, c, dash, _):
        lines, _ = _follow(c, job_id, "http", lambda: dash.cut(b"/api/v0/logs/file", after_bytes=1500, times=2))
        assert lines == EXPECTED
        assert dash.cuts == 2  # each read of the whole file is longer than 1500 bytes


def test_websocket_cut_mid_stream_loses_and_repeats_nothing(dashboard_url: str) -> None:
    with _proxied(dashboard_url) as (job_id, c, dash, agent):
        def arm() -> None:
            agent.refuse(b"/logs/", times=1000)  # the agent is broken from now on: auto must use the WebSocket
            dash.refuse(b"/api/v0/logs/", times=1000)
            dash.cut(b"/logs/tail", after_bytes=900, times=2)

        lines, _ = _follow(c, job_id, "auto", arm)
        assert lines == EXPECTED
        assert dash.cuts >= 1 and any("/logs/tail" in r for r in dash.requests)


def test_websocket_only_resumes_after_cut(dashboard_url: str) -> None:
    with _proxied(dashboard_url) as (job_id, c, dash, _):
        dash.cut(b"/logs/tail", after_bytes=700, times=1)
        assert names(list(c.tail_job_logs(job_id, protocol="websocket"))) == EXPECTED
        assert dash.cuts == 1


def test_attach_at_the_last_lines_through_cuts_then_earlier_lines(dashboard_url: str) -> None:
    with _proxied(dashboard_url, delay=0.3) as (job_id, c, dash, agent):
        with RayClient(dashboard_url) as direct:  # wait until a third of the log is written
            for line in direct.tail_job_logs(job_id):
                if line.startswith("line-00100"):
                    break
        lines, tail = _follow(c, job_id, "auto", lambda: agent.cut(b"/logs/job-driver", after_bytes=1500, times=6), last=20)
        first = EXPECTED.index(lines[0])
        # Lines come in bursts of 10: when line 100 was read, the log ended at 109 or later.
        assert 90 <= first < 200 and lines == EXPECTED[first:]  # from the last lines on, every line once
        assert names(tail.earlier(30)) == EXPECTED[first - 30 : first]
        assert names(tail.earlier(1000)) == EXPECTED[: first - 30] and tail.at_start
        assert tail.earlier(10) == []
        resumed = names(list(c.tail_job_logs(job_id, offset=tail.offset)))
        assert resumed == []  # the offset of the end of a finished log: nothing more


def test_follows_that_stop_on_an_idle_log_leave_the_dashboard_healthy(client: RayClient) -> None:
    job_id = client.submit_job(py_entrypoint("import time\nprint('ready', flush=True)\ntime.sleep(300)")).submission_id
    try:
        for i in range(200):
            tail = client.tail_job_logs(job_id, protocol="http" if i % 2 else "auto", last=5)
            assert "ready" in next(line for line in tail if line == "ready")
            tail.close()
        assert client.list_tasks(limit=1) is not None  # the state API still answers (not 429)
        assert client.get_job_log_tail(job_id, 5)[-1] == "ready"
    finally:
        client.stop_job(job_id)
