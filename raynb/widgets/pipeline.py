"""PipelineProgressWidget: one pipeline run live (SSE), with Cancel, Resume and each action's logs."""

from __future__ import annotations

import asyncio
import html
import threading
import weakref
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

import traitlets

from ..client.sync import LoopThread
from ..errors import RayClientError
from ..render import Rendered
from ..render_pipeline import pipeline_card
from ..tables import PIPELINE_TERMINAL
from ._base import RequestWidget, bundle, one_line

FLUSH_INTERVAL_S = 0.05  # at most 20 updates a second, however fast the run reports
HELD_LOG_LINES = 5000
MAX_BACKOFF_S = 20.0


class PipelineProgressWidget(RequestWidget):
    """Follows pipeline run ``run_id`` of ``executor`` (a RayPipelineExecutor) until it ends.

    Progress snapshots and log lines arrive over the pipeline service's SSE stream; the widget
    keeps the latest snapshot in the ``progress`` trait and sends new log lines as batched
    ``logs`` messages, both at most every 50 ms. Cancel really cancels the run on Ray; after a
    failure or cancel, Resume submits ``resume_from`` and the widget follows the new run.

    Shown with :meth:`show`, the output is refreshed once the run ends, so a saved notebook
    keeps the final state as its static snapshot.
    """

    _esm = bundle("pipeline")
    run_id = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Dict({}).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, executor: Any, run_id: str) -> None:
        self._executor = executor
        self._loop = LoopThread()
        weakref.finalize(self, self._loop.stop)
        self._logs: deque[dict[str, Any]] = deque(maxlen=HELD_LOG_LINES)
        self._unsent: list[dict[str, Any]] = []
        self._latest: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._follower: Future[Any] | None = None
        self._handle: Any = None  # the DisplayHandle of show()
        super().__init__(run_id=run_id)
        self._follow(run_id)

    def show(self) -> None:
        """Display the widget; its output is refreshed with the final state when the run ends."""
        from IPython.display import display

        self._handle = display(self, display_id=True)

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return self._loop.submit(coro)

    def _closed_hook(self) -> None:
        self._loop.stop()

    def _follow(self, run_id: str) -> None:
        if self._follower is not None:
            self._follower.cancel()
        with self._lock:
            self._logs.clear()
            self._unsent.clear()
            self._latest = None
        self._ready.clear()
        self._follower = self.spawn(self._run(run_id))

    async def _run(self, run_id: str) -> None:
        flusher = asyncio.create_task(self._flush_every())
        last_id, failures = 0, 0
        try:
            while True:
                try:
                    service = await asyncio.to_thread(self._service_for, run_id)
                    async for event_id, event in service.aevents(run_id, last_event_id=last_id):
                        last_id, failures = event_id, 0
                        self._take(event)
                    if self._latest is None or self._latest_status_is_terminal():
                        break  # the stream ended with the run
                except RayClientError as exc:
                    if 400 <= exc.status_code < 500 and exc.status_code != 429:  # e.g. no such run
                        self.error = one_line(exc)
                        break
                    failures += 1
                    delay = min(MAX_BACKOFF_S, 0.5 * 2**failures)
                    self.error = f"{one_line(exc)} — retrying in {delay:.3g} s"  # the service is away
                    self._ready.set()
                    await asyncio.sleep(delay)
                except Exception as exc:  # a background task must not die unseen
                    self.error = one_line(exc)
                    break
        finally:
            flusher.cancel()
            self._flush()
            self._ready.set()
        if self._handle is not None and self._latest_status_is_terminal():
            self._handle.update(self)  # the saved notebook's snapshot: the final state

    def _service_for(self, run_id: str) -> Any:
        """The executor's service client (found or started off the loop), after reading the run
        through the executor: a run left behind by a dead kernel is failed, so the stream ends."""
        self._executor.get_progress(run_id)
        return self._executor.service

    def _take(self, event: Any) -> None:
        data = event.model_dump(mode="json")
        with self._lock:
            if "overall_progress" in data:
                self._latest = data
            else:
                self._logs.append(data)
                self._unsent.append(data)
        if "overall_progress" in data and self.error:
            self.error = ""

    def _latest_status_is_terminal(self) -> bool:
        return bool(self._latest) and self._latest["status"] in PIPELINE_TERMINAL

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            latest, lines = self._latest, self._unsent
            self._unsent = []
        if latest is not None and latest != self.progress:
            self.progress = latest
            self._ready.set()
        if lines and not self._closed:
            self.send({"type": "logs", "run_id": self.run_id, "lines": lines})

    # -- requests from the front end ----------------------------------------------------

    def _rpc_logs(self) -> dict[str, Any]:
        """The held log lines of the run shown (the last 5,000)."""
        with self._lock:
            return {"run_id": self.run_id, "lines": list(self._logs)}

    async def _rpc_cancel(self) -> dict[str, Any]:
        cancelled = await asyncio.to_thread(self._executor.cancel, self.run_id)
        return {"message": "cancelled" if cancelled else "the run had already ended"}

    async def _rpc_resume(self) -> dict[str, Any]:
        new_run = await asyncio.to_thread(self._executor.resume, self.run_id, show=False)
        self.run_id = new_run
        self._follow(new_run)
        return {"message": f"resumed as {new_run}", "run_id": new_run}

    # -- static snapshot ----------------------------------------------------------------

    def _snapshot(self) -> Rendered:
        if self.progress:
            from ..pipeline.models import PipelineProgress

            card = pipeline_card(PipelineProgress.model_validate(self.progress))
        else:
            text = f"pipeline run {self.run_id}: starting…"
            card = Rendered(f"<div>{html.escape(text)}</div>", text)
        if not self.error:
            return card
        text = f"✖ {self.error}"
        return Rendered(
            card.html + f'<div style="color:var(--jp-error-color1,#d32f2f)">{html.escape(text)}</div>',
            f"{card.text}\n{text}",
        )

