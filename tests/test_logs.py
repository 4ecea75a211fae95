"""Live job logs against a real Ray head: every line exactly once, in order, on every path."""

from __future__ import annotations

import textwrap

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


def _proxied_tail(dashboard_url: str, proxy: FaultProxy, protocol: str, arm) -> list[str]:
    """Tail a numbered job through the proxy; ``arm(proxy)`` sets the faults once the
    stream is well under way (line 150 of 300 delivered)."""
    with RayClient(dashboard_url) as direct:
        job_id = numbered_job(direct)
    got = []
    with RayClient(proxy.url, token=resolve_token(None, dashboard_url)) as c:  # the head's token, if any
        for line in c.tail_job_logs(job_id, protocol=protocol):
            got.append(line)
            if line == "line-00150":
                arm(proxy)
    return numbered(got)


def _upstream(dashboard_url: str) -> tuple[str, int]:
    host, port = dashboard_url.split("://")[1].split(":")
    return host, int(port)


@pytest.mark.parametrize("protocol", ["auto", "http"])
def test_http_cut_mid_stream_loses_and_repeats_nothing(dashboard_url: str, protocol: str) -> None:
    with FaultProxy(*_upstream(dashboard_url)) as proxy:
        lines = _proxied_tail(dashboard_url, proxy, protocol,
                              lambda p: p.cut(b"/api/v0/logs/file", after_bytes=1500, times=2))
        assert lines == EXPECTED
        assert proxy.cuts == 2


def test_websocket_cut_mid_stream_loses_and_repeats_nothing(dashboard_url: str) -> None:
    def arm(p: FaultProxy) -> None:
        p.refuse(b"/api/v0/logs/", times=1000)  # HTTP broken from now on: auto must use WebSocket
        p.cut(b"/logs/tail", after_bytes=900, times=2)

    with FaultProxy(*_upstream(dashboard_url)) as proxy:
        assert _proxied_tail(dashboard_url, proxy, "auto", arm) == EXPECTED
        assert proxy.cuts >= 1


def test_websocket_only_resumes_after_cut(dashboard_url: str) -> None:
    with FaultProxy(*_upstream(dashboard_url)) as proxy:
        proxy.cut(b"/logs/tail", after_bytes=700, times=1)
        with RayClient(dashboard_url) as direct:
            job_id = numbered_job(direct)
        with RayClient(proxy.url, token=resolve_token(None, dashboard_url)) as c:
            assert numbered(list(c.tail_job_logs(job_id, protocol="websocket"))) == EXPECTED
        assert proxy.cuts == 1
