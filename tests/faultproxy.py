"""Fault-injecting TCP proxy for tests.

Sits between an HTTP/WebSocket client and a real server (e.g. the Ray dashboard)
to produce faults a real server can't show on demand: a connection cut
mid-stream, a refused request, a server that is suddenly unreachable::

    with FaultProxy("127.0.0.1", 8265) as p:
        p.cut(b"/api/v0/logs/stream", after_bytes=5000)
        ...  # point the client at p.url

The proxy runs its own asyncio loop in a daemon thread, so it works the same
from sync and async tests.

Rules are checked on every request a client sends, also later keep-alive requests
on a pooled connection: a client write that carries a request line is matched
against the rules (the first request's head is buffered up to 8 KiB before
deciding). A cut's byte budget counts the response bytes that follow that request.
Requests are assumed not to be pipelined (HTTP/1.1 clients such as httpx do not).
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
from dataclasses import dataclass

_HEAD_LIMIT = 8192
_REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r\n")
_TIMEOUT = 30


@dataclass
class _Rule:
    kind: str  # "cut" or "refuse"
    match: bytes
    times: int
    after_bytes: int = 0


class _Conn:
    """The stream writers of one proxied connection (client side first) and its cut point."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writers = [writer]
        self.sent = 0  # server->client bytes forwarded
        self.cut_at: int | None = None

    def reset(self) -> None:
        """Hard-close every side: SO_LINGER 0 + abort, so peers get an RST."""
        for w in self.writers:
            try:
                w.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:  # already closed
                pass
            w.transport.abort()


class FaultProxy:
    """TCP proxy on 127.0.0.1:<free port> forwarding to ``host:port``.

    Counters: ``connections`` (accepted), ``cuts`` (cut rules fired; resets by
    ``down()`` are not counted), ``requests`` (the request line of every request
    seen, e.g. ``"GET /api/jobs/ HTTP/1.1"``).
    """

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.port: int | None = None
        self.connections = 0
        self.cuts = 0
        self.requests: list[str] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._live: set[_Conn] = set()
        self._down = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FaultProxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="FaultProxy", daemon=True)
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        """Stop listening, reset all live connections, stop and join the loop thread."""
        if self._thread is None:
            return
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_TIMEOUT)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- fault control (safe to call from any thread) ------------------------

    def cut(self, match: bytes, after_bytes: int, times: int = 1) -> None:
        """For the next `times` requests containing `match`, reset the connection right
        after exactly `after_bytes` response bytes (headers included) were forwarded."""
        self._add(_Rule("cut", match, times, after_bytes))

    def refuse(self, match: bytes, times: int = 1) -> None:
        """Reset the connection of the next `times` matching requests instead of forwarding."""
        self._add(_Rule("refuse", match, times))

    def down(self) -> None:
        """Reset live connections; until ``up()``, reset new ones as soon as accepted."""
        self._down = True
        self._run(self._reset_all())

    def up(self) -> None:
        self._down = False

    # -- internals (loop thread) ---------------------------------------------

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_TIMEOUT)

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _take(self, head: bytes) -> _Rule | None:
        """Consume one use of the first registered rule matching `head`."""
        with self._lock:
            for rule in self._rules:
                if rule.match in head:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    async def _reset_all(self) -> None:
        for conn in list(self._live):
            conn.reset()

    async def _shutdown(self) -> None:
        self._server.close()
        self._down = True
        await self._reset_all()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_request(self, data: bytes, conn: _Conn) -> bool:
        """Apply the rules to a client write carrying a request; False means refuse."""
        if not _REQUEST_LINE.match(data):
            return True
        self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
        rule = self._take(data)
        if rule is not None and rule.kind == "refuse":
            return False
        if rule is not None:
            conn.cut_at = conn.sent + rule.after_bytes
        return True

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        conn = _Conn(cwriter)
        self._live.add(conn)
        self.connections += 1
        try:
            if self._down:
                return conn.reset()
            head = b""
            while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
                data = await creader.read(65536)
                if not data:
                    break
                head += data
            if not head:
                return
            if not self._on_request(head, conn):
                return conn.reset()
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
            conn.writers.append(uwriter)
            cwriter.transport.set_write_buffer_limits(0)  # drain() == handed to the kernel
            uwriter.write(head)
            await asyncio.gather(self._upstream_pump(creader, uwriter, conn),
                                 self._downstream_pump(ureader, cwriter, conn))
        except OSError:  # upstream unreachable, or a peer reset mid-stream
            conn.reset()
        except asyncio.CancelledError:  # close(): connections were already reset
            pass
        finally:
            self._live.discard(conn)
            for w in conn.writers:
                w.close()

    async def _upstream_pump(self, reader, writer, conn: _Conn) -> None:
        """Client -> server, applying the rules to each further request."""
        try:
            while data := await reader.read(65536):
                if not self._on_request(data, conn):
                    return conn.reset()
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            conn.reset()

    async def _downstream_pump(self, reader, writer, conn: _Conn) -> None:
        """Server -> client; once ``conn.cut_at`` bytes are forwarded, reset the connection."""
        try:
            while True:
                if conn.cut_at is not None and conn.sent >= conn.cut_at:
                    self.cuts += 1
                    return conn.reset()
                data = await reader.read(65536)
                if not data:
                    break
                if conn.cut_at is not None:
                    data = data[: conn.cut_at - conn.sent]
                writer.write(data)
                await writer.drain()
                conn.sent += len(data)
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            conn.reset()
