"""Live job logs: line assembly with exact resume, the sources, and the tail (LogTail).

Sources, tried in this order (``auto``; ``http`` is the first and the last, ``websocket``
the middle one alone):

- ``agent``: the driver log file by byte ranges from its node's dashboard agent
  (:mod:`raynb.client.logfile`): every 50 ms the bytes past the last one read, shared by
  the followers of the job in this event loop. A poll of an idle log costs ~200 bytes.
- ``websocket``: the dashboard's ``/api/jobs/{id}/logs/tail`` (1 s server poll); it speaks
  in lines from the first, so it serves only tails that know their line position.
- ``file``: the state API's ``/api/v0/logs/file`` on the driver's node, read whole every
  50 ms (slower for big logs), yielding the bytes past the previous read: the fallback
  where no agent can be read.

A tail resumes after a cut or a switch exactly after its last delivered line, by byte
offset where it knows one, else by universal-newline line count: no duplicate, no gap.
The read that starts after the job is terminal is the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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

from . import logfile
from .limits import StreamLimits
from .models import Job

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

    Two positions of what was delivered, each None once unknown: ``offset``, the byte offset
    in the log file just past the last delivered line (what :meth:`at` resumes from), and
    ``position``, delivered lines in universal-newline units (``a\\rb`` is two), the unit of
    the WebSocket, which :meth:`restart` resumes from. A tail that begins at the last N lines
    knows only the offset; one that read the WebSocket knows only the position until it reads
    the file from its start again.
    """

    def __init__(self, limits: StreamLimits, offset: int = 0) -> None:
        self.limits = limits
        self.offset: int | None = offset
        self.position: int | None = 0 if offset == 0 else None
        self.lines = 0
        self.bytes = 0
        self.messages = 0
        self._skip = 0
        self._skip_bytes = 0
        self._partial = bytearray()
        self._overflow = 0
        self._overflow_crs = 0

    def restart(self) -> None:
        """A line source (the WebSocket) reads from the first line again: skip what was
        delivered, by lines. Its text need not match the file byte for byte."""
        assert self.position is not None, "restart needs the line position"
        self._reset()
        self._skip, self.offset = self.position, None

    def at(self, offset: int) -> None:
        """A byte source reads the file from ``offset`` on: skip what was delivered."""
        self._reset()
        if self.offset is not None:
            if offset > self.offset:
                raise ValueError(f"a source began at byte {offset}, past the delivered {self.offset}")
            self._skip_bytes = self.offset - offset
        else:
            assert offset == 0 and self.position is not None, "no position to resume from"
            self._skip, self.offset = self.position, 0

    def _reset(self) -> None:
        self._skip = self._skip_bytes = 0
        self._partial.clear()
        self._overflow = self._overflow_crs = 0

    def feed(self, chunk: bytes) -> Iterator[str]:
        if self._skip_bytes:
            dropped = min(self._skip_bytes, len(chunk))
            self._skip_bytes -= dropped
            chunk = chunk[dropped:]
            if not chunk:
                return
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
                text, units, size = line
                yield from self._deliver(text, units, size - 1)  # it has no newline

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
        units = (len(_LONE_CR.findall(text)) if "\r" in text else 0) + extra_crs + 1
        size = len(raw) + overflow + 1
        if self._skip:
            if self._skip >= units:
                self._skip -= units
                self.offset = None if self.offset is None else self.offset + size
                return None
            text = "\r".join(_LONE_CR.split(text)[self._skip :])
            units -= self._skip
            self._skip = 0
        if overflow:
            text += f" … [line truncated: {overflow} more bytes]"
        return text, units, size

    def _deliver(self, text: str, units: int, size: int) -> Iterator[str]:
        if self.lines + 1 > self.limits.max_lines:
            raise self._limit(f"{self.limits.max_lines} lines")
        if self.bytes + size > self.limits.max_bytes:
            raise self._limit(f"{self.limits.max_bytes} bytes")
        self.lines += 1
        self.bytes += size
        self.position = None if self.position is None else self.position + units
        self.offset = None if self.offset is None else self.offset + size
        yield text

    def _limit(self, what: str) -> StreamLimitError:
        return StreamLimitError(
            f"log stream stopped at its limit of {what} after {self.lines} lines; "
            "raise it with StreamLimits(...) or read the full log with get_job_logs()"
        )


class _Cut(Exception):
    """A transport broke or ended early; the tail resumes from its position."""


