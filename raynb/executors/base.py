"""What every executor shares: configuration, params validation, job ids, and waiting on Ray.

Waiting on a Ray call (actor and task executors) polls the executor's progress hub at most
~10 times a second, and only once the call has run for :data:`SHOW_AFTER_S`: quick calls
draw nothing and cost no extra round trip.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..actions import ActionRef, Progress, load_action
from ..errors import ExecutionError, ExecutionTimeoutError, ExecutorConfigError, ValidationError
from .connect import cluster_lacks_raynb, connect, driver_infeasible_reason, raynb_package, upload_local_dirs
from .progress import ProgressView, open_view
from .runtime_env import ExecutorConfig
from .worker import ActionFailed, remote_classes

__all__ = [
    "BaseExecutor", "RayExecutorBase", "cancel_ref", "cause_of", "execution_error", "new_job_id", "poll_hub",
    "validate_params", "wait_for_ref",
]  # fmt: skip

POLL_INTERVAL_S = 0.1
SHOW_AFTER_S = 0.25
CANCEL_GRACE_S = 5.0
HEAD_NODE = "node:__internal_head__"  # the resource Ray gives the head node only
HUB_LOST = "progress lost: the progress hub died (its node is gone); the run goes on"
_FORCED: set[str] = set()  # runs whose worker a cancel had to kill


def validate_params(cls: type, params: Any) -> dict[str, Any]:
    """``params`` checked against the action's model, as JSON-able data; ValidationError if not."""
    from pydantic import ValidationError as PydanticValidationError

    model = cls.params_model()
    if not isinstance(params, model):
        try:
            params = model.model_validate({} if params is None else params)
        except PydanticValidationError as exc:
            errors = [(".".join(map(str, e["loc"])) or "params", e["msg"]) for e in exc.errors()]
            raise ValidationError(cls.__name__, errors) from None
    return params.model_dump(mode="json")


_PY_ERROR = re.compile(r"^(?:[\w.]+\.)?\w+(?:Error|Exception|Exit): \S")
_TOOL_ERROR = re.compile(r"^(?:ERROR|error|×):? \S")  # pip's and uv's own error lines
_NO_RAYNB = "No module named 'raynb'"


