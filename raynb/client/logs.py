"""Live job logs: StreamLimits, line assembly with exact resume, and the tail itself.

Both transports read the driver log from its first byte, so a resumed stream skips the
lines already delivered (counted as Python's universal-newline lines, the unit the
WebSocket side uses) and goes on: no duplicate, no gap.

- ``http``: the state API's ``/api/v0/logs/file`` on the driver's node, read every 50 ms
  (slower for big logs); each read yields the bytes past the previous one (tens of ms of
  latency). The read that starts after the job is terminal is the last.
- ``websocket``: the dashboard's ``/api/jobs/{id}/logs/tail`` (1 s server poll).
- ``auto``: http first; on a failure with no progress it switches to the other one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import websockets

from ..errors import (
    BadRequestError,
    RayClientError,
    NotFoundError,
    RayTimeoutError,
    ServerError,
    StreamLimitError,
    UnavailableError,
    error_for_status,
)

from .limits import StreamLimits

if TYPE_CHECKING:
    from .aio import AsyncRayClient

PROTOCOLS = ("auto", "websocket", "http")
PROTOCOL_NAMES = {"auto": "auto", "websocket": "websocket", "http": "http", "stream": "http"}
HTTP_POLL_INTERVAL_S = 0.05
MAX_POLL_INTERVAL_S = 2.0
POLL_BYTES_PER_S = 20 * 1024 * 1024  # re-reading a big log is paced to about this rate
STATUS_POLL_INTERVAL_S = 0.25
_LONE_CR = re.compile(r"\r(?!$)")


class LogNotice(str):
    """A line raynb adds to a log stream (not printed by the job), e.g. that the rest of
    the log was on a node that is gone. Views show it dimmed; code can tell it apart."""


def check_stream_args(timeout: Any, protocol: Any) -> float:
    """The tail's ``timeout`` in seconds, or a 400 for it or for an unknown ``protocol``."""
    from ._base import check_timeout

    if protocol not in PROTOCOL_NAMES:
        raise BadRequestError(
            f"unknown log protocol {protocol!r}: use one of {', '.join(PROTOCOLS)} ('stream' means http)"
        )
    return check_timeout(timeout)


async def lost_driver_node(client: AsyncRayClient, job: Any) -> str | None:
    """"was on node X (ip), which is gone" if the node of the driver log of ``job`` (a Job or
    its id) is dead; None if it is alive or the cluster cannot tell now."""
    try:
        job = await client.get_job(job) if isinstance(job, str) else job
        if not job.driver_node_id:
            return None
        nodes = await client.list_nodes(filters={"node_id": job.driver_node_id}, limit=1)
    except RayClientError:
        return None
    if not nodes or nodes[0].alive:
        return None
    node = nodes[0]
    return f"was on node {node.node_id[:12]}… ({node.node_ip}), which is gone"


class _Restart:
    """Marker from a source: it starts reading the log again from its first byte."""


RESTART = _Restart()


