"""What a pipeline is and what its runs look like: the models the executor, the service, the
client and the progress widget share.

- :class:`PipelineDefinition`: a name and actions run in order (classes or entrypoint strings).
- :class:`PipelineProgress`: one run as a snapshot (its :class:`ActionProgress` rows, overall
  progress, timestamps); every SSE ``progress`` event carries one.
- :class:`Checkpoint`: written after each completed action; :class:`LogLine`: a run log line.
- ``*Report`` models: the bodies the Ray worker posts to the service (validated there: 4xx).

Timestamps are timezone-aware UTC datetimes (ISO 8601 in JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..tables import PIPELINE_TERMINAL

__all__ = [
    "ActionProgress", "ActionReport", "ActionStatus", "Checkpoint", "CheckpointReport", "LogLine",
    "LogReport", "PipelineDefinition", "PipelineProgress", "RunCreate", "RunStatus",
]  # fmt: skip


class RunStatus(str, Enum):
    """Where a pipeline run is; COMPLETED, FAILED and CANCELLED are final (raynb/tables.json)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    def is_terminal(self) -> bool:
        return self.value in PIPELINE_TERMINAL

    def __str__(self) -> str:
        return self.value


class ActionStatus(str, Enum):
    """Where one action of a run is; SKIPPED means done by the run this one resumed."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"

    def is_done(self) -> bool:
        """Completed here or in the resumed run: a resume does not run it again."""
        return self in (ActionStatus.COMPLETED, ActionStatus.SKIPPED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PipelineDefinition:
    """A named list of actions run in order; each gets the params accumulated so far.

    ``actions`` are :class:`~raynb.actions.Action` subclasses or entrypoint strings
    (``pkg.module:Class``). An action's name is its class name; names identify actions
    when a run is resumed.
    """

    name: str
    actions: Sequence[Any]
    description: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a pipeline needs a non-empty name")
        if isinstance(self.actions, str) or not list(self.actions):
            raise ValueError(f"pipeline {self.name!r} needs a list of one or more actions")
        object.__setattr__(self, "actions", tuple(self.actions))

    @property
    def action_names(self) -> list[str]:
        from ..actions import action_name

        return [action_name(a) for a in self.actions]


class ActionProgress(BaseModel):
    """One action of a run: status, progress 0..1, last message, metrics, times, error."""

    index: int
    name: str
    status: ActionStatus = ActionStatus.PENDING
    progress: float = Field(0.0, ge=0.0, le=1.0)
    message: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class PipelineProgress(BaseModel):
    """A snapshot of one run. ``seq`` is the id of the last event it reflects."""

    run_id: str
    name: str
    pipeline: str
    description: str | None = None
    status: RunStatus
    current_action: str | None = None
    current_action_index: int | None = None
    actions: list[ActionProgress]
    overall_progress: float = Field(0.0, ge=0.0, le=1.0)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    resumed_from: str | None = None
    error: str | None = None
    seq: int = 0


class Checkpoint(BaseModel):
    """Written after an action completed: ``params_snapshot`` is the accumulated params the
    next action receives (the action's dict result merged in)."""

    run_id: str
    action_name: str
    action_index: int
    status: ActionStatus
    params_snapshot: dict[str, Any]
    result: Any = None
    created_at: datetime


class LogLine(BaseModel):
    """A line of a run's log (an action's ``self.log``, or the run's own notes)."""

    id: int
    run_id: str
    action_index: int | None = None
    action_name: str | None = None
    level: str = "info"
    message: str
    created_at: datetime


# -- bodies posted to the service -------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCreate(_Body):
    """A new run (its id chosen by the executor); ``skipped`` actions come from ``resumed_from``."""

    run_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    name: str = Field(min_length=1, max_length=200)
    pipeline: str = Field(min_length=1, max_length=200)
    description: str | None = None
    actions: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    resumed_from: str | None = None
    skipped: int = Field(0, ge=0)


class ActionReport(_Body):
    """A change of one action: status, progress, message, metrics, error (all optional)."""

    status: ActionStatus | None = None
    progress: float | None = Field(None, ge=0.0, le=1.0)
    message: str | None = None
    metrics: dict[str, Any] | None = None
    error: str | None = None


class CheckpointReport(_Body):
    """An action completed: its result and the accumulated params after it."""

    action_index: int = Field(ge=0)
    params_snapshot: dict[str, Any]
    result: Any = None


class LogReport(_Body):
    """Log lines of one action (or of the run, without an index)."""

    action_index: int | None = Field(None, ge=0)
    level: str = Field("info", max_length=20)
    messages: list[str] = Field(min_length=1, max_length=1000)
