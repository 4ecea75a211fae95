"""LogView: a job's live log in a widget, fed from a bounded kernel-side ring."""

from __future__ import annotations

import html
from typing import Any

import traitlets

from ..client import RayClient
from ..magics.live import LiveLog
from ..render import Rendered
from ._base import RayWidget, bundle
from ._stream import LineStream

SNAPSHOT_LINES = 200


def _note(text: str, color: str) -> Rendered:
    return Rendered(
        html=f'<div style="color:{color};font-family:var(--jp-code-font-family,monospace)">'
        f"{html.escape(text)}</div>",
        text=text,
    )


class LogView(RayWidget):
    """Follows job ``job_id``'s log from creation until the job ends: from its first line, or
    with ``tail=N`` from its last N lines, and then scrolling up past the first line shown
    loads the lines before it (an ``earlier`` request), back to the log's first line.

    The kernel keeps the last ``max_lines`` lines (memory stays flat for any log length) and
    sends new ones in batches at most every 50 ms; a browser view asks for what it missed
    with a ``resync`` request. ``protocol``: 'auto', 'websocket' or 'http'.
    """

    _esm = bundle("logview")
    job_id = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    done = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    dropped = traitlets.Int(0).tag(sync=True)
    max_lines = traitlets.Int(100_000).tag(sync=True)
    final = traitlets.Unicode("").tag(sync=True)
    from_start = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self, job_id: str, *, client: RayClient | None = None, protocol: str = "auto", max_lines: int = 100_000,
        tail: int | None = None,
    ) -> None:
        stream = LineStream(self, job_id, max_lines=max_lines, protocol=protocol, tail=tail)  # checks both
        super().__init__(client=client, job_id=job_id, max_lines=max_lines, from_start=stream.from_start)
        self._stream = stream.start()
        self._ready.set()  # a log snapshot never waits: it shows what arrived so far

    def _on_stream(self, stream: LineStream, **changes: Any) -> None:
        with self.hold_sync():
            for name, value in changes.items():
                setattr(self, name, value)

    def _rpc_resync(self, stream: str, from_seq: int = 0) -> dict[str, Any]:
        if stream != self.job_id:
            return {"seq": from_seq, "lines": [], "dropped": 0}
        return self._stream.held(from_seq)

    async def _rpc_earlier(self, stream: str, have: int = 0, n: int = 1000) -> dict[str, Any]:
        if stream != self.job_id:
            return {"lines": [], "at_start": True}
        return await self._stream.earlier(have, n)

    def _snapshot(self) -> Rendered:
        stream = self._stream
        view = LiveLog(self.job_id, max_visible=SNAPSHOT_LINES)
        for line in stream.tail(SNAPSHOT_LINES):
            view.add(line)
        view.hidden = stream.total - len(view.lines)
        view.earlier = not stream.from_start
        if stream.final is not None:
            view.status = stream.final
        elif stream.error:
            view.status = _note(f"✖ Ray error {stream.error}", "var(--jp-error-color1,#d32f2f)")
        else:
            view.status = _note(
                f"▶ {self.job_id} {stream.status or 'PENDING'}: {stream.total:,} lines so far "
                f"(the live widget follows it; %ray_logs {self.job_id} shows the whole log)",
                "var(--jp-ui-font-color2,#757575)",
            )
        return view.render()