class At:
    """Marker from a byte source: the bytes that follow begin at this offset of the file."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


async def _watch_terminal(client: AsyncRayClient, job_id: str, done: asyncio.Event) -> None:
    while not (await client.get_job(job_id)).status.is_terminal():
        await asyncio.sleep(STATUS_POLL_INTERVAL_S)
    done.set()


def _poll_interval(size: int) -> float:
    """Seconds between reads of a log of ``size`` bytes: 50 ms, slower for big logs."""
    return min(MAX_POLL_INTERVAL_S, max(HTTP_POLL_INTERVAL_S, size / POLL_BYTES_PER_S))


def driver_log_name(job: Job) -> str:
    return f"job-driver-{job.submission_id}.log"


async def _driver_job(client: AsyncRayClient, job_id: str) -> Job:
    """The job once its driver has a node (or it ended without one)."""
    job = await client.get_job(job_id)
    while not job.driver_node_id and not job.status.is_terminal():
        await asyncio.sleep(STATUS_POLL_INTERVAL_S)
        job = await client.get_job(job_id)
    return job


async def _agent_source(client: AsyncRayClient, job_id: str, timeout: float, start: int) -> AsyncIterator[Any]:
    """The driver log from byte ``start`` by ranges from its node's agent (shared by the
    followers of this loop), until the job is terminal and the file is read."""
    job = await _driver_job(client, job_id)
    log = job.driver_node_id and await logfile.agent_log(client, job.driver_node_id, driver_log_name(job), timeout)
    if not log:
        raise _NotHere()
    yield At(start)
    async for chunk in logfile.follow(log, job_id, start):
        yield chunk


class _NotHere(Exception):
    """This source cannot serve this tail (no agent to read); the next one is tried."""


async def _file_source(client: AsyncRayClient, job_id: str, timeout: float, start: int) -> AsyncIterator[Any]:
    """The driver log through the dashboard's state API, re-read from byte 0 every poll,
    yielding the bytes past those already yielded (the fallback when no agent can be read).

    A following ``/logs/stream`` would be cheaper, but Ray's dashboard never releases one
    whose file stops growing: after 100 of them every state API call answers 429 until the
    dashboard restarts.
    """
    job = await _driver_job(client, job_id)
    yield At(0)
    if not job.driver_node_id:  # ended before a driver ran: the Jobs API has what there is
        yield (await client.get_job_logs(job_id)).encode()
        return
    params = {"node_id": job.driver_node_id, "filename": driver_log_name(job), "lines": "-1", "format": "text"}
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
                        begin, size = size, size + len(chunk)
                        if size > offset:
                            yield chunk[max(0, offset - begin) :]
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


async def _ws_source(client: AsyncRayClient, job_id: str, timeout: float, start: int) -> AsyncIterator[Any]:
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


_SOURCES = {"agent": _agent_source, "file": _file_source, "websocket": _ws_source}
_ORDER = {"auto": ["agent", "websocket", "file"], "http": ["agent", "file"], "websocket": ["websocket"]}


async def start_offset(client: AsyncRayClient, job: Job, last: int, timeout: float) -> int:
    """The byte offset where the last ``last`` complete lines of ``job``'s driver log begin."""
    job = await _driver_job(client, job.id)
    if not job.driver_node_id:
        return 0
    log = await logfile.agent_log(client, job.driver_node_id, driver_log_name(job), timeout)
    if log is not None:
        with contextlib.suppress(logfile.AgentUnreachable):
            return await log.line_start_before(await log.size(), last)
    data = (await client.read_job_log_bytes(job)).rsplit(b"\n", last + 1)
    return 0 if len(data) <= last + 1 else len(data[0]) + 1


