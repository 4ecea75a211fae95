"""LineStream: one job's log followed into a bounded ring and sent as batched `lines` messages;
opened at its last lines, it also gives the lines before them on request."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from ..client import BadRequestError, JobStatus, RayClient, RayClientError, StreamLimits
from ..magics.live import status_line
from ..render import Rendered
from ._base import one_line

if TYPE_CHECKING:
    from ..client.logs import LogTail


class StreamOwner(Protocol):
    """What a LineStream needs from its widget."""

    @property
    def client(self) -> RayClient: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]: ...

    def send(self, content: dict[str, Any], buffers: Any = None) -> None: ...

    def _on_stream(self, stream: LineStream, **changes: Any) -> None: ...


COUNTS_INTERVAL_S = 1.0
BATCH_INTERVAL_S = 0.05  # at most 20 `lines` messages a second, however fast the job prints
STATUS_INTERVAL_S = 1.0


class LineStream:
    """Follows ``job_id`` on the widget's client loop.

    Lines go into a ring of ``max_lines`` (older ones are counted in ``dropped``) and, every
    50 ms, the lines not yet sent go out in one ``lines`` message. The widget hears of changes
    through ``widget._on_stream(stream, **changes)`` with keys ``total``, ``dropped``,
    ``status``, ``from_start``, and at the end ``final`` (the status line) or ``error``, and
    ``done``.

    ``tail=N`` opens the log at its last N lines (then live); ``from_start`` says, once the
    first line came, whether seq 0 is the log's first line. :meth:`earlier` gives the lines
    before seq 0, read on demand and kept (at most ``max_lines``) for every view to ask again.
    """

    def __init__(
        self, widget: StreamOwner, job_id: str, *, max_lines: int, protocol: str = "auto", tail: int | None = None
    ) -> None:
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines!r}")
        if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 1):
            raise ValueError(f"tail must be a whole number of lines, at least 1, got {tail!r}")
        self.widget = widget
        self.job_id = job_id
        self.protocol = protocol
        self.tail_lines = tail
        self.max_lines = max_lines
        self.from_start = tail is None
        self.total = 0
        self._counted_at = 0.0
        self.status = ""
        self.final: Rendered | None = None  # how the job ended, once it has
        self.error = ""
        self._ring: deque[str] = deque(maxlen=max_lines)
        self._unsent: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()  # the ring is read from the comm thread (resync, snapshot)
        self._stopped = False
        self._future: Future[None] | None = None
        self._tail: LogTail | None = None
        self._earlier: deque[str] = deque()  # lines before seq 0 read so far, oldest first
        self._earlier_lock: asyncio.Lock | None = None  # made on the loop, by earlier()

    @property
    def dropped(self) -> int:
        return self.total - len(self._ring)

    def start(self) -> LineStream:
        self._future = self.widget.spawn(self._run())
        return self

    def stop(self) -> None:
        """Stop following and sending (the job keeps running)."""
        self._stopped = True
        if self._future is not None:
            self._future.cancel()

    def held(self, from_seq: int = 0) -> dict[str, Any]:
        """The held lines from ``from_seq`` on: ``{"seq": first, "lines": [...], "dropped": D}``."""
        with self._lock:
            first_held = self.total - len(self._ring)
            first = max(from_seq, first_held)
            lines = list(itertools.islice(self._ring, first - first_held, None))
        return {"seq": first, "lines": lines, "dropped": first_held}

    def tail(self, n: int) -> list[str]:
        """The last ``n`` held lines."""
        with self._lock:
            return list(itertools.islice(self._ring, max(0, len(self._ring) - n), None))

    async def earlier(self, have: int, n: int) -> dict[str, Any]:
        """``{"lines", "at_start"}``: up to ``n`` lines just before the ``have`` lines before seq 0
        that the asking view holds; ``at_start`` when they begin at the log's first line. A view
        holds ``max_lines`` at most, so ``have + n`` is cut to that (and so is what is kept)."""
        for name, value in (("have", have), ("n", n)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadRequestError(f"{name} must be a whole number, got {value!r}")
        n = min(n, self.max_lines - have)
        if self.from_start or self._tail is None or self.total == 0 or n <= 0:
            return {"lines": [], "at_start": self.from_start}  # nothing before, not begun, or no room
        self._earlier_lock = self._earlier_lock or asyncio.Lock()
        async with self._earlier_lock:  # one read at a time: each goes on from the last
            while len(self._earlier) < have + n and not self._tail.at_start:
                more = await self._tail.earlier(have + n - len(self._earlier))
                if not more:
                    break
                self._earlier.extendleft(reversed(more))
            end = max(0, len(self._earlier) - have)
            lines = list(itertools.islice(self._earlier, max(0, end - n), end))
            return {"lines": lines, "at_start": self._tail.at_start and end - len(lines) == 0}

    async def _run(self) -> None:
        aio = self.widget.client.aio
        flusher = asyncio.create_task(self._flush_every())
        watcher = asyncio.create_task(self._watch_status(aio))
        try:
            # The ring bounds memory, so the stream's own limits are lifted.
            self._tail = aio.tail_job_logs(self.job_id, protocol=self.protocol,
                                           stream_limits=StreamLimits.UNLIMITED, last=self.tail_lines)
            async for line in self._tail:
                with self._lock:
                    self._ring.append(line)
                    self._unsent.append(line)
                    self.total += 1
                if self.total == 1 and not self.from_start:
                    self.from_start = self._tail.at_start  # before any earlier() moves it
                    self._emit(from_start=self.from_start)
                if self.total % 1000 == 0:  # a flood arrives in big chunks: let the flusher run
                    await asyncio.sleep(0)
            job = await aio.get_job(self.job_id)
            final = status_line(job)
        except Exception as exc:
            self.error = one_line(exc)
            changes: dict[str, Any] = {"error": self.error}
        else:
            self.status, self.final = str(job.status), final
            changes = {"status": self.status, "final": final.text}
        finally:
            flusher.cancel()
            watcher.cancel()
        self._flush()
        if self.total == 0:
            self.from_start = True  # no line at all: nothing comes before
        self._emit(**changes, total=self.total, dropped=self.dropped, from_start=self.from_start, done=True)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(BATCH_INTERVAL_S)
            self._flush()

    async def _watch_status(self, aio: Any) -> None:
        status = JobStatus.UNKNOWN
        while not status.is_terminal():
            try:
                status = (await aio.get_job(self.job_id)).status
            except RayClientError:
                pass  # the tail reports what matters
            else:
                if str(status) != self.status:
                    self.status = str(status)
                    self._emit(status=self.status)
            await asyncio.sleep(STATUS_INTERVAL_S)

    def _flush(self) -> None:
        """Send the lines not sent yet as one message (on the loop thread only)."""
        with self._lock:
            if not self._unsent or self._stopped:
                return
            seq = self.total - len(self._unsent)
            lines = list(self._unsent)
            self._unsent.clear()
            total, dropped = self.total, self.dropped
        self.widget.send({"type": "lines", "stream": self.job_id, "seq": seq, "lines": lines, "dropped": dropped})
        # The counters ride each `lines` message; their traits sync once a second, so the
        # browser gets at most ~21 messages a second however fast the job prints.
        now = time.monotonic()
        if now - self._counted_at >= COUNTS_INTERVAL_S:
            self._counted_at = now
            self._emit(total=total, dropped=dropped)

    def _emit(self, **changes: Any) -> None:
        if not self._stopped:
            self.widget._on_stream(self, **changes)
