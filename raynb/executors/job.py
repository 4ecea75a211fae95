"""RayJobExecutor: each action run is a Ray task; many can be in flight at once."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..actions import ActionRef
from ..errors import ExecutionError, ExecutionTimeoutError, ExecutorConfigError
from .base import RayExecutorBase, cancel_ref, wait_for_ref
from .connect import dashboard_url
from .worker import action_key, encode_call, task_for

__all__ = ["RayJobExecutor"]

MAX_RUNS = 10_000
STATUS_POLL_S = 0.5
_TASK_STATES = {"FINISHED": "SUCCEEDED", "FAILED": "FAILED"}  # any other state: RUNNING


@dataclass
class _Run:
    ref: Any  # None once the outcome is known: a live ObjectRef costs Ray bookkeeping
    hub: Any
    name: str
    secrets: list[str]
    result: Any = None
    error: ExecutionError | None = None


# Runs submitted from this process, shared by every RayJobExecutor: a new executor instance
# (a re-run cell) still finds the status and result of jobs submitted by an earlier one.
_RUNS: OrderedDict[str, _Run] = OrderedDict()


def _task_name(job_id: str) -> str:
    return f"raynb:{job_id}"


class RayJobExecutor(RayExecutorBase):
    """Runs each action as a Ray task: pick it for many independent runs in parallel.

    ``submit`` returns a job id at once; ``get_status``, ``wait``, ``get_result`` and
    ``cancel`` take it. Runs are named ``raynb:<job id>`` in Ray, so the status of a job
    submitted elsewhere is read from Ray's task list. ``job_id`` (an option) names the next
    submission that names none. Options: see :class:`BaseExecutor`.
    """

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._tasks: dict[ActionRef, Any] = {}  # one Ray task function per action
        self._job_ids: list[str] = []  # submitted by this instance

    def submit(self, action: ActionRef, params: Any = None, *, job_id: str | None = None) -> str:
        """Start ``action`` with ``params``; return its job id without waiting."""
        target, name, data = self._prepare(action, params)
        job_id = self._next_job_id(job_id, name)
        if job_id in _RUNS:
            raise ExecutorConfigError(f"job id {job_id!r} is already in use: pick another or leave it out")
        options = self._ray_options(name)
        if target not in self._tasks:
            self._tasks[target] = task_for(target)
        secret_names = self.config.secret_names
        call = encode_call(action_key(target), data, self._hub_name, job_id, secret_names)
        ref = self._tasks[target].options(name=_task_name(job_id), **options).remote(call)
        _RUNS[job_id] = _Run(ref, self._hub, name, self.config.secrets)
        self._job_ids.append(job_id)
        while len(_RUNS) > MAX_RUNS:
            _RUNS.popitem(last=False)
        return job_id

    def get_status(self, job_id: str) -> str:
        """'RUNNING' (submitted, not ended: also while Ray still schedules it), 'SUCCEEDED',
        'FAILED' (also when cancelled) or 'UNKNOWN' (a job id this cluster does not know)."""
        import ray

        run = _RUNS.get(job_id)
        if run is not None:
            if run.ref is None or ray.wait([run.ref], timeout=0)[0]:
                with contextlib.suppress(ExecutionError):
                    self._wait(job_id, 0)
                return "FAILED" if run.error else "SUCCEEDED"
            return "RUNNING"
        return self._task_status(job_id) or "UNKNOWN"

    def wait(self, job_id: str, timeout_seconds: float = 300) -> str:
        """Wait (drawing progress) until the job ends; 'SUCCEEDED', or ExecutionError if it
        failed or was cancelled, ExecutionTimeoutError (an ExecutionError) after
        ``timeout_seconds`` (the job keeps running)."""
        if job_id in _RUNS:
            self._wait(job_id, timeout_seconds)
            return "SUCCEEDED"
        deadline = time.monotonic() + timeout_seconds
        while (status := self.get_status(job_id)) == "RUNNING":
            if time.monotonic() > deadline:
                raise ExecutionTimeoutError(job_id, timeout_seconds, status)
            time.sleep(STATUS_POLL_S)
        if status == "FAILED":
            raise ExecutionError(job_id, "JobFailed", "Ray lists its task FAILED (the process that "
                                 "submitted it holds the error)")
        if status == "UNKNOWN":
            raise ExecutionError(job_id, "UnknownJob", "this cluster has no task for that job id: check it")
        return status

    def get_result(self, job_id: str, timeout: float | None = None) -> Any:
        """The job's result, waiting for it (drawing progress) up to ``timeout`` seconds.

        Raises ExecutionError if it failed or was cancelled, ExecutionTimeoutError on timeout.
        Results are kept by the process that submitted the job.
        """
        if job_id not in _RUNS:
            raise KeyError(f"job {job_id!r} was not submitted from this process: its result is elsewhere")
        return self._wait(job_id, timeout)

    def cancel(self, job_id: str) -> bool:
        """Cancel the job if it has not finished; True if it was still running or pending."""
        import ray

        run = _RUNS.get(job_id)
        if run is None or run.ref is None or ray.wait([run.ref], timeout=0)[0]:
            return False
        cancel_ref(run.ref, job_id)
        return True

    def shutdown(self) -> None:
        """Cancel this executor's unfinished jobs and kill its progress hub."""
        for job_id in self._job_ids:
            self.cancel(job_id)
        self._job_ids.clear()
        self._tasks.clear()
        super().shutdown()

    def _wait(self, job_id: str, timeout: float | None) -> Any:
        """The run's result (or its ExecutionError), kept once known and the ObjectRef dropped."""
        run = _RUNS[job_id]
        if run.ref is not None:
            try:
                run.result = wait_for_ref(
                    run.ref, job_id=job_id, label=f"{run.name} ({job_id})", hub=run.hub, timeout=timeout,
                    show_progress=self.show_progress, secret_values=run.secrets,
                )  # fmt: skip
            except ExecutionTimeoutError:  # a timeout is not an outcome: it propagates
                raise
            except ExecutionError as exc:
                run.error = exc
            run.ref = None
        if run.error is not None:
            raise run.error.with_traceback(None)
        return run.result

    def _task_status(self, job_id: str) -> str | None:
        """The status Ray's task list tells for the job, if it knows the task."""
        from ..client import RayClient, RayClientError

        try:
            with RayClient(dashboard_url()) as client:
                tasks = client.list_tasks(filters={"name": _task_name(job_id)}, limit=100)
        except RayClientError:
            return None
        if not tasks:
            return None
        latest = max(tasks, key=lambda t: t.attempt_number or 0)
        return _TASK_STATES.get(latest.state or "", "RUNNING")
