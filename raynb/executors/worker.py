"""What runs on Ray's workers: one action run, the persistent actor, the task, the progress hub.

Progress channel of the actor and task executors: the action's :class:`Reporter` sends
snapshots (at most ~20 a second, only when the action reports) to the executor's
:class:`ProgressHub` actor with fire-and-forget calls; the notebook polls the hub while it
waits. The final snapshot travels back with the result, so the last state is exact.
"""

from __future__ import annotations

import json
import os
import traceback
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..actions import ActionRef, Reporter, load_action
from .errors import mask

__all__ = ["ActionFailed", "ProgressHub", "describe_error", "encode_result", "remote_classes", "run_action"]

MAX_HUB_RUNS = 10_000
TRACEBACK_FRAMES = 8


class ActionFailed(Exception):
    """Raised on a worker when the action failed; carries the failure and last progress as data."""

    def __init__(self, error: dict[str, str], progress: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error
        self.progress = progress

    def __reduce__(self) -> Any:
        return ActionFailed, (self.error, self.progress)


def encode_result(value: Any) -> str:
    """The action's result as JSON text (a pydantic model is dumped in JSON mode)."""
    if hasattr(value, "model_dump") and callable(value.model_dump):
        value = value.model_dump(mode="json")
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the result is not JSON-able ({exc}): return dicts, lists, numbers, strings or a pydantic model"
        ) from None


def describe_error(exc: BaseException, secret_names: Sequence[str]) -> dict[str, str]:
    """Type, message and a short traceback of ``exc``, with env var values masked."""
    secrets = [os.environ.get(name, "") for name in secret_names]
    frames = traceback.extract_tb(exc.__traceback__)[1:][-TRACEBACK_FRAMES:]  # drop run_action's frame
    summary = "".join(traceback.format_list(frames)).rstrip()
    return {
        "type": type(exc).__name__,
        "message": mask(str(exc), secrets),
        "traceback": mask(summary, secrets),
    }


def run_action(
    action: ActionRef, params: dict[str, Any], reporter: Reporter, secret_names: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """Validate ``params`` and run the action; ``(result JSON, final progress)`` or ActionFailed."""
    try:
        cls = load_action(action)
        instance = cls(cls.params_model().model_validate(params), reporter)
        result = encode_result(instance.execute())
    except Exception as exc:
        raise ActionFailed(describe_error(exc, secret_names), reporter.close()) from None
    return result, reporter.close()


def _hub_reporter(hub: Any, run_id: str) -> Reporter:
    return Reporter(send=lambda state: hub.update.remote(run_id, state))


class ProgressHub:
    """Latest progress snapshot of each run (bounded); one per executor."""

    def __init__(self) -> None:
        self.states: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def update(self, run_id: str, state: dict[str, Any]) -> None:
        self.states[run_id] = state
        self.states.move_to_end(run_id)
        while len(self.states) > MAX_HUB_RUNS:
            self.states.popitem(last=False)

    def poll(self, run_id: str) -> dict[str, Any] | None:
        return self.states.get(run_id)


class ActionActor:
    """The persistent actor of :class:`~raynb.executors.RayActorExecutor`: runs one action at a time."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def run(
        self, action: ActionRef, params: dict[str, Any], run_id: str, secret_names: Sequence[str]
    ) -> tuple[str, dict[str, Any]]:
        return run_action(action, params, _hub_reporter(self.hub, run_id), secret_names)


def run_task(
    action: ActionRef, params: dict[str, Any], hub: Any, run_id: str, secret_names: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """The Ray task of :class:`~raynb.executors.RayJobExecutor`: one action run."""
    return run_action(action, params, _hub_reporter(hub, run_id), secret_names)


@cache
def remote_classes() -> tuple[Any, Any, Any]:
    """``(hub actor class, action actor class, task function)`` wrapped by ``ray.remote``."""
    import ray

    return ray.remote(ProgressHub), ray.remote(ActionActor), ray.remote(run_task)
