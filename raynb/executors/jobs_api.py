"""RayJobsApiExecutor: each action run is a Ray job submitted through the dashboard's Jobs API.

Params travel in an uploaded per-job package, never in env vars or the command line; the
result, error and progress come back as HMAC-signed marker lines at the end of the driver
log (see :mod:`raynb.executors.runner`), read with the shared dashboard client.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from ..actions import ActionRef, Progress, load_action
from ..client import AsyncRayClient, BadRequestError, Job, JobStatus, RayClient, StreamLimits
from ..errors import ExecutionError, ExecutionTimeoutError
from .base import POLL_INTERVAL_S, SHOW_AFTER_S, BaseExecutor, cause_of
from .connect import dashboard_infeasible_reason, raynb_package
from .progress import ProgressView, open_view
from .runner import CALL_FILE, PICKLE_FILE, Markers, split_marker

__all__ = ["RayJobsApiExecutor"]

TAIL_LINES = 200
PROGRESS_READ_S = 0.5
MAX_STATUS_POLL_S = 1.0
LOG_TAIL_IN_ERRORS = 20
_STARTING = Progress(message="starting (runtime env setup, then the driver)…")
_OUTCOME = {JobStatus.SUCCEEDED: "done", JobStatus.FAILED: "failed", JobStatus.STOPPED: "cancelled"}

# job id -> (result key, action name) of jobs submitted from this process, shared by every
# RayJobsApiExecutor: a new instance (a re-run cell) still reads their results.
_SUBMITTED: dict[str, tuple[bytes, str]] = {}


def _key(job_id: str) -> bytes | None:
    return _SUBMITTED[job_id][0] if job_id in _SUBMITTED else None


class RayJobsApiExecutor(BaseExecutor):
    """Runs each action as a Jobs API job: pick it for long runs whose logs (including the
    pip/uv setup of their runtime env) you want in Ray's job list and dashboard.

    ``dashboard_address``: argument > RAY_API_SERVER_ADDRESS > http RAY_ADDRESS > localhost:8265.
    ``ray_address`` is not used: the notebook does not become a Ray driver. Results are read
    by the process that submitted the job (it keeps the key that signs them). raynb itself is
    shipped with each job (content-addressed, uploaded once) unless ``include_sdk=False``, so
    the cluster's Python needs only pydantic (and Ray for actions defined in the notebook).
    """

    def __init__(self, dashboard_address: str | None = None, **config: Any) -> None:
        super().__init__(**config)
        self.dashboard_address = dashboard_address
        self._client: RayClient | None = None

    @property
    def client(self) -> RayClient:
        """The dashboard client this executor uses."""
        if self._client is None:
            self._client = RayClient(self.dashboard_address)
        return self._client

    def submit(self, action: ActionRef, params: Any = None, *, job_id: str | None = None) -> str:
        """Submit ``action`` with ``params`` as a job; return its id without waiting."""
        target, name, data = self._prepare(action, params)
        job_id = self._next_job_id(job_id, name)
        if reason := dashboard_infeasible_reason(self.client, self.config.demand()):
            raise ExecutionError(job_id, "Infeasible", f"{reason}; nothing was sent: ask for less, or add such a node")
        key = secrets.token_bytes(32)
        package = f"raynb_call_{secrets.token_hex(8)}"
        with tempfile.TemporaryDirectory(prefix="raynb-") as tmp:
            root = Path(tmp) / package
            root.mkdir()
            (root / "__init__.py").write_text("")
            call = {"action": _importable(target), "params": data, "key": key.hex(),
                    "secret_names": self.config.secret_names}
            (root / CALL_FILE).write_text(json.dumps(call))
            if call["action"] is None:
                import ray.cloudpickle as cloudpickle

                (root / PICKLE_FILE).write_bytes(cloudpickle.dumps(target))
            runtime_env = self.config.build_runtime_env()
            raynb = [] if self.config.include_raynb is False else [raynb_package(self.client.address)]
            runtime_env["py_modules"] = [*(runtime_env.get("py_modules") or []), *raynb, str(root)]
            self.client.submit_job(
                f"python -u -m raynb.executors.runner {package}", submission_id=job_id,
                runtime_env=runtime_env, metadata={"raynb_action": name},
                **{f"entrypoint_{k}": v for k, v in self.config.ray_resources().items()},
            )  # fmt: skip
        _SUBMITTED[job_id] = (key, name)
        return job_id

    def get_status(self, job_id: str) -> JobStatus:
        return self.client.get_job_status(job_id)

    def get_logs(self, job_id: str) -> str:
        """The job's whole log, without raynb's marker lines."""
        key = _key(job_id)
        lines = self.client.get_job_logs(job_id).splitlines()
        return "\n".join(text for line in lines if (text := split_marker(line, key)[0]))

    def stream_logs(self, job_id: str, *, timeout: float = 3600.0) -> Iterator[str]:
        """Follow the job's log (setup lines included) until it ends, markers removed; each line
        ends with its newline, so ``print(line, end='')`` prints it as it was. After ``timeout``
        seconds: ExecutionTimeoutError (the job keeps running)."""
        key, deadline = _key(job_id), time.monotonic() + timeout
        lines = self.client.tail_job_logs(job_id, stream_limits=StreamLimits.UNLIMITED)  # nothing is kept
        with contextlib.closing(lines):
            for line in lines:
                if text := split_marker(line, key)[0]:
                    yield text + "\n"
                if time.monotonic() > deadline:
                    raise ExecutionTimeoutError(job_id, timeout, str(self.get_status(job_id)))

    async def stream_logs_async(self, job_id: str, *, timeout: float = 3600.0) -> AsyncIterator[str]:
        """:meth:`stream_logs` for ``async for``, on the caller's event loop."""
        key, deadline = _key(job_id), time.monotonic() + timeout
        async with AsyncRayClient(self.client.address) as client:
            lines = client.tail_job_logs(job_id, stream_limits=StreamLimits.UNLIMITED)
            async with contextlib.aclosing(lines):
                async for line in lines:
                    if text := split_marker(line, key)[0]:
                        yield text + "\n"
                    if time.monotonic() > deadline:
                        raise ExecutionTimeoutError(job_id, timeout, str((await client.get_job(job_id)).status))

    def wait(self, job_id: str, timeout_seconds: float | None = 300, poll_interval: float = 1.0) -> JobStatus:
        """Wait (drawing progress) until the job ends; return its status (a str enum:
        ``== 'SUCCEEDED'`` works).

        The status is polled every 0.1 s for 10 s, then half as often every 10 s, down to
        ``poll_interval``; while a bar is shown, the end of the log is read every
        :data:`PROGRESS_READ_S` for the latest progress event. Raises ExecutionTimeoutError
        after ``timeout_seconds``; the job keeps running.
        """
        return self._wait(job_id, timeout_seconds, poll_interval).status

    def _wait(self, job_id: str, timeout_seconds: float | None, poll_interval: float = MAX_STATUS_POLL_S) -> Job:
        markers = Markers(_key(job_id))
        started = time.monotonic()
        view: ProgressView | None = None
        next_read = 0.0
        try:
            while not (job := self.client.get_job(job_id)).status.is_terminal():
                elapsed = time.monotonic() - started
                if timeout_seconds is not None and elapsed >= timeout_seconds:
                    if view is not None:
                        view.finish("timed out", f"after {timeout_seconds:g}s")
                    raise ExecutionTimeoutError(job_id, timeout_seconds, str(job.status))
                if self.show_progress and elapsed >= SHOW_AFTER_S:
                    name = _SUBMITTED.get(job_id, (b"", "job"))[1]
                    view = view or open_view(f"{name} ({job_id})")
                    if elapsed >= next_read and job.driver_node_id:
                        markers.feed(self.client.get_job_log_tail(job, TAIL_LINES))
                        next_read = elapsed + PROGRESS_READ_S
                    view.update(Progress.from_dict(markers.event) if markers.event else _STARTING)
                time.sleep(min(poll_interval, POLL_INTERVAL_S * 2 ** (elapsed // 10)))
        except KeyboardInterrupt:
            if view is not None:
                view.finish("cancelled", "stopped waiting; the job keeps running")
            raise
        if view is not None:
            lines = markers.feed(self.client.get_job_log_tail(job, TAIL_LINES))
            view.update(Progress.from_dict(markers.event) if markers.event else view.state)
            detail = "" if job.status == JobStatus.SUCCEEDED else self._error(job, markers, lines).summary
            view.finish(_OUTCOME.get(job.status, "failed"), detail)
        return job

    def get_result(self, job_id: str, timeout: float | None = None) -> Any:
        """The job's result, waiting for it (drawing progress) up to ``timeout`` seconds.

        Raises ExecutionError with the remote exception and the last log lines if the job
        failed or was stopped, ExecutionTimeoutError on timeout.
        """
        key = _key(job_id)
        if key is None:
            raise ExecutionError(job_id, "UnknownJob", "it was not submitted from this process, which holds "
                                 "the key of its result: read it where it was submitted, or its log with get_logs()")
        job = self._wait(job_id, timeout)
        markers = Markers(key)
        lines = markers.feed(self.client.get_job_log_tail(job, TAIL_LINES))
        needed = max(markers.expected("result"), markers.expected("error"))
        if needed and markers.payload("result") is None and markers.payload("error") is None:
            markers = Markers(key)  # a large result: read enough lines for all its chunks
            lines = markers.feed(self.client.get_job_log_tail(job, needed + TAIL_LINES))
        if job.status == JobStatus.SUCCEEDED and (result := markers.payload("result")) is not None:
            return json.loads(result)
        raise self._error(job, markers, lines)

    def stop(self, job_id: str) -> bool:
        """Ask the job to stop; True if it was running, False if it had already ended."""
        try:
            return bool(self.client.stop_job(job_id))
        except BadRequestError:
            if self.client.get_job_status(job_id).is_terminal():
                return False
            raise

    def delete(self, job_id: str) -> bool:
        """Delete a finished job (and forget its result key); True if Ray deleted it."""
        deleted = bool(self.client.delete_job(job_id))
        _SUBMITTED.pop(job_id, None)
        return deleted

    def shutdown(self) -> None:
        """Close the dashboard client; jobs keep running."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _error(self, job: Job, markers: Markers, lines: list[str]) -> ExecutionError:
        """The ExecutionError for a job that did not return a result (``lines``: its log's end)."""
        tail = lines[-LOG_TAIL_IN_ERRORS:]
        secret_values = self.config.secrets
        if (payload := markers.payload("error")) is not None:
            e = json.loads(payload)
            return ExecutionError(job.id, e["type"], e["message"], traceback=e["traceback"],
                                  log_tail=tail, secrets=secret_values)
        if job.status == JobStatus.STOPPED:
            return ExecutionError(job.id, "JobStopped", job.message or "the job was stopped",
                                  log_tail=tail, secrets=secret_values)
        message = cause_of("\n".join([job.message or "", *tail])) or "the job ended without a result"
        return ExecutionError(job.id, job.error_type or f"Job{str(job.status).title()}", message,
                              log_tail=tail, secrets=secret_values)


def _importable(target: ActionRef) -> str | None:
    """``module:qualname`` for a string or an importable class; None for one to pickle by value."""
    if isinstance(target, str):
        return target
    cls = load_action(target)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None
    return f"{cls.__module__}:{cls.__qualname__}"
