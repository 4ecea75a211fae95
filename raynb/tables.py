"""raynb's shared tables, read once from ``tables.json`` beside this file.

The same file is bundled into the js/ build (``js/src/lib/tables.ts``), so a snapshot that
Python renders, a live widget and the side panel give a status the same colour, end a job at
the same statuses and label resources alike. Only the standard library is imported here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "ACTION_ICONS", "BYTE_RESOURCES", "JOB_STATUSES", "JOB_TERMINAL", "KIND_COLORS", "PIPELINE_TERMINAL", "RESOURCE_LABELS",
    "SERVE_SETTLED", "SERVE_STATUSES", "STATUSES", "status_kind", "tables",
]  # fmt: skip


@cache
def tables() -> dict[str, Any]:
    """The whole of ``tables.json`` (its ``notes`` say what each table is)."""
    return json.loads((Path(__file__).parent / "tables.json").read_text(encoding="utf-8"))


_T = tables()
KIND_COLORS: dict[str, str] = _T["kinds"]  # kind -> the snapshot's colour
STATUSES: dict[str, str] = _T["statuses"]  # jobs, nodes, actors, tasks, pipelines: status -> kind
SERVE_STATUSES: dict[str, str] = _T["serve_statuses"]  # Serve applications and deployments
JOB_STATUSES: tuple[str, ...] = tuple(_T["job_statuses"])
JOB_TERMINAL: frozenset[str] = frozenset(_T["terminal"]["job"])
PIPELINE_TERMINAL: frozenset[str] = frozenset(_T["terminal"]["pipeline_run"])
SERVE_SETTLED: frozenset[str] = frozenset(_T["terminal"]["serve_settled"])
RESOURCE_LABELS: dict[str, str] = {name: label for name, (label, _) in _T["resources"].items()}  # in order
BYTE_RESOURCES: frozenset[str] = frozenset(name for name, (_, in_bytes) in _T["resources"].items() if in_bytes)
ACTION_ICONS: dict[str, str] = _T["action_icons"]  # a pipeline action's status -> its icon
_PREFIXES: tuple[tuple[str, str], ...] = tuple(_T["status_prefixes"].items())
_WORDS: tuple[tuple[str, str], ...] = tuple(_T["status_words"].items())
_UNKNOWN: str = _T["unknown_kind"]


def status_kind(status: Any, *, serve: bool = False) -> str:
    """A status's colour kind (``ok``, ``run``, ``warn``, ``err``, ``idle``), case-insensitive.

    ``serve``: read it as a Serve application's or deployment's status (there RUNNING is ``ok``).
    The other table answers next, then the status's first word and the words it contains.
    """
    name = str(status if status is not None else "").upper()
    first, second = (SERVE_STATUSES, STATUSES) if serve else (STATUSES, SERVE_STATUSES)
    kind = first.get(name) or second.get(name)
    if kind:
        return kind
    for prefix, kind in _PREFIXES:
        if name.startswith(prefix):
            return kind
    return next((kind for word, kind in _WORDS if word in name), _UNKNOWN)