def cause_of(text: str) -> str:
    """The line of a long Ray error (a runtime env that failed to build, a job's message with its
    log) that says why: the installer's last error line, else the last Python exception line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if any(_NO_RAYNB in line for line in lines):
        return ("the cluster's Python has no raynb (No module named 'raynb'): leave include_sdk at its "
                "default, so raynb is shipped, or pip install raynb on the cluster")
    for pattern in (_TOOL_ERROR, _PY_ERROR):
        if found := [line for line in lines if pattern.match(line)]:
            return found[-1]
    return lines[0] if lines else ""


def new_job_id(action: str) -> str:
    """``raynb-<action>-<random>``: unique, and valid as a Ray submission id."""
    slug = re.sub(r"[^a-z0-9]+", "-", action.lower()).strip("-")[:40] or "action"
    return f"raynb-{slug}-{secrets.token_hex(5)}"


def execution_error(exc: BaseException, job_id: str, secret_values: Sequence[str]) -> ExecutionError:
    """The ExecutionError for what ``ray.get`` raised for a run."""
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

    cause = exc.cause if isinstance(exc, RayTaskError) else exc
    if isinstance(cause, ActionFailed):
        e = cause.error
        return ExecutionError(
            job_id, e["type"], e["message"], traceback=e["traceback"], secrets=secret_values
        )
    if isinstance(exc, TaskCancelledError) or (isinstance(exc, WorkerCrashedError) and job_id in _FORCED):
        return ExecutionError(job_id, "TaskCancelledError", "the job was cancelled")
    return ExecutionError(job_id, type(exc).__name__, cause_of(str(exc)), secrets=secret_values)


def cancel_ref(ref: Any, job_id: str) -> None:
    """Cancel a task; if it still runs :data:`CANCEL_GRACE_S` later, kill its worker.

    Ray interrupts a running task with KeyboardInterrupt, but a cancel that arrives while the
    task is being started can be lost; the forced cancel makes a cancel always stop the work.
    """
    import ray

    def force_if_running() -> None:
        if not ray.wait([ref], timeout=CANCEL_GRACE_S)[0]:
            _FORCED.add(job_id)
            with contextlib.suppress(Exception):  # it ended meanwhile
                ray.cancel(ref, force=True)

    ray.cancel(ref)
    threading.Thread(target=force_if_running, name=f"raynb-cancel-{job_id}", daemon=True).start()


def wait_for_ref(
    ref: Any,
    *,
    job_id: str,
    label: str,
    hub: Any,
    timeout: float | None,
    show_progress: bool,
    secret_values: Sequence[str],
    cancel_on_timeout: bool = False,
    on_ray_error: Callable[[BaseException], Any] | None = None,
) -> Any:
    """The result of a run, drawing its progress while waiting; raises the executor errors.

    ``on_ray_error`` sees the exception ``ray.get`` raised before it becomes an ExecutionError.
    """
    import ray
    from ray.exceptions import GetTimeoutError

    started = time.monotonic()
    view: ProgressView | None = None
    while True:
        try:
            result, final = json.loads(ray.get(ref, timeout=POLL_INTERVAL_S))
            break
        except GetTimeoutError:
            pass
        except KeyboardInterrupt:
            cancel_ref(ref, job_id)
            if view is not None:
                view.finish("cancelled", "interrupted")
            raise
        except Exception as exc:
            if on_ray_error is not None:
                on_ray_error(exc)
            error = execution_error(exc, job_id, secret_values)
            if view is not None:
                cause = getattr(exc, "cause", None)
                view.update(Progress.from_dict(getattr(cause, "progress", None)) if cause else view.state)
                cancelled = error.error_type == "TaskCancelledError"
                view.finish("cancelled" if cancelled else "failed", error.summary)
            raise error from None
        elapsed = time.monotonic() - started
        if timeout is not None and elapsed >= timeout:
            if cancel_on_timeout:
                cancel_ref(ref, job_id)
            if view is not None:
                view.finish("cancelled" if cancel_on_timeout else "timed out", f"after {timeout:g}s")
            raise ExecutionTimeoutError(job_id, timeout, "RUNNING", cancelled=cancel_on_timeout)
        if show_progress and elapsed >= SHOW_AFTER_S:
            view = view or open_view(label)
            if hub is not None and (state := poll_hub(hub, job_id)) is not None:
                if state is LOST:
                    hub = None  # said once; the result still comes back with the final state
                    view.update(replace(view.state, message=HUB_LOST))
                else:
                    view.update(Progress.from_dict(state))
    if view is not None:
        view.update(Progress.from_dict(final))
        view.finish("done")
    return result


LOST: Any = object()  # what poll_hub returns once the hub is dead


def poll_hub(hub: Any, job_id: str) -> Any:
    """The hub's latest snapshot of a run; None if there is none (yet), :data:`LOST` if the hub died."""
    import ray
    from ray.exceptions import RayActorError, RayError

    try:
        return ray.get(hub.poll.remote(job_id), timeout=POLL_INTERVAL_S * 10)
    except RayActorError:
        return LOST
    except (RayError, TimeoutError):
        return None


