"""What runs on Ray's workers: one action run, the persistent actor, the task, the progress hub.

Progress channel of the actor and task executors: the action's :class:`Reporter` sends
snapshots (at most ~20 a second, only when the action reports) to the executor's named
:class:`ProgressHub` actor with fire-and-forget calls; the notebook polls the hub while it
waits. The final snapshot travels back with the result, so the last state is exact. A run
that reports nothing costs no extra call.
"""

from __future__ import annotations

import json
import os
import traceback
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..actions import ActionRef, Reporter, action_name, load_action
from ..errors import mask

__all__ = [
    "ActionActor", "ActionFailed", "ProgressHub", "action_key", "describe_error", "encode_call",
    "encode_result", "remote_classes", "run_action", "task_for",
]  # fmt: skip

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
            f"the result is not JSON-able ({exc}): return dicts, lists, numbers, strings "
            "or a pydantic model"
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


# -- Ray wiring of the actor and task executors ---------------------------------------------

_hubs: dict[str, Any] = {}  # hub handles this worker process has looked up, by name


def action_key(action: ActionRef) -> str:
    """An entrypoint string as it is; for a class, a key unique while the class lives."""
    if isinstance(action, str):
        return action
    return f"{action.__module__}.{action.__qualname__}@{id(action):x}"


def encode_call(
    action: str, params: dict[str, Any], hub: str, run_id: str, secret_names: Sequence[str]
) -> str:
    """One run's arguments as one JSON string: Ray passes a single string fastest."""
    call = {"action": action, "params": params, "hub": hub, "run_id": run_id, "secrets": list(secret_names)}
    return json.dumps(call)


def _run(action: ActionRef, call: dict[str, Any]) -> str:
    """Run a decoded call; ``[result, final progress]`` as JSON text, or ActionFailed."""
    hub_name, run_id = call["hub"], call["run_id"]

    def send(state: dict[str, Any]) -> None:  # looks the hub up when the action first reports
        if hub_name not in _hubs:
            import ray

            _hubs[hub_name] = ray.get_actor(hub_name)
        _hubs[hub_name].update.remote(run_id, state)

    result, progress = run_action(action, call["params"], Reporter(send=send), call["secrets"])
    return f"[{result},{json.dumps(progress)}]"


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
    """The persistent actor of :class:`~raynb.executors.RayActorExecutor`: one action at a time.

    A call's ``action`` is an entrypoint string, or the key of a class sent (as ``cls``) with
    this call or an earlier one: each class crosses the wire once per actor.
    """

    def __init__(self) -> None:
        self.classes: dict[str, type] = {}

    def run(self, call: str, cls: type | None = None) -> str:
        decoded = json.loads(call)
        if cls is not None:
            self.classes[decoded["action"]] = cls
        return _run(self.classes.get(decoded["action"], decoded["action"]), decoded)


def task_for(action: ActionRef) -> Any:
    """A Ray task running ``action``: Ray ships the function (and the class in it) to each
    worker once, so a submission carries only the encoded call."""
    import ray

    def run(call: str) -> str:
        return _run(action, json.loads(call))

    run.__name__ = run.__qualname__ = f"raynb_run_{action_name(action)}"
    return ray.remote(run)


@cache
def remote_classes() -> tuple[Any, Any]:
    """``(hub actor class, action actor class)`` wrapped by ``ray.remote``."""
    import ray

    return ray.remote(ProgressHub), ray.remote(ActionActor)
