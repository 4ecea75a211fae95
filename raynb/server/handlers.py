"""REST API of the side panel, under ``{base_url}raynb/api/``.

    GET  status                   address, where it came from, Ray version, dashboard link
    GET  cluster                  nodes alive/dead, resources used/total, per-node usage
    GET  jobs                     every job, newest first
    GET  jobs/{id}                one job
    POST jobs/{id}/stop           ask Ray to stop a job; answers the job after the request
    GET  jobs/{id}/logs           the job's log as NDJSON, live until the job ends: from line 1,
                                  ?last=N (its last N lines, then live), ?offset=B (at byte
                                  offset B, as a reconnect goes on) or ?skip=N (from line N+1)
    GET  jobs/{id}/logs/before?offset=B&lines=N   up to N lines just before byte offset B
    GET  serve                    Serve applications

Every request may carry ``?address=`` (the panel's JupyterLab setting). A client error
answers its own status (400, 401/403, 404, 408, 429, 500, 503) with ``{"message",
"status", "address"}``: one line that says what to do, never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.iostream import StreamClosedError

from ..client import (
    AsyncRayClient,
    BadRequestError,
    RayClientError,
    StreamLimits,
    resolve_token,
)
from . import payload
from .connection import Connection, dashboard_link, resolve

if TYPE_CHECKING:
    from ..client.logs import LogTail

TIMEOUT_S = 10.0  # a poll that waits longer only delays the "unreachable" state
MAX_HELD_LINES = 20_000  # lines read ahead of a slow browser before the tail waits
MAX_BEFORE_LINES = 10_000  # lines one logs/before answer holds at most


class RayHandler(APIHandler):
    """Resolves the dashboard for a request and turns client errors into JSON answers."""

    _track_activity = False  # the panel's polling is not user activity (idle culling)

    def connection(self) -> Connection:
        return resolve(self.get_query_argument("address", None), self.settings["raynb_started"])

    def count(self, name: str, unit: str, *, low: int = 0, high: int | None = None) -> int | None:
        """Query argument ``name`` as a whole number in [low, high], or None when absent."""
        text = self.get_query_argument(name, None)
        if text is None:
            return None
        if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
            bound = f" from {low:,} to {high:,}" if high is not None else f", at least {low:,}" if low else ""
            raise BadRequestError(f"{name} must be a whole number of {unit}{bound}, got {text!r}")
        return int(text)

    def fail(self, exc: RayClientError, address: str | None) -> None:
        self.set_status(exc.status_code)
        self.finish(json.dumps({"message": exc.message, "status": exc.status_code, "address": address}))

    async def answer(self, call: Callable[[AsyncRayClient, Connection], Awaitable[Any]]) -> None:
        """Write ``call(client, connection)`` as JSON, or the client error it raised."""
        address = None
        try:
            conn = self.connection()
            address = conn.address
            async with AsyncRayClient(conn.address, token=conn.token, timeout=TIMEOUT_S) as ray:
                result = await call(ray, conn)
        except RayClientError as exc:
            self.fail(exc, address)
            return
        self.finish(json.dumps(result))


class StatusHandler(RayHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def status(ray: AsyncRayClient, conn: Connection) -> dict[str, Any]:
            version = await ray.get_version()
            link, via = dashboard_link(conn.address, self.base_url, self.settings["raynb_proxy"])
            return {
                "address": conn.address, "source": conn.source, "token": resolve_token() is not None,
                "ray_version": version.ray_version, "session_name": version.session_name,
                "dashboard_url": link, "dashboard_via": via,
            }  # fmt: skip

        await self.answer(status)


class ClusterHandler(RayHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def cluster(ray: AsyncRayClient, _: Connection) -> dict[str, Any]:
            status, nodes, stats = await asyncio.gather(
                ray.get_cluster_status(), ray.list_nodes(limit=10_000), ray.list_node_stats()
            )
            return payload.cluster(status, list(nodes), stats)

        await self.answer(cluster)


class JobsHandler(RayHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def jobs(ray: AsyncRayClient, _: Connection) -> list[dict[str, Any]]:
            found = sorted(await ray.list_jobs(), key=lambda j: j.start_time or 0, reverse=True)
            return [payload.job(j) for j in found]

        await self.answer(jobs)


class JobHandler(RayHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        await self.answer(lambda ray, _: _job(ray, job_id))


async def _job(ray: AsyncRayClient, job_id: str) -> dict[str, Any]:
    return payload.job(await ray.get_job(job_id))


class StopHandler(RayHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        async def stop(ray: AsyncRayClient, _: Connection) -> dict[str, Any]:
            stopped = await ray.stop_job(job_id)
            return {"stopped": bool(stopped), "job": await _job(ray, job_id)}

        await self.answer(stop)


class ServeHandler(RayHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def serve(ray: AsyncRayClient, _: Connection) -> list[dict[str, Any]]:
            return [payload.serve_app(app) for app in await ray.list_serve_applications()]

        await self.answer(serve)


class LogsHandler(RayHandler):
    """A job's log as NDJSON: ``{"lines": [...], "offset": B}`` batches (B: the byte offset
    just past the batch, or null when unknown), then ``{"end": STATUS, "message"}`` once the
    job ended and its log is drained, or ``{"error", "status"}`` if the stream broke. Without
    ``skip``, the first batch also says ``first_offset`` (byte offset of its first line, or
    null) and ``at_start`` (nothing comes before it).

    Where it starts, one of: ``last=N`` (the last N lines), ``offset=B`` (a reconnecting panel
    goes on where it was), ``skip=N`` (leaves out the first N lines), or line 1."""

    def initialize(self) -> None:
        self._gone = asyncio.Event()

    def on_connection_close(self) -> None:
        self._gone.set()

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        address = None
        try:
            start = {"last": self.count("last", "lines", low=1), "offset": self.count("offset", "bytes")}
            skip = self.count("skip", "lines")
            if sum(value is not None for value in (*start.values(), skip)) > 1:
                raise BadRequestError("give one of last, offset and skip")
            conn = self.connection()
            address = conn.address
            async with AsyncRayClient(conn.address, token=conn.token, timeout=TIMEOUT_S) as ray:
                job = await ray.get_job(job_id)  # an unknown id still gets a real 404
                self.set_header("Content-Type", "application/x-ndjson")
                self.set_header("Cache-Control", "no-cache")
                self.set_header("X-Accel-Buffering", "no")  # proxies must not hold the stream
                # The panel's log tab keeps its own bounded ring: a long log must not be cut here.
                tail = ray.tail_job_logs(job.id, stream_limits=StreamLimits.UNLIMITED, **start)
                await self._relay(tail, skip or 0)
                job = await ray.get_job(job_id)
                await self._send({"end": str(job.status), "message": job.message or ""})
        except StreamClosedError:
            return
        except RayClientError as exc:
            if not self._headers_written:
                self.fail(exc, address)
                return
            with contextlib.suppress(StreamClosedError):
                await self._send({"error": exc.message, "status": exc.status_code})
        if not self._finished:
            self.finish(set_content_type="application/x-ndjson")

    async def _send(self, event: dict[str, Any]) -> None:
        self.write(json.dumps(event) + "\n")
        await self.flush()

    async def _relay(self, tail: LogTail, skip: int) -> None:
        """Send the tail's lines in batches of what arrived together, until it ends, fails
        (raised here) or the browser goes away (the tail is closed)."""
        held: list[str] = []
        first = not skip
        ready, room = asyncio.Event(), asyncio.Event()
        room.set()

        async def pump() -> None:
            nonlocal skip
            async for line in tail:
                if skip:
                    skip -= 1
                    continue
                held.append(line)
                ready.set()
                if len(held) >= MAX_HELD_LINES:
                    room.clear()
                    await room.wait()

        reader = asyncio.ensure_future(pump())
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            while True:
                waiter = asyncio.ensure_future(ready.wait())
                await asyncio.wait({reader, waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if gone.done():
                    raise StreamClosedError()
                ready.clear()
                lines, held[:] = held[:], []
                room.set()
                if lines:
                    event: dict[str, Any] = {"lines": lines, "offset": tail.offset}
                    if first:
                        event.update(first_offset=tail.first_offset, at_start=tail.at_start)
                        first = False
                    await self._send(event)
                if reader.done() and not held:
                    reader.result()
                    return
        finally:
            gone.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await tail.aclose()


class LogsBeforeHandler(RayHandler):
    """``{"offset": B, "lines": [...]}``: up to ``lines`` lines (default 1000) just before byte
    offset ``offset`` of a job's log; B is the byte offset of the first, 0 at the log's start."""

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        async def before(ray: AsyncRayClient, _: Connection) -> dict[str, Any]:
            offset = self.count("offset", "bytes")
            if offset is None:
                raise BadRequestError("offset is required: the byte offset of the first line shown")
            lines = self.count("lines", "lines", low=1, high=MAX_BEFORE_LINES)
            got = await ray.read_job_log_before(job_id, offset, 1000 if lines is None else lines)
            return {"offset": got.offset, "lines": got.lines}

        await self.answer(before)


def setup_handlers(serverapp: Any) -> None:
    web_app = serverapp.web_app
    web_app.settings["raynb_started"] = time.time()
    extensions = serverapp.extension_manager.extensions
    web_app.settings["raynb_proxy"] = any(
        name.startswith("jupyter_server_proxy") and ext.enabled for name, ext in extensions.items()
    )
    api = url_path_join(web_app.settings["base_url"], "raynb", "api")
    job = r"/jobs/(?P<job_id>[^/]+)"
    web_app.add_handlers(".*$", [
        (api + "/status", StatusHandler),
        (api + "/cluster", ClusterHandler),
        (api + "/jobs", JobsHandler),
        (api + job, JobHandler),
        (api + job + "/stop", StopHandler),
        (api + job + "/logs", LogsHandler),
        (api + job + "/logs/before", LogsBeforeHandler),
        (api + "/serve", ServeHandler),
    ])  # fmt: skip