class LineAssembler:
    """Turns byte chunks into lines, enforcing limits and skipping what was delivered.

    ``position`` counts delivered lines in universal-newline units (``a\\rb`` is two),
    the same unit on both transports, so :meth:`restart` resumes exactly.
    """

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self.position = 0
        self.lines = 0
        self.bytes = 0
        self.messages = 0
        self._skip = 0
        self._partial = bytearray()
        self._overflow = 0
        self._overflow_crs = 0

    def restart(self) -> None:
        """A source reads from the start again: skip what was delivered."""
        self._skip = self.position
        self._partial.clear()
        self._overflow = self._overflow_crs = 0

    def feed(self, chunk: bytes) -> Iterator[str]:
        if self._skip == 0:
            self.messages += 1
            if self.messages > self.limits.max_messages:
                raise self._limit(f"{self.limits.max_messages} messages")
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            line = self._take(piece)
            if line is not None:
                yield from self._deliver(*line)
        self._append(rest)

    def finish(self) -> Iterator[str]:
        """The log is complete: a last line with no newline is delivered too."""
        if self._partial or self._overflow:
            line = self._take(b"")
            if line is not None:
                yield from self._deliver(*line)

    def _append(self, data: bytes) -> None:
        room = self.limits.max_message_size - len(self._partial)
        if len(data) > room:
            self._overflow += len(data) - max(room, 0)
            self._overflow_crs += data[max(room, 0) :].count(b"\r")
            data = data[: max(room, 0)]
        self._partial += data

    def _take(self, piece: bytes) -> tuple[str, int, int] | None:
        """Complete the current line with ``piece``; None if it was skipped."""
        self._append(piece)
        raw, overflow, extra_crs = bytes(self._partial), self._overflow, self._overflow_crs
        self._partial.clear()
        self._overflow = self._overflow_crs = 0
        text = raw.decode("utf-8", errors="replace")
        units = len(_LONE_CR.findall(text)) + extra_crs + 1
        if self._skip:
            if self._skip >= units:
                self._skip -= units
                return None
            text = "\r".join(_LONE_CR.split(text)[self._skip :])
            units -= self._skip
            self._skip = 0
        if overflow:
            text += f" … [line truncated: {overflow} more bytes]"
        return text, units, len(raw) + overflow + 1

    def _deliver(self, text: str, units: int, size: int) -> Iterator[str]:
        if self.lines + 1 > self.limits.max_lines:
            raise self._limit(f"{self.limits.max_lines} lines")
        if self.bytes + size > self.limits.max_bytes:
            raise self._limit(f"{self.limits.max_bytes} bytes")
        self.lines += 1
        self.bytes += size
        self.position += units
        yield text

    def _limit(self, what: str) -> StreamLimitError:
        return StreamLimitError(
            f"log stream stopped at its limit of {what} after {self.lines} lines; "
            "raise it with StreamLimits(...) or read the full log with get_job_logs()"
        )


class _Cut(Exception):
    """A transport broke or ended early; the tail resumes from its position."""


async def _watch_terminal(client: AsyncRayClient, job_id: str, done: asyncio.Event) -> None:
    while not (await client.get_job(job_id)).status.is_terminal():
        await asyncio.sleep(STATUS_POLL_INTERVAL_S)
    done.set()


def _poll_interval(size: int) -> float:
    """Seconds between reads of a log of ``size`` bytes: 50 ms, slower for big logs."""
    return min(MAX_POLL_INTERVAL_S, max(HTTP_POLL_INTERVAL_S, size / POLL_BYTES_PER_S))


async def _http_source(client: AsyncRayClient, job_id: str, timeout: float) -> AsyncIterator[Any]:
    """The driver log over HTTP, from byte 0, ending when the job is terminal and it is read.

    Each poll reads the file through the state API without following, and yields only the
    bytes past those already yielded. (A following ``/logs/stream`` would be cheaper, but
    Ray's dashboard never releases one whose file stops growing: after 100 of them every
    state API call answers 429 until the dashboard restarts.)
    """
    job = await client.get_job(job_id)
    while not job.driver_node_id and not job.status.is_terminal():
        await asyncio.sleep(STATUS_POLL_INTERVAL_S)
        job = await client.get_job(job_id)
    yield RESTART
    if not job.driver_node_id:  # ended before a driver ran: the Jobs API has what there is
        yield (await client.get_job_logs(job_id)).encode()
        return
    params = {
        "node_id": job.driver_node_id,
        "filename": f"job-driver-{job.submission_id}.log",
        "lines": "-1",
        "format": "text",
    }
    terminal = asyncio.Event()
    watcher = asyncio.create_task(_watch_terminal(client, job_id, terminal))
    offset, missing_since = 0, asyncio.get_running_loop().time()
    try:
        while True:
            last = terminal.is_set()  # the file is complete: this read is the final one
            size = 0
            try:
                async with client._stream("/api/v0/logs/file", params, timeout) as chunks:
                    async for chunk in chunks:
                        start, size = size, size + len(chunk)
                        if size > offset:
                            yield chunk[max(0, offset - start) :]
                            offset = size
            except (ServerError, NotFoundError):
                # The driver's log file appears a moment after the driver is scheduled.
                if offset or last or asyncio.get_running_loop().time() - missing_since > timeout:
                    raise
            if last:
                return
            if watcher.done() and not terminal.is_set():
                watcher.result()  # re-raise a failed status check
            await asyncio.sleep(_poll_interval(size))
    finally:
        watcher.cancel()


