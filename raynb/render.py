"""HTML tables and cards, each with a text/plain twin, for raynb's typed results.

Every value that comes from the cluster reaches HTML only through `_esc` (or `ansi_to_html`,
which escapes too). Only stdlib and raynb's own modules are imported here.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .ansi import ansi_to_html, collapse_cr, strip_ansi
from .client.models import Actor, ClusterStatus, Job, ListResult, Node, ResourceUsage
from .client.models import ServeApplication, ServeStatus, Task, Version
from .tables import BYTE_RESOURCES, KIND_COLORS, RESOURCE_LABELS, status_kind

Cell = tuple[str, str]  # (HTML fragment, plain text)
Moment = datetime | float | int | None  # a datetime, or Unix milliseconds

_TITLE_MAX = 1000  # longest tooltip (an entrypoint can be a whole script)
_ID_W = 8
_STYLE = (
    "<style>table.raynb-table{border-collapse:collapse;table-layout:auto;font-size:12px;margin:2px 0}"
    "table.raynb-table th,table.raynb-table td{padding:2px 8px;text-align:left;vertical-align:top;"
    "white-space:nowrap;border-bottom:1px solid var(--jp-border-color2,rgba(128,128,128,.3))}"
    "table.raynb-table th{font-weight:600}table.raynb-card td{white-space:normal}"
    "table.raynb-table caption{text-align:left;font-weight:600;padding:2px 8px}"
    ".raynb-id{font-family:var(--jp-code-font-family,monospace)}"
    ".raynb-foot{font-size:11px;opacity:.75;margin:2px 0}</style>"
)
_PRE_STYLE = "margin:0;white-space:pre-wrap;max-height:24em;overflow:auto;font-size:11px"
_BAR_STYLE = (
    "display:inline-block;width:120px;height:8px;margin-right:6px;vertical-align:middle;"
    "border-radius:2px;background:rgba(128,128,128,.25)"
)


@dataclass(frozen=True, repr=False)
class Rendered:
    """One display object: HTML for notebooks, aligned plain text for terminals."""

    html: str
    text: str

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text}

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.text


def _esc(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def human_bytes(n: float | None) -> str:
    """Bytes in binary units: "512 B", "3.2 GiB"; non-numbers pass through as text."""
    if not _is_number(n):
        return "" if n is None else str(n)
    value = float(n)
    if abs(value) < 1024:
        return f"{value:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if abs(value) < 1023.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


def _to_datetime(value: Moment) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc) if _is_number(value) and value else None


def relative_time(value: Moment, now: Moment = None) -> str:
    """ "just now", "2 min ago", "3 h ago", "5 d ago", or "in 2 min"; "" when unknown."""
    when = _to_datetime(value)
    if when is None:
        return ""
    delta = ((_to_datetime(now) or datetime.now(timezone.utc)) - when).total_seconds()
    s = abs(delta)
    if s < 10:
        return "just now"
    amount = (
        f"{int(s)} s" if s < 60 else f"{int(s // 60)} min" if s < 3600
        else f"{int(s // 3600)} h" if s < 86400 else f"{int(s // 86400)} d"
    )
    return f"{amount} ago" if delta > 0 else f"in {amount}"


def local_time(value: Moment) -> str:
    """ "2026-11-23 14:05:12" in the local timezone; "" when unknown."""
    when = _to_datetime(value)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when.timestamp())) if when else ""


def human_duration(seconds: float | None) -> str:
    """ "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min", "3 d 4 h"; "" when unknown."""
    if not _is_number(seconds):
        return ""
    s = max(0.0, float(seconds))
    if s < 0.9995:
        return f"{s * 1000:.0f} ms"
    if s < 59.95:
        return f"{s:.1f} s"
    n = round(s)
    if n < 3600:
        return f"{n // 60} min {n % 60} s"
    return f"{n // 3600} h {n % 3600 // 60} min" if n < 86400 else f"{n // 86400} d {n % 86400 // 3600} h"


def _num(value: Any) -> str:
    return f"{value:g}" if _is_number(value) else "" if value is None else str(value)


_BLUE, _AMBER = KIND_COLORS["run"], KIND_COLORS["warn"]


def status_html(status: Any, *, serve: bool | None = None) -> str:
    """A coloured chip; Serve colours apply to ServeStatus values or with serve=True. Its class
    names the colour kind as the widgets' chips do (``raynb-chip-ok``: raynb/tables.json); the
    colour is inline, so a saved notebook shows it without the widgets' CSS."""
    if status is None:
        return ""
    serve = isinstance(status, ServeStatus) if serve is None else serve
    kind = status_kind(status, serve=serve)
    color = KIND_COLORS[kind]
    return (
        f'<span class="raynb-chip-{kind}" style="color:{color};background:{color}26;'
        f'padding:0 5px;border-radius:3px;font-weight:600">{_esc(_flat(status))}</span>'
    )


