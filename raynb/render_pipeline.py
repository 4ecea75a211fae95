"""Pipeline runs as HTML with a plain-text twin: a run's card (one row per action) and a runs table.

The static snapshot of the pipeline progress widget and ``%ray_pipeline`` both use these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .render import Rendered, _cell, _esc, _flat, _status_cell, _table, _time_cell, bar_cell, human_duration
from .tables import ACTION_ICONS

__all__ = ["pipeline_card", "run_table"]

def _elapsed(started: datetime | None, finished: datetime | None, now: datetime) -> str:
    return human_duration(((finished or now) - started).total_seconds()) if started else ""


def _metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


def pipeline_card(run: Any, *, now: datetime | None = None) -> Rendered:
    """A run (a :class:`~raynb.pipeline.models.PipelineProgress`): title, overall bar, one row per action."""
    now = now or datetime.now(timezone.utc)
    rows = []
    for action in run.actions:
        status = str(action.status)
        rows.append([
            _cell(f"{ACTION_ICONS.get(status, '?')} {action.index + 1}"),
            _cell(action.name, 30),
            _status_cell(status),
            bar_cell(action.progress, f"{action.progress:.0%}"),
            _cell(action.error or action.message or "", 50, html_width=80),
            _cell(_elapsed(action.started_at, action.finished_at, now)),
            _cell(_metrics(action.metrics), 40),
        ])  # fmt: skip
    table = _table(["", "action", "status", "progress", "message", "elapsed", "metrics"], rows, "actions", run.actions)
    elapsed = _elapsed(run.started_at or run.created_at, run.finished_at, now)
    title = f"{_flat(run.name)} · {run.run_id} · {run.status} · {run.overall_progress:.0%} · {elapsed}"
    overall = bar_cell(run.overall_progress, f"{run.overall_progress:.0%} overall")
    head_html = (
        f'<div style="font-weight:600;margin:2px 0">{_esc(_flat(run.name))} '
        f'<span class="raynb-id">{_esc(run.run_id)}</span> {_status_cell(str(run.status))[0]} '
        f"{_esc(elapsed)}</div><div>{overall[0]}</div>"
    )
    lines = [title, overall[1]]
    parts = [head_html]
    if run.resumed_from:
        note = f"resumed from {run.resumed_from}"
        parts.append(f"<div>{_esc(note)}</div>")
        lines.append(note)
    if run.error:
        error = f"✗ {_flat(run.error)}"
        parts.append(f'<div style="color:var(--jp-error-color1,#d32f2f)">{_esc(error)}</div>')
        lines.append(error)
    return Rendered("".join(parts) + table.html, "\n".join([*lines, table.text]))


def run_table(runs: Sequence[Any], *, now: datetime | None = None) -> Rendered:
    """Pipeline runs, newest first: id, name, status, progress, current action, created, resumed from."""
    now = now or datetime.now(timezone.utc)
    rows = [
        [
            _cell(run.run_id, 40, mono=True),
            _cell(run.name, 30),
            _status_cell(str(run.status)),
            bar_cell(run.overall_progress, f"{run.overall_progress:.0%}"),
            _cell(run.current_action or "", 30),
            _time_cell(run.created_at, now),
            _cell(_elapsed(run.started_at or run.created_at, run.finished_at, now)),
            _cell(run.resumed_from or "", 40, mono=True),
        ]
        for run in runs
    ]
    headers = ["run", "name", "status", "progress", "action", "created", "elapsed", "resumed from"]
    return _table(headers, rows, "pipeline runs", runs)
