"""A job's driver log read by byte ranges from its node's dashboard agent, and shared feeds.

Ray's dashboard agent serves its node's log folder at ``/logs/<file>`` (static files with
HTTP ``Range``) on the port that ``/nodes/{id}`` reports as ``dashboardAgentListenPort``.
So a poll asks only for the bytes past the last one read (an idle log costs one ~200-byte
416 answer), the last N lines are found by reading blocks backwards from the end, and
earlier lines are read on demand, all by exact byte offsets.

The agent is used where the dashboard is plain http (its token already travels in clear)
or where ``client.node_agents`` names the agent's address (a forwarded port). Elsewhere,
or when the agent cannot be reached, :mod:`raynb.client.logs` reads through the dashboard.

:class:`LogFeed`: within one event loop, the followers of one log share one poller.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import RayClientError, UnavailableError, error_for_status

if TYPE_CHECKING:
    from .aio import AsyncRayClient

BLOCK = 256 * 1024  # bytes read per step when looking backwards for line starts
POLL_S = 0.05  # between reads of a live log
STATUS_POLL_S = 0.5  # between job status checks of a feed
DOWN_FOR_S = 60.0  # an agent that could not be reached is not tried again for this long
MAX_QUEUED = 4096  # chunks a follower may fall behind before it reads on its own again
_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+)")


class AgentUnreachable(UnavailableError):
    """The node's dashboard agent cannot be reached from here (the tail reads another way)."""


@dataclass(frozen=True)
class LogSlice:
    """Lines of a log and the byte offset of the first one (0: the start of the log)."""

    offset: int
    lines: list[str]


