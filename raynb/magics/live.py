"""A job's live log in one notebook output area, updated in place at most ~20 times a second."""

from __future__ import annotations

import concurrent.futures
import contextvars
import html
import re
import threading
import time
from collections import deque

from IPython.display import display

from ..ansi import ansi_to_html, collapse_cr, strip_ansi
from ..client import Job, JobStatus, RayClient, RayClientError
from ..render import Rendered, human_duration, job_message

UPDATE_INTERVAL_S = 0.05
_PRE_STYLE = (
    "margin:0;padding:4px 6px;white-space:pre-wrap;word-break:break-all;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px);"
    "color:var(--jp-content-font-color1,inherit);background:var(--jp-layout-color0,transparent)"
)


class LiveLog:
    """Bounded view of a log: the last ``max_visible`` lines, a count of hidden ones, and a
    status line. Lines may be added from any thread; only :meth:`flush` touches the display.
    ``earlier``: the log has lines before the first one added (it was opened at its end)."""

    def __init__(self, job_id: str, *, max_visible: int = 200, grep: re.Pattern[str] | None = None):
        self.job_id = job_id
        self.grep = grep
        self.lines: deque[str] = deque(maxlen=max_visible)
        self.hidden = 0
        self.earlier = False
        self.status: Rendered | None = None
        self._lock = threading.Lock()
        self._dirty = True
        self._handle = None
        self._last = 0.0

    def add(self, line: str) -> None:
        if self.grep is not None and not self.grep.search(strip_ansi(line)):
            return
        line = collapse_cr(line)
        with self._lock:
            if len(self.lines) == self.lines.maxlen:
                self.hidden += 1
            self.lines.append(line)
            self._dirty = True

    def finish(self, status: Rendered) -> None:
        """Show the final status line and the last lines, now."""
        with self._lock:
            self.status = status
            self._dirty = True
        self.flush(force=True)

    def flush(self, force: bool = False) -> None:
        """Update the output area if something changed and the last update is old enough."""
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last < UPDATE_INTERVAL_S):
            return
        bundle = self.render()
        if self._handle is None:
            self._handle = display(bundle, display_id=True)
        else:
            self._handle.update(bundle)
        self._last = now

    def render(self) -> Rendered:
        with self._lock:
            lines, hidden, status = list(self.lines), self.hidden, self.status
            self._dirty = False
        count = "" if self.earlier else f"{hidden:,} "
        marker = f"… {count}earlier lines hidden (%ray_logs {self.job_id} --out NAME keeps the whole log)"
        hidden = hidden or self.earlier
        html_parts = [f'<pre class="raynb-log" style="{_PRE_STYLE}">']
        if hidden:
            html_parts.append(f'<span style="opacity:.6">{html.escape(marker)}</span>\n')
        html_parts.append("\n".join(ansi_to_html(line) for line in lines))
        html_parts.append("</pre>")
        text_parts = ([marker] if hidden else []) + [strip_ansi(line) for line in lines]
        if status is not None:
            html_parts.append(status.html)
            text_parts.append(status.text)
        elif not lines:
            html_parts.append('<div style="opacity:.6">waiting for output…</div>')
        return Rendered(html="".join(html_parts), text="\n".join(text_parts))


def status_line(job: Job) -> Rendered:
    """The one line that ends a followed log: how the job ended, or that it is still running.

    Ray's message is cut to its first sentence: the log it embeds is already shown above.
    """
    took = f" in {human_duration(job.duration_s)}" if job.duration_s is not None else ""
    message = job_message(job.message)
    if job.status == JobStatus.SUCCEEDED:
        icon, color, text = "✔", "var(--jp-success-color1,#2e7d32)", f"{job.status}{took}"
    elif job.status == JobStatus.FAILED:
        code = f" (exit code {job.driver_exit_code})" if job.driver_exit_code is not None else ""
        icon, color = "✖", "var(--jp-error-color1,#d32f2f)"
        text = f"FAILED{code}{took}: {message or job.error_type or 'no message from Ray'}"
    else:
        icon, color, text = "■", "var(--jp-ui-font-color2,#757575)", f"{job.status}{took}: {message}"
    return _line(f"{icon} {job.id} {text}".rstrip(": "), color)


def _line(text: str, color: str) -> Rendered:
    return Rendered(
        html=f'<div style="color:{color};font-family:var(--jp-code-font-family,monospace)">'
        f"{html.escape(text)}</div>",
        text=text,
    )


class Follower:
    """Streams a job's log into a :class:`LiveLog` until the job ends, an error, or a stop.

    The tail runs on the client's loop thread; the thread calling :meth:`run` only updates
    the display, so the display messages belong to the cell that started the follow.
    """

    def __init__(self, client: RayClient, view: LiveLog, protocol: str = "auto", last: int | None = None) -> None:
        self.client = client
        self.view = view
        self.protocol = protocol
        self.last = last
        self.thread: threading.Thread | None = None
        self._future: concurrent.futures.Future[None] | None = None

    async def _pump(self) -> None:
        tail = self.client.aio.tail_job_logs(self.view.job_id, protocol=self.protocol, last=self.last)
        async for line in tail:
            self.view.earlier = not tail.at_start
            self.view.add(line)

    def run(self) -> Job | None:
        """Follow in this thread until the job ends; return the ended job, or None when the
        follow was stopped (Ctrl-C, the stop button, :meth:`cancel`): the job keeps running.
        A client error propagates, after the lines that came before it are shown."""
        view = self.view
        self._future = future = self.client.submit(self._pump())
        view.flush(force=True)
        try:
            while not future.done():
                concurrent.futures.wait([future], timeout=UPDATE_INTERVAL_S)
                view.flush()
            future.result()
            job = self.client.get_job(view.job_id)
        except KeyboardInterrupt:
            future.cancel()
            view.finish(_line(
                f"⏸ Stopped following; job {view.job_id} keeps running. "
                f"Stop it with %ray_stop {view.job_id}",
                "var(--jp-warn-color1,#ef6c00)",
            ))
            return None
        except concurrent.futures.CancelledError:
            view.finish(_line(f"⏸ Stopped following job {view.job_id}; it keeps running.",
                              "var(--jp-ui-font-color2,#757575)"))
            return None
        except RayClientError:
            view.flush(force=True)
            raise
        view.finish(status_line(job))
        return job

    def start(self) -> Follower:
        """Follow in a daemon thread, in the context of the calling cell; return at once."""
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._run_in_background,), daemon=True,
                                       name=f"raynb-follow-{self.view.job_id}")
        self.thread.start()
        return self

    def _run_in_background(self) -> None:
        """:meth:`run`, with a client error shown as the view's last line: no cell waits to fail."""
        try:
            self.run()
        except RayClientError as exc:
            self.view.finish(_line(f"✖ Ray error {exc}", "var(--jp-error-color1,#d32f2f)"))

    def cancel(self) -> None:
        """Stop following (the job keeps running)."""
        if self._future is not None:
            self._future.cancel()