async def _ws_source(client: AsyncRayClient, job_id: str, timeout: float) -> AsyncIterator[Any]:
    """Chunks of the driver log over the dashboard's WebSocket tail, then the rest it missed."""
    url = f"{client.ws_address}/api/jobs/{job_id}/logs/tail"
    try:
        async with websockets.connect(
            url,
            additional_headers=client._headers,
            open_timeout=timeout,
            max_size=None,
            compression=None,  # Ray's head relays nothing once permessage-deflate is on
            ssl=client._ssl_context() if url.startswith("wss") else None,
        ) as ws:
            yield RESTART
            async for message in ws:
                yield message.encode() if isinstance(message, str) else message
    except websockets.InvalidStatus as exc:
        status = exc.response.status_code
        body = exc.response.body.decode(errors="replace") if exc.response.body else ""
        raise error_for_status(status, body, f"WebSocket tail of job {job_id}") from None
    except (websockets.ConnectionClosedError, websockets.InvalidHandshake, OSError, TimeoutError) as exc:
        raise _Cut(f"WebSocket tail broke: {type(exc).__name__}") from None
    # Ray also closes cleanly before the end (at once for some finished jobs): while the
    # job runs that is a cut; once it is terminal the Jobs API's full log, in the same
    # universal-newline lines, completes the stream.
    if not (await client.get_job(job_id)).status.is_terminal():
        raise _Cut("the WebSocket closed before the job ended")
    yield RESTART
    yield (await client.get_job_logs(job_id)).encode()


async def tail_job_logs(
    client: AsyncRayClient, job_id: str, protocol: str, timeout: float, limits: StreamLimits
) -> AsyncIterator[str]:
    """Follow a job's driver log line by line until the job ends and its log is drained."""
    check_stream_args(timeout, protocol)
    job = await client.get_job(job_id)
    if job.type == "DRIVER":
        raise BadRequestError(
            f"job {job_id} was started by a driver script, not submitted: its output is in "
            "that script's own console; only submitted jobs can be followed"
        )
    order = ["http", "websocket"] if protocol == "auto" else [protocol]
    asm = LineAssembler(limits)
    loop = asyncio.get_running_loop()
    which, failures, stalled_since = 0, 0, 0.0
    while True:
        source = _http_source if order[which] == "http" else _ws_source
        before = asm.position
        try:
            # aclosing: a stop here (a limit, a break, an error) closes the source's
            # connection at once, not whenever the generator is collected.
            async with contextlib.aclosing(source(client, job_id, timeout)) as chunks:
                async for chunk in chunks:
                    if chunk is RESTART:
                        asm.restart()
                    else:
                        for line in asm.feed(chunk):
                            yield line
            for line in asm.finish():
                yield line
            return
        except (NotFoundError, BadRequestError, StreamLimitError):
            raise
        except (_Cut, UnavailableError, ServerError, RayTimeoutError, httpx.TransportError) as exc:
            if asm.position > before:  # it broke after some progress: resume at once
                failures = 0
            else:
                failures += 1
                stalled_since = stalled_since if failures > 1 else loop.time()
                if gone := await lost_driver_node(client, job_id):
                    yield LogNotice(f"[raynb] the rest of this log (after line {asm.lines:,}) {gone}")
                    return
                if loop.time() - stalled_since > timeout:
                    raise UnavailableError(
                        f"lost the log stream of job {job_id} for {timeout:g}s ({order[which]}: "
                        f"{exc}); {asm.lines} lines were delivered; call again to resume"
                    ) from None
                which = (which + 1) % len(order)
            await asyncio.sleep(min(0.1 * 2**failures, 2.0) if failures else 0)