class BaseExecutor:
    """Shared options (see :mod:`raynb.executors.runtime_env`) and helpers of the executors.

    As the seed documents name them: ``env`` (values never shown), ``job_id`` (the id of the
    next submission that names none), ``include_sdk`` (the same as ``include_raynb``),
    ``wheels_dir`` (default ``'wheels'``), ``namespace`` (the Ray namespace of this process's
    connection, as ``ray.init(namespace=...)``); and ``resources`` for custom resources, e.g.
    ``{"worker_node": 1}``. ``show_progress`` draws a progress bar while a call is waited for.
    Use an executor as a context manager, or call :meth:`shutdown`, to free what it holds.
    """

    def __init__(
        self,
        *,
        ray_address: str = "auto",
        runtime_env: Mapping[str, Any] | None = None,
        working_dir: str | None = None,
        requirements_file: str | None = None,
        package_manager: str = "pip",
        package_manager_options: Sequence[str] | None = None,
        wheels_dir: str | None = "wheels",
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: int | None = None,
        resources: Mapping[str, float] | None = None,
        env: Mapping[str, str] | None = None,
        job_id: str | None = None,
        namespace: str | None = None,
        include_raynb: bool | None = None,
        include_sdk: bool | None = None,
        show_progress: bool = True,
    ) -> None:
        if include_sdk is not None and include_raynb is not None and include_sdk != include_raynb:
            raise ExecutorConfigError("include_sdk and include_raynb are the same option: give one")
        self.config = ExecutorConfig(
            ray_address=ray_address, runtime_env=runtime_env, working_dir=_path(working_dir),
            requirements_file=_path(requirements_file), package_manager=package_manager,
            package_manager_options=tuple(package_manager_options or ()), wheels_dir=wheels_dir,
            num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, resources=resources, env=env,
            include_raynb=include_raynb if include_raynb is not None else include_sdk,
        )  # fmt: skip
        self.job_id = job_id
        self.namespace = namespace
        self.show_progress = show_progress

    def _next_job_id(self, given: str | None, name: str) -> str:
        """``given``, else the executor's ``job_id`` (once), else a new id for ``name``."""
        if given:
            return given
        if self.job_id:
            job_id, self.job_id = self.job_id, None
            return job_id
        return new_job_id(name)

    def _prepare(self, action: ActionRef, params: Any) -> tuple[ActionRef, str, dict[str, Any]]:
        """``(what to send, display name, validated params)``; raises before anything reaches Ray.

        An entrypoint string is imported here too (a local ``working_dir`` is searched first),
        so params are checked against the model the workers will use.
        """
        local_dir = self.config.working_dir
        if isinstance(action, str) and local_dir is not None and "://" not in local_dir:
            sys.path.insert(0, str(Path(local_dir).resolve()))
            try:
                cls = load_action(action)
            finally:
                sys.path.remove(str(Path(local_dir).resolve()))
        else:
            cls = load_action(action)
        return (action if isinstance(action, str) else cls), cls.__name__, validate_params(cls, params)

    def shutdown(self) -> None:
        """Free what this executor holds on the cluster."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.describe()})"


def _path(value: Any) -> str | None:
    """A folder or file option given as a str or a Path."""
    return None if value is None else str(value)


class RayExecutorBase(BaseExecutor):
    """What the actor, task and pipeline executors share: a Ray connection, uploaded folders
    (and raynb, where the cluster lacks it) and a named progress hub on the head node, set up on
    first use. Work that no node can ever run is refused before it is sent (see
    :func:`~raynb.executors.connect.infeasible_reason`)."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._hub: Any = None
        self._hub_name = f"raynb-progress-{secrets.token_hex(6)}"
        self._runtime_env: dict[str, Any] | None = None

    def _ray_options(self, label: str) -> dict[str, Any]:
        """Connect, upload local folders and start the hub (once); the Ray options of a run of
        ``label`` (an action or pipeline name, for the error of work no node can run)."""
        if self._runtime_env is None:
            connect(self.config.ray_address, self.namespace)
            if reason := driver_infeasible_reason(self.config.demand()):
                raise ExecutionError(label, "Infeasible", f"{reason}; nothing was sent: ask for less, or add such a node")
            env = upload_local_dirs(self.config.build_runtime_env())
            ship = self.config.include_raynb
            if ship or (ship is None and cluster_lacks_raynb(self.config.resources)):
                env["py_modules"] = [*(env.get("py_modules") or []), raynb_package()]
            # The hub also keeps the uploaded packages referenced while the executor lives. It
            # lives on the head: a worker node that goes away does not take the progress along.
            code = {k: env[k] for k in ("working_dir", "py_modules") if k in env}
            self._hub = remote_classes()[0].options(
                name=self._hub_name, num_cpus=0, resources={HEAD_NODE: 0.001},
                **({"runtime_env": code} if code else {}),
            ).remote()  # fmt: skip
            self._runtime_env = env
        runtime_env = {"runtime_env": self._runtime_env} if self._runtime_env else {}
        return {**runtime_env, **self.config.ray_resources()}

    def shutdown(self) -> None:
        """Kill the progress hub; a later call starts a new one."""
        import ray

        if self._hub is not None:
            ray.kill(self._hub)
        self._hub = self._runtime_env = None
        self._hub_name = f"raynb-progress-{secrets.token_hex(6)}"
