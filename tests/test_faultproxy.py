"""FaultProxy against real local servers (stdlib HTTP server, websockets) -- no Ray needed."""

from __future__ import annotations

import os
import socket
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from faultproxy import FaultProxy
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

BIG = os.urandom(1024 * 1024)
TIMEOUT = httpx.Timeout(30.0)


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + Content-Length, like the dashboard

    def do_GET(self):
        if self.path != "/stream":
            return super().do_GET()
        # endless chunked stream, like a log tail; ends when the peer goes away
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i in range(3000):
                line = f"line {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            self.close_connection = True

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # resets caused by the proxy are expected


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "big.bin").write_bytes(BIG)
    (root / "small.txt").write_text("hello")
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy("127.0.0.1", upstream) as p:
        yield p


def get(url: str) -> httpx.Response:
    """One request on a fresh connection (rules are decided per connection)."""
    with httpx.Client(timeout=TIMEOUT) as c:
        return c.get(url)


def test_pass_through_is_byte_identical(proxy):
    r = get(proxy.url + "/big.bin")
    assert r.status_code == 200 and r.content == BIG
    assert get(proxy.url + "/small.txt").text == "hello"
    assert proxy.connections == 2 and proxy.cuts == 0
    assert proxy.requests == ["GET /big.bin HTTP/1.1", "GET /small.txt HTTP/1.1"]


def test_cut_mid_body_then_next_request_passes(proxy):
    proxy.cut(b"/big.bin", after_bytes=5000)
    body = bytearray()
    with httpx.Client(timeout=TIMEOUT) as c:
        with pytest.raises(httpx.TransportError):
            with c.stream("GET", proxy.url + "/big.bin") as r:
                assert r.status_code == 200
                for chunk in r.iter_raw():
                    body += chunk
    assert 0 < len(body) < 5000
    assert bytes(body) == BIG[: len(body)]
    assert proxy.cuts == 1
    assert get(proxy.url + "/big.bin").content == BIG  # times=1: consumed
    assert proxy.cuts == 1 and proxy.connections == 2


def test_cut_is_exact_and_counts_headers(proxy):
    request = b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    proxy.cut(b"/big.bin", after_bytes=777)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as s:
        s.sendall(request)
        got = b""
        with pytest.raises(ConnectionResetError):
            while data := s.recv(65536):
                got += data
    assert len(got) == 777 and got.startswith(b"HTTP/1.1 200")
    body = got.partition(b"\r\n\r\n")[2]
    assert body == BIG[: len(body)]


def test_cut_mid_chunked_stream(proxy):
    proxy.cut(b"/stream", after_bytes=300)
    with httpx.Client(timeout=TIMEOUT) as c:
        lines = []
        with pytest.raises(httpx.TransportError):
            with c.stream("GET", proxy.url + "/stream") as r:
                for line in r.iter_lines():
                    lines.append(line)
    assert lines[:2] == ["line 0", "line 1"]
    assert proxy.cuts == 1


def test_rules_match_only_their_path_and_run_in_order(proxy):
    proxy.cut(b"/big.bin", after_bytes=100, times=2)
    proxy.refuse(b"/small.txt")
    proxy.refuse(b"/big.bin")
    assert get(proxy.url + "/nothing-here").status_code == 404  # no rule matches
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            get(proxy.url + "/big.bin")
    with pytest.raises(httpx.TransportError):
        get(proxy.url + "/big.bin")  # now the refuse rule
    with pytest.raises(httpx.TransportError):
        get(proxy.url + "/small.txt")
    assert get(proxy.url + "/small.txt").text == "hello"
    assert get(proxy.url + "/big.bin").content == BIG
    assert proxy.cuts == 2 and proxy.connections == 7


def test_refuse(proxy):
    proxy.refuse(b"/small.txt")
    with pytest.raises(httpx.TransportError):
        get(proxy.url + "/small.txt")
    assert proxy.requests == ["GET /small.txt HTTP/1.1"] and proxy.cuts == 0
    assert get(proxy.url + "/small.txt").text == "hello"


def test_rules_apply_to_later_requests_on_a_pooled_connection(proxy):
    with httpx.Client(timeout=TIMEOUT) as c:
        assert c.get(proxy.url + "/small.txt").text == "hello"
        proxy.cut(b"/big.bin", after_bytes=3000)
        with pytest.raises(httpx.TransportError):
            c.get(proxy.url + "/big.bin")
    assert proxy.connections == 1 and proxy.cuts == 1
    assert proxy.requests == ["GET /small.txt HTTP/1.1", "GET /big.bin HTTP/1.1"]


def test_down_cuts_live_streams_and_up_restores(proxy):
    with httpx.Client(timeout=TIMEOUT) as c:
        with pytest.raises(httpx.TransportError):
            with c.stream("GET", proxy.url + "/stream") as r:
                for line in r.iter_lines():
                    if line == "line 2":
                        proxy.down()
    with pytest.raises(httpx.TransportError):
        get(proxy.url + "/small.txt")
    proxy.up()
    assert get(proxy.url + "/small.txt").text == "hello"
    assert proxy.connections == 3 and proxy.cuts == 0
    assert proxy.requests == ["GET /stream HTTP/1.1", "GET /small.txt HTTP/1.1"]


def test_unreachable_upstream_resets_client():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with FaultProxy("127.0.0.1", port) as p:
            with pytest.raises(httpx.TransportError):
                get(p.url + "/")


def test_close_is_idempotent_and_stops_listening(upstream):
    p = FaultProxy("127.0.0.1", upstream).start()
    assert get(p.url + "/small.txt").text == "hello"
    p.close()
    p.close()
    with pytest.raises(httpx.ConnectError):
        get(p.url + "/small.txt")


async def test_async_client_cut(proxy):
    proxy.cut(b"/big.bin", after_bytes=5000)
    async with httpx.AsyncClient(timeout=TIMEOUT) as c:
        with pytest.raises(httpx.TransportError):
            async with c.stream("GET", proxy.url + "/big.bin") as r:
                async for _ in r.aiter_raw():
                    pass
        assert (await c.get(proxy.url + "/big.bin")).content == BIG
    assert proxy.cuts == 1


async def _hundred_frames(ws):
    for i in range(100):
        await ws.send(f"frame {i:03d} " + "x" * 50)
    await ws.close()


async def test_websocket_pass_through_and_cut():
    async with serve(_hundred_frames, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with FaultProxy("127.0.0.1", port) as p:
            ws_url = f"ws://127.0.0.1:{p.port}/stream"
            async with connect(ws_url, open_timeout=30) as ws:
                frames = [m async for m in ws]  # clean close ends the iteration
            assert len(frames) == 100 and frames[-1].startswith("frame 099")

            p.cut(b"/stream", after_bytes=1000)  # 101 response + a few frames
            frames = []
            with pytest.raises(ConnectionClosedError):
                async with connect(ws_url, open_timeout=30) as ws:
                    async for m in ws:
                        frames.append(m)
            assert 0 < len(frames) < 100
            assert frames == [f"frame {i:03d} " + "x" * 50 for i in range(len(frames))]
            assert p.cuts == 1 and p.connections == 2
