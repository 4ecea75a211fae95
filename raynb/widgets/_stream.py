"""LineStream: one job's log followed into a bounded ring and sent as batched `lines` messages."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Protocol

from ..client import JobStatus, RayClient, RayClientError, StreamLimits
from ..magics.live import status_line
from ..render import Rendered
from ._base import one_line


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
    ``status``, and at the end ``final`` (the status line) or ``error``, and ``done``.
    """

    def __init__(self, widget: StreamOwner, job_id: str, *, max_lines: int, protocol: str = "auto") -> None:
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines!r}")
        self.widget = widget
        self.job_id = job_id
        self.protocol = protocol
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

    async def _run(self) -> None:
        aio = self.widget.client.aio
        flusher = asyncio.create_task(self._flush_every())
        watcher = asyncio.create_task(self._watch_status(aio))
        try:
            # The ring bounds memory, so the stream's own limits are lifted.
            async for line in aio.tail_job_logs(self.job_id, protocol=self.protocol,
                                                stream_limits=StreamLimits.UNLIMITED):
                with self._lock:
                    self._ring.append(line)
                    self._unsent.append(line)
                    self.total += 1
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
        self._emit(**changes, total=self.total, dropped=self.dropped, done=True)

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