class AgentLog:
    """One file of a node's log folder, read by byte ranges through ``client``'s pool."""

    def __init__(self, client: AsyncRayClient, node_id: str, url: str, timeout: float) -> None:
        self.client, self.node_id, self.url, self.timeout = client, node_id, url, timeout

    async def size(self) -> int:
        """The file's size now (0 while it does not exist yet)."""
        response = await self._get({"Range": "bytes=0-0"})
        if response.status_code == 404:
            return 0
        return _total(response)

    async def read(self, start: int, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes from ``start`` (to ``end``, exclusive), as they arrive; nothing if none."""
        if end is not None and end <= start:
            return
        last = "" if end is None else str(end - 1)
        try:
            async with self.client._http.stream(
                "GET", self.url, headers={"Range": f"bytes={start}-{last}"},
                timeout=httpx.Timeout(self.timeout, read=self.timeout),
            ) as response:
                if response.status_code in (404, 416):
                    return  # not written yet, or nothing past start
                _check(response, self.url)
                if response.status_code == 200 and start:  # a server that ignores Range
                    raise UnavailableError(f"the log agent at {self.url} ignores byte ranges")
                async for chunk in response.aiter_raw():
                    yield chunk
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    async def line_start_before(self, before: int, lines: int) -> int:
        """The offset where the last ``lines`` complete lines that end at or before ``before``
        begin (0 if the log has fewer); an unfinished line at ``before`` is not one of them."""
        pos, newlines = before, 0
        while pos > 0:
            start = max(0, pos - BLOCK)
            block = b"".join([c async for c in self.read(start, pos)])
            index = len(block)
            while (index := block.rfind(b"\n", 0, index)) != -1:
                newlines += 1  # the first one found ends the last complete line
                if newlines > lines:
                    return start + index + 1
            pos = start
        return 0

    async def _get(self, headers: dict[str, str]) -> httpx.Response:
        try:
            response = await self.client._http.get(self.url, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code not in (404, 416):
            _check(response, self.url)
        return response

    def _unreachable(self, exc: Exception) -> RayClientError:
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            _down(self.client)[self.node_id] = asyncio.get_running_loop().time()
            return AgentUnreachable(f"the dashboard agent at {self.url} is not reachable from here")
        return UnavailableError(f"reading {self.url} broke ({type(exc).__name__})")


def _check(response: httpx.Response, url: str) -> None:
    if response.status_code not in (200, 206):
        raise error_for_status(response.status_code, "", f"GET {url.split('/logs/')[0]}/logs/…")


def _total(response: httpx.Response) -> int:
    match = _RANGE.fullmatch(response.headers.get("content-range", ""))
    if match:
        return int(match.group(3))
    if response.status_code == 200:
        return len(response.content)
    raise UnavailableError("the log agent's answer has no size (Content-Range)")


def _down(client: AsyncRayClient) -> dict[str, float]:
    return client.__dict__.setdefault("_agents_down", {})


async def agent_log(client: AsyncRayClient, node_id: str, filename: str, timeout: float) -> AgentLog | None:
    """The file ``filename`` on node ``node_id`` through its agent, or None where raynb does
    not read agents directly (https dashboard with no ``node_agents`` entry, an agent that was
    just unreachable, a node the dashboard gives no agent port for)."""
    down = _down(client).get(node_id)
    if down is not None and asyncio.get_running_loop().time() - down < DOWN_FOR_S:
        return None
    cache: dict[str, str | None] = client.__dict__.setdefault("_agent_urls", {})
    if node_id not in cache:
        cache[node_id] = await _agent_base(client, node_id)
    base = cache[node_id]
    return AgentLog(client, node_id, f"{base}/logs/{filename}", timeout) if base else None


async def _agent_base(client: AsyncRayClient, node_id: str) -> str | None:
    try:
        detail = (await client._state(f"/nodes/{node_id}")).get("detail") or {}
    except RayClientError:
        return None
    ip, port = detail.get("ip"), (detail.get("raylet") or {}).get("dashboardAgentListenPort")
    named = client.node_agents.get(node_id) or (client.node_agents.get(ip) if ip else None)
    if named:
        return named.rstrip("/")
    if not client.address.startswith("http://") or not ip or not port or int(port) <= 0:
        return None
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{int(port)}"


class _End:
    """Marker on a feed's queues: the job is terminal and its log is read to the end."""


END = _End()


class LogFeed:
    """One poller of one live log for every follower in this event loop.

    A follower :meth:`join`\\ s (gets a queue and the offset its chunks start at), reads what
    it needs before that offset itself, then takes ``(offset, bytes)`` chunks, ``END`` or an
    exception from the queue. A follower that falls ``MAX_QUEUED`` chunks behind is dropped
    (it gets ``None``) and joins again from where it is.
    """

    _feeds: dict[tuple[Any, ...], LogFeed] = {}

    def __init__(self, key: tuple[Any, ...], log: AgentLog, job_id: str) -> None:
        # Its own connections: the feed outlives the follower (and client) that started it.
        client = log.client
        own = type(client)(client.address, headers=client._headers, verify=client.verify, timeout=client.timeout)
        self.key, self.log, self.job_id = key, AgentLog(own, log.node_id, log.url, log.timeout), job_id
        self.offset = 0
        self.queues: set[asyncio.Queue[Any]] = set()
        self.task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    def of(cls, log: AgentLog, job_id: str) -> LogFeed:
        loop = asyncio.get_running_loop()
        key = (id(loop), log.url, log.client._headers.get("Authorization"))
        feed = cls._feeds.get(key)
        if feed is None or feed.task is not None and feed.task.done():
            feed = cls._feeds[key] = cls(key, log, job_id)
        return feed

    async def join(self) -> tuple[asyncio.Queue[Any], int]:
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        await asyncio.shield(self._started)  # the size the feed starts at, or why it could not
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.queues.add(queue)
        return queue, self.offset

    def leave(self, queue: asyncio.Queue[Any]) -> None:
        self.queues.discard(queue)
        if not self.queues and self.task is not None:
            self.task.cancel()
            if self._feeds.get(self.key) is self:
                del self._feeds[self.key]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_status, terminal = 0.0, False
        try:
            self.offset = await self.log.size()
            self._started.set_result(None)
            while True:
                if loop.time() >= next_status:
                    terminal = (await self.log.client.get_job(self.job_id)).status.is_terminal()
                    next_status = loop.time() + STATUS_POLL_S
                got = False
                async for chunk in self.log.read(self.offset):
                    self._send((self.offset, chunk))
                    self.offset += len(chunk)
                    got = True
                if terminal and not got:  # read after the job ended: the log is complete
                    self._send(END)
                    return
                if not got:
                    await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every follower decides what to do with it
            if not self._started.done():
                self._started.set_exception(exc)
            self._send(exc)
        finally:
            if self._feeds.get(self.key) is self:
                del self._feeds[self.key]
            await self.log.client.aclose()

    def _send(self, item: Any) -> None:
        for queue in list(self.queues):
            if queue.qsize() >= MAX_QUEUED and item is not END:
                self.queues.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(item)


async def follow(log: AgentLog, job_id: str, start: int) -> AsyncIterator[bytes]:
    """The bytes of the live log from ``start`` until the job ends and the log is read."""
    pos = start
    while True:
        feed = LogFeed.of(log, job_id)
        queue, joined_at = await feed.join()
        try:
            async for chunk in log.read(pos, joined_at):
                pos += len(chunk)
                yield chunk
            while True:
                item = await queue.get()
                if item is END:
                    return
                if item is None:
                    break  # fell behind: join again from pos
                if isinstance(item, BaseException):
                    raise item
                offset, data = item
                if offset + len(data) <= pos:
                    continue
                if offset > pos:  # cannot happen with a proper join; read the gap to stay exact
                    async for chunk in log.read(pos, offset):
                        pos += len(chunk)
                        yield chunk
                data = data[pos - offset :] if offset < pos else data
                pos += len(data)
                yield data
        finally:
            feed.leave(queue)


async def read_before(log: AgentLog, before: int, lines: int) -> tuple[int, bytes]:
    """``(offset, bytes)`` of the ``lines`` complete lines that end at or before ``before``."""
    start = await log.line_start_before(before, lines)
    data = b"".join([c async for c in log.read(start, before)])
    cut = data.rfind(b"\n") + 1  # leave out an unfinished line at ``before``
    return start, data[:cut]