class LogTail:
    """A live job log, line by line (``async for line in tail``), until the job ends.

    ``first_offset`` is the byte offset of the first line it delivered (0 from the start of
    the log), ``offset`` the one just past the last line it delivered (None while unknown,
    e.g. on the WebSocket); ``await tail.earlier(n)`` gives up to ``n`` lines from before
    the first, going further back on each call ([] at the start: see ``at_start``).
    """

    def __init__(
        self, client: AsyncRayClient, job_id: str, protocol: str, timeout: float, limits: StreamLimits,
        last: int | None = None, offset: int | None = None,
    ) -> None:
        self._client, self.job_id, self.protocol, self.timeout = client, job_id, protocol, timeout
        self._limits, self._last, self._start = limits, last, offset
        self._asm: LineAssembler | None = None
        self.first_offset: int | None = offset if offset is not None else (0 if last is None else None)
        self._lines = self._run()

    @property
    def offset(self) -> int | None:
        return self._asm.offset if self._asm else self.first_offset

    @property
    def at_start(self) -> bool:
        return self.first_offset == 0

    def __aiter__(self) -> LogTail:
        return self

    async def __anext__(self) -> str:
        return await self._lines.__anext__()

    async def aclose(self) -> None:
        await self._lines.aclose()

    async def earlier(self, n: int = 500) -> list[str]:
        """Up to ``n`` lines just before the earliest this tail has given."""
        if self.first_offset is None:
            raise BadRequestError("the tail has not begun yet: take its first line before asking for earlier ones")
        if self.first_offset == 0:
            return []
        part = await self._client.read_job_log_before(self.job_id, self.first_offset, n)
        self.first_offset = part.offset
        return part.lines

    async def _run(self) -> AsyncIterator[str]:
        client, job_id, timeout = self._client, self.job_id, self.timeout
        job = await client.get_job(job_id)
        if job.type == "DRIVER":
            raise BadRequestError(
                f"job {job_id} was started by a driver script, not submitted: its output is in "
                "that script's own console; only submitted jobs can be followed"
            )
        if self._start is None and self._last is not None:
            self._start = await start_offset(client, job, self._last, timeout)
            self.first_offset = self._start
        if self._start and self.protocol == "websocket":
            raise BadRequestError("a tail from the last lines or an offset reads the log file: use protocol 'auto' or 'http'")
        asm = self._asm = LineAssembler(self._limits, self._start or 0)
        order = _ORDER[self.protocol]
        loop = asyncio.get_running_loop()
        which, failures, stalled_since = 0, 0, 0.0
        while True:
            name = order[which]
            if name == "websocket" and asm.position is None and len(order) > 1:
                which = (which + 1) % len(order)  # it speaks in lines from the first: no way to resume
                continue
            before = asm.lines
            try:
                start = asm.offset if asm.offset is not None else 0
                # aclosing: a stop here (a limit, a break, an error) closes the source's
                # connection at once, not whenever the generator is collected.
                async with contextlib.aclosing(_SOURCES[name](client, job_id, timeout, start)) as chunks:
                    async for chunk in chunks:
                        if chunk is RESTART:
                            asm.restart()
                        elif isinstance(chunk, At):
                            asm.at(chunk.offset)
                        else:
                            for line in asm.feed(chunk):
                                yield line
                for line in asm.finish():
                    yield line
                return
            except _NotHere:
                which = (which + 1) % len(order)
                continue
            except (NotFoundError, BadRequestError, StreamLimitError):
                raise
            except (_Cut, UnavailableError, ServerError, RayTimeoutError, httpx.TransportError) as exc:
                if asm.lines > before:  # it broke after some progress: resume at once
                    failures = 0
                else:
                    failures += 1
                    stalled_since = stalled_since if failures > 1 else loop.time()
                    if gone := await lost_driver_node(client, job_id):
                        yield LogNotice(f"[raynb] the rest of this log (after line {asm.lines:,}) {gone}")
                        return
                    if loop.time() - stalled_since > timeout:
                        raise UnavailableError(
                            f"lost the log stream of job {job_id} for {timeout:g}s ({name}: "
                            f"{exc}); {asm.lines} lines were delivered; call again to resume"
                        ) from None
                    if name != "agent" or failures > 2:  # an agent read that broke is tried again first
                        which = (which + 1) % len(order)
                await asyncio.sleep(min(0.1 * 2**failures, 2.0) if failures else 0)


async def lines_before(client: AsyncRayClient, job: Job, before: int, n: int, limits: StreamLimits) -> tuple[int, list[str]]:
    """``(offset, lines)``: up to ``n`` complete lines of ``job``'s driver log ending at byte
    ``before`` (a line start), read by ranges from the node's agent, else from the whole file."""
    if n < 1 or before < 0:
        raise BadRequestError(f"lines must be at least 1 and before at least 0, not {n} and {before}")
    log = job.driver_node_id and await logfile.agent_log(client, job.driver_node_id, driver_log_name(job), client.timeout)
    data: bytes | None = None
    if log:
        with contextlib.suppress(logfile.AgentUnreachable):
            start, data = await logfile.read_before(log, before, n)
    if data is None:
        whole = (await client.read_job_log_bytes(job))[:before]
        parts = whole[: whole.rfind(b"\n") + 1].split(b"\n")[:-1]
        kept = parts[-n:]
        start = sum(len(p) + 1 for p in parts[: len(parts) - len(kept)])
        data = b"".join(p + b"\n" for p in kept)
    asm = LineAssembler(dataclasses.replace(StreamLimits.UNLIMITED, max_message_size=limits.max_message_size))
    return start, list(asm.feed(data))
