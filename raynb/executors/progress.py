"""The progress bar shown while an executor waits: a widget in Jupyter, a text line elsewhere.

Updates are drawn at most ~10 times a second; :meth:`ProgressView.finish` always draws the
final state: done, failed (with the error) or cancelled.
"""

from __future__ import annotations

import html
import sys
import time
from dataclasses import replace
from typing import Any

from ..actions import Progress

__all__ = ["ProgressView", "open_view"]

DRAW_INTERVAL_S = 0.1
TEXT_LINE_INTERVAL_S = 5.0  # without a terminal, print a line at most this often
_OUTCOMES = {
    "done": ("✔", "success"), "failed": ("✖", "danger"), "cancelled": ("■", "warning"),
    "timed out": ("⏱", "warning"),
}  # fmt: skip


def _fraction(state: Progress) -> float | None:
    if not state.total:
        return None
    return max(0.0, min(1.0, state.current / state.total))


def _summary(state: Progress) -> str:
    fraction = _fraction(state)
    parts = [f"{state.current:g}/{state.total:g} ({fraction:.0%})" if fraction is not None
             else (f"{state.current:g}" if state.current else "")]
    if state.message:
        parts.append(state.message)
    if state.metrics:
        parts.append(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in state.metrics.items()))
    return "  ".join(p for p in parts if p)


class ProgressView:
    """One run's progress in the output; subclasses draw it."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.state = Progress()
        self._drawn = 0.0

    def update(self, state: Progress) -> None:
        """Take a new state; draw it unless the last draw was too recent."""
        self.state = state
        now = time.monotonic()
        if now - self._drawn >= DRAW_INTERVAL_S:
            self._drawn = now
            self._draw(None, "")

    def finish(self, outcome: str, detail: str = "") -> None:
        """Draw the final state: 'done', 'failed', 'cancelled' or 'timed out' (still running)."""
        if outcome == "done" and self.state.total:
            self.state = replace(self.state, current=max(self.state.current, self.state.total))
        self._draw(outcome, detail)

    def _draw(self, outcome: str | None, detail: str) -> None:
        raise NotImplementedError


class TextView(ProgressView):
    """A single line rewritten in place on a terminal; periodic lines otherwise."""

    def __init__(self, label: str, stream: Any = None) -> None:
        super().__init__(label)
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._printed = 0.0
        self._width = 0

    def _draw(self, outcome: str | None, detail: str) -> None:
        fraction = _fraction(self.state)
        filled = round((fraction or 0) * 20)
        bar = "" if fraction is None else f"[{'#' * filled}{'.' * (20 - filled)}] "
        icon = _OUTCOMES[outcome][0] + " " if outcome else ""
        tail = f"  {outcome}" + (f": {detail}" if detail else "") if outcome else ""
        line = f"{icon}{self.label} {bar}{_summary(self.state)}{tail}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width) + ("\n" if outcome else ""))
            self._width = len(line)
        elif outcome or time.monotonic() - self._printed >= TEXT_LINE_INTERVAL_S:
            self.stream.write(line + "\n")
            self._printed = time.monotonic()
        self.stream.flush()


class WidgetView(ProgressView):
    """An ipywidgets bar with a label and the last log lines, updated in place."""

    def __init__(self, label: str) -> None:
        import ipywidgets as w
        from IPython.display import display

        super().__init__(label)
        self.bar = w.FloatProgress(value=0, min=0, max=1, layout=w.Layout(width="240px"))
        self.text = w.HTML()
        self.logs = w.HTML()
        self.box = w.VBox([w.HBox([w.HTML(f"<b>{html.escape(label)}</b>&nbsp;"), self.bar, self.text]),
                           self.logs])
        display(self.box)

    def _draw(self, outcome: str | None, detail: str) -> None:
        fraction = _fraction(self.state)
        self.bar.value = fraction if fraction is not None else (1.0 if outcome else 0.0)
        self.bar.bar_style = _OUTCOMES[outcome][1] if outcome else ""
        text = _summary(self.state)
        if outcome:
            text = f"{_OUTCOMES[outcome][0]} {outcome}" + (f": {detail}" if detail else "") + (
                f" ({text})" if text else "")
        self.text.value = f"&nbsp;{html.escape(text)}"
        logs = html.escape("\n".join(self.state.logs))
        self.logs.value = f'<pre style="margin:0;font-size:11px;opacity:.75">{logs}</pre>' if logs else ""


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets render)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def open_view(label: str) -> ProgressView:
    """A widget view in a Jupyter kernel, else a text view."""
    return WidgetView(label) if in_kernel() else TextView(label)