def _trunc(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _flat(value: Any) -> str:
    """One line of plain text: escape sequences and control characters gone, whitespace squeezed."""
    return " ".join(strip_ansi(str(value)).split())


def _cell(
    value: Any, width: int = 40, *, html_width: int | None = None, mono: bool = False, title: Any = None
) -> Cell:
    """One line truncated to width (text) / html_width (HTML), the full value in a tooltip."""
    if value is None:
        return "", ""
    full = strip_ansi(str(value))
    flat = " ".join(full.split())
    short = _trunc(flat, html_width or width)
    if title is not None or short != flat:  # tooltips keep head and tail, e.g. a job's last log lines
        full, half = full if title is None else strip_ansi(str(title)), _TITLE_MAX // 2
        title = full if len(full) <= _TITLE_MAX else f"{full[:half]} … {full[-half:]}"
    attrs = (' class="raynb-id"' if mono else "") + (f' title="{_esc(title)}"' if title else "")
    return (f"<span{attrs}>{_esc(short)}</span>" if attrs else _esc(short)), _trunc(flat, width)


def _id_cell(value: Any) -> Cell:
    text = "" if value is None else _flat(value)
    return _cell(text[:_ID_W], mono=True, title=text if len(text) > _ID_W else None)


def _status_cell(status: Any, *, serve: bool | None = None) -> Cell:
    return status_html(status, serve=serve), "" if status is None else _flat(status)


def _time_cell(value: Moment, now: Moment) -> Cell:
    rel = relative_time(value, now)
    return (f'<span title="{_esc(local_time(value))}">{_esc(rel)}</span>' if rel else ""), rel


def _block_cell(value: Any) -> Cell:
    """Multi-line text (an entrypoint) in a <pre>, ANSI colours kept in HTML."""
    if value is None or value == "":
        return "", ""
    text = "\n".join(collapse_cr(line) for line in str(value).split("\n"))
    return f'<pre style="{_PRE_STYLE}">{ansi_to_html(text)}</pre>', strip_ansi(text)


# Ray appends the job's log to a failed job's message, or a traceback to a failed start.
_EMBEDDED = re.compile(r",?\s*last available logs \(truncated to [\d,]+ chars\):|(?<=\.)\s*Full traceback:")


def job_message(message: str | None) -> str:
    """Ray's message on a job as one line, without the log or traceback Ray embeds in it:
    "Job entrypoint command failed with exit code 1, last available logs (…): …" becomes
    "Job entrypoint command failed with exit code 1"."""
    text = _EMBEDDED.split(strip_ansi(message or ""), maxsplit=1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        lines = lines[-1:]  # a bare traceback: its last line says what failed
    return _trunc(lines[0], 300) if lines else ""


def _lines_cell(lines: Sequence[str]) -> Cell:
    plain = [_trunc(_flat(line), 200) for line in lines]
    return "<br>".join(_esc(line) for line in plain), "\n".join(plain)


def _table(
    headers: Sequence[str], rows: list[list[Cell]], what: str, items: Sequence[Any], total: int | None = None
) -> Rendered:
    """A table (or "No <what>."), plus a footer when items is a truncated ListResult or total > len."""
    if rows:
        head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
        body = "".join(f"<tr><td>{'</td><td>'.join(c[0] for c in row)}</td></tr>" for row in rows)
        parts = [_STYLE, f'<table class="raynb-table"><thead><tr>{head}</tr></thead>']
        parts.append(f"<tbody>{body}</tbody></table>")
        texts = [[c[1] for c in row] for row in rows]
        widths = [max(len(h), *(len(row[i]) for row in texts)) for i, h in enumerate(headers)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
            for line in [headers, ["-" * w for w in widths], *texts]
        ]
    else:
        parts, lines = [f'<div class="raynb-empty">No {what}.</div>'], [f"No {what}."]
    foot = []
    if isinstance(items, ListResult):
        if note := items.note():
            foot.append(note)
    elif total is not None and total > len(items):
        foot.append(f"showing {len(items):,} of {total:,} {what}: raise --limit to see more")
    if isinstance(items, ListResult) and items.partial_failure_warning:
        foot.append(_flat(items.partial_failure_warning))
    if foot:
        parts.append(f'<div class="raynb-foot">{"<br>".join(_esc(line) for line in foot)}</div>')
    return Rendered("".join(parts), "\n".join(lines + foot))


def _card(title: str, rows: Sequence[tuple[str, Cell]]) -> Rendered:
    """A two-column card: one row per field, multi-line values indented in the text twin."""
    body = "".join(f"<tr><th>{_esc(key)}</th><td>{cell[0]}</td></tr>" for key, cell in rows)
    width = max(len(key) for key, _ in rows)
    text = [title]
    for key, (_, value) in rows:
        first, *rest = value.split("\n")
        text.append(f"  {key.ljust(width)}  {first}".rstrip())
        text.extend(f"  {'':{width}}  {line}".rstrip() for line in rest)
    return Rendered(
        f'{_STYLE}<table class="raynb-table raynb-card"><caption>{_esc(title)}</caption>'
        f"<tbody>{body}</tbody></table>",
        "\n".join(text),
    )


def _job_duration(job: Job, now: Moment) -> float | None:
    if not _is_number(job.start_time) or not job.start_time:
        return None
    end = job.end_time if _is_number(job.end_time) and job.end_time else None
    end = end or (_to_datetime(now) or datetime.now(timezone.utc)).timestamp() * 1000
    return max(0.0, (end - job.start_time) / 1000)


def job_table(jobs: Sequence[Job], *, total: int | None = None, now: Moment = None) -> Rendered:
    """Jobs, one row each: id, status, started, duration, entrypoint, message.

    total: how many jobs matched before the caller cut the list (a ListResult carries its own).
    """
    now = _to_datetime(now) or datetime.now(timezone.utc)  # one clock reading for every row
    rows = [[
        _cell(job.id, 64, mono=True), _status_cell(job.status), _time_cell(job.start_time, now),
        _cell(human_duration(_job_duration(job, now))),
        _cell(job.entrypoint, html_width=80), _cell(job_message(job.message), html_width=60),
    ] for job in jobs]
    headers = ("id", "status", "started", "duration", "entrypoint", "message")
    return _table(headers, rows, "jobs", jobs, total)


def _env_summary(env: Any) -> str:
    """runtime_env on one line; mappings show keys only (env_vars values may be secrets)."""
    if not isinstance(env, Mapping):
        return "" if env is None else str(env)
    parts = []
    for key, value in env.items():
        if str(key).startswith("_"):  # Ray's internal bookkeeping
            continue
        if isinstance(value, Mapping) and "packages" in value:  # pip/uv/conda as {"packages": [...]}
            value = value["packages"]
        parts.append(f"{key}: {', '.join(map(str, value)) if isinstance(value, (Mapping, list)) else value}")
    return "; ".join(parts)


def job_card(job: Job, *, now: Moment = None) -> Rendered:
    """Every field of one job."""

    def when(value: Moment) -> Cell:
        rel = relative_time(value, now)
        return _cell(f"{local_time(value)} ({rel})" if rel else None, 200)

    metadata = job.metadata if isinstance(job.metadata, Mapping) else {}
    rows = [
        ("submission id", _cell(job.submission_id, 200, mono=True)),
        ("job id", _cell(job.job_id, 200, mono=True)),
        ("type", _cell(job.type, 200)),
        ("status", _status_cell(job.status)),
        ("entrypoint", _block_cell(job.entrypoint)),
        ("started", when(job.start_time)),
        ("ended", when(job.end_time)),
        ("duration", _cell(human_duration(_job_duration(job, now)))),
        ("driver exit code", _cell(job.driver_exit_code)),
        ("error type", _cell(job.error_type, 200)),
        ("message", _cell(job_message(job.message), 300)),
        ("metadata", _lines_cell([f"{k}={v}" for k, v in metadata.items()])),
        ("runtime env", _cell(_env_summary(job.runtime_env), 200)),
        ("driver node", _cell(job.driver_node_id, 200, mono=True)),
    ]
    return _card(f"Ray job {_flat(job.id)}", rows)


def node_table(nodes: Sequence[Node]) -> Rendered:
    """Nodes: id, ip, head marker, state, CPU, GPU, memory, object store (totals)."""
    rows = []
    for node in nodes:
        res = node.resources_total if isinstance(node.resources_total, Mapping) else {}
        rows.append([
            _id_cell(node.node_id), _cell(node.node_ip), _cell("head" if node.is_head_node else ""),
            _status_cell(node.state), _cell(_num(res.get("CPU"))), _cell(_num(res.get("GPU"))),
            _cell(human_bytes(res.get("memory"))), _cell(human_bytes(res.get("object_store_memory"))),
        ])
    headers = ("node", "ip", "head", "state", "CPU", "GPU", "memory", "object store")
    return _table(headers, rows, "nodes", nodes)


def task_table(tasks: Sequence[Task]) -> Rendered:
    """Tasks: id, name, state, type, job, node, error type."""
    rows = [[
        _id_cell(t.task_id), _cell(t.name), _status_cell(t.state), _cell(t.type),
        _cell(t.job_id, mono=True), _id_cell(t.node_id), _cell(t.error_type),
    ] for t in tasks]
    return _table(("id", "name", "state", "type", "job", "node", "error"), rows, "tasks", tasks)


def actor_table(actors: Sequence[Actor]) -> Rendered:
    """Actors: id, class, name, state, pid, job, node."""
    rows = [[
        _id_cell(a.actor_id), _cell(a.class_name), _cell(a.name), _status_cell(a.state),
        _cell(a.pid), _cell(a.job_id, mono=True), _id_cell(a.node_id),
    ] for a in actors]
    return _table(("id", "class", "name", "state", "pid", "job", "node"), rows, "actors", actors)


def serve_table(apps: Sequence[ServeApplication], *, now: Moment = None) -> Rendered:
    """Serve applications: name, status, route, deployments, last deployed, message."""
    rows = []
    for app in apps:
        deployments = app.deployments if isinstance(app.deployments, Mapping) else {}
        deployed = app.last_deployed_time_s * 1000 if _is_number(app.last_deployed_time_s) else None
        rows.append([
            _cell(app.name), _status_cell(app.status, serve=True), _cell(app.route_prefix),
            _cell(f"{len(deployments)}: {', '.join(map(str, deployments))}" if deployments else "0"),
            _time_cell(deployed, now), _cell(app.message, html_width=60),
        ])
    headers = ("name", "status", "route", "deployments", "last deployed", "message")
    return _table(headers, rows, "Serve applications", apps)


def bar_cell(frac: float, label: str, *, color: str = _BLUE) -> Cell:
    """A bar filled to ``frac`` (0..1) followed by ``label``; ``[####......]`` in text."""
    frac = min(max(frac, 0.0), 1.0)
    fill = f'<div style="width:{frac * 100:.1f}%;height:100%;border-radius:2px;background:{color}"></div>'
    bar = "#" * round(frac * 20)
    return f'<div style="{_BAR_STYLE}">{fill}</div>{_esc(label)}', f"[{bar:.<20}] {label}"


def _usage_cell(name: str, usage: ResourceUsage) -> Cell:
    fmt = human_bytes if name in BYTE_RESOURCES else _num
    frac = min(max(usage.used / usage.total, 0.0), 1.0) if usage.total > 0 else 0.0
    label = f"{fmt(usage.used)} / {fmt(usage.total)} ({frac:.0%})"
    return bar_cell(frac, label, color=_AMBER if frac >= 0.9 else _BLUE)


def demand_text(demand: Any) -> str:
    """One pending resource demand as text, e.g. ``{CPU: 1} × 3``."""
    return f"{_shape(demand.get('shape'))} × {_num(demand.get('count'))}"


def _shape(value: Any) -> str:
    """A resource shape such as {CPU: 1, GPU: 1}, recursing through bundles."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shape(v) for v in value) + "]"
    return _num(value)


def _link_cell(address: str) -> Cell:
    """A new-tab link for printable http(s) URLs; anything else stays plain text."""
    try:
        parts = urlsplit(address)
        linkable = parts.scheme in ("http", "https") and bool(parts.netloc) and address.isprintable()
    except ValueError:
        linkable = False
    html_, text = _cell(address, 200)
    if linkable:
        html_ = f'<a href="{_esc(address)}" target="_blank" rel="noopener noreferrer">{_esc(address)}</a>'
    return html_, text


def cluster_card(
    status: ClusterStatus, version: Version | None = None, address: str | None = None
) -> Rendered:
    """Nodes alive/dead, resource usage bars, pending demand; Ray version and dashboard link."""
    rows: list[tuple[str, Cell]] = []
    if version is not None:
        rows.append(("Ray", _cell(version.ray_version)))
    if address:
        rows.append(("dashboard", _link_cell(str(address))))
    rows.append(("nodes", _cell(f"{status.nodes_alive} alive, {status.nodes_dead} dead")))
    order = list(RESOURCE_LABELS)
    for name in sorted(status.resources, key=lambda n: (order.index(n) if n in order else len(order), n)):
        rows.append((RESOURCE_LABELS.get(name) or _flat(name), _usage_cell(name, status.resources[name])))
    demand = [demand_text(d) for d in status.pending_demand]
    rows.append(("pending", _lines_cell(demand or ["none"])))
    return _card("Ray cluster", rows)
