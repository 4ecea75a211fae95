"""RayPipelineExecutor: a pipeline's actions in order on one Ray actor per run, with progress,
checkpoints and logs kept by the pipeline service (:mod:`raynb.pipeline`).

Each action gets the params accumulated so far: the run's params with every earlier action's
dict result merged in (an action sees the fields its params model declares). After each
completed action a checkpoint holds that accumulated dict. A run resumed from a failed or
cancelled one skips the actions that run completed and starts from its latest checkpoint.

The service is the one answering at ``pipeline_service_url``; if none answers, one is started
in this process with a random token (:mod:`raynb.pipeline.embedded`), once. The run actors are
followed by :class:`~raynb.pipeline.watch.RunWatcher`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..actions import ActionRef, action_name, load_action
from ..errors import (
    ExecutionError,
    ExecutionTimeoutError,
    PipelineResumeError,
    RayClientError,
    ServerError,
    UnavailableError,
)
from ..pipeline import DEFAULT_URL
from ..pipeline.models import (
    Checkpoint,
    LogLine,
    PipelineDefinition,
    PipelineProgress,
    RunCreate,
    RunStatus,
)  # fmt: skip
from ..pipeline.watch import NAMESPACE, RunWatcher, actor_dead, actor_name, fail_quietly
from ..pipeline.worker import params_for, remote_pipeline_actor
from .base import RayExecutorBase, new_job_id, validate_params
from .connect import connect, dashboard_url

__all__ = ["PipelineDefinition", "RayPipelineExecutor", "run_error"]

ORPHAN_GRACE_S = 60.0  # a PENDING run whose actor is not there yet is not an orphan before this
_definitions: dict[str, PipelineDefinition] = {}  # pipeline of each run submitted from this process
_TYPED = re.compile(r"([A-Za-z_][\w.]*): (.+)", re.S)  # "<ErrorType>: <message>"


def run_error(run: PipelineProgress, secrets: Sequence[str] = ()) -> ExecutionError:
    """The ExecutionError of a run that ended FAILED or CANCELLED: ``error_type`` is the failing
    action's error type (or Ray's, e.g. ActorDiedError), ``Cancelled`` for a cancelled run."""
    if run.status is RunStatus.CANCELLED:
        kind, message = "Cancelled", "the run was cancelled"
    elif match := _TYPED.fullmatch(run.error or ""):
        kind, message = match.groups()
    else:
        kind, message = "PipelineFailed", run.error or "the run failed"
    return ExecutionError(run.run_id, kind, message, secrets=secrets)


class RayPipelineExecutor(RayExecutorBase):
    """Runs pipelines on Ray; progress, checkpoints and logs live in the pipeline service.

    ``pipeline_service_url``: the service this notebook talks to (if none answers, one is
    started in this process, with a random token of its own); ``actor_pipeline_service_url``:
    the URL the Ray actors report to, when they reach the service by another address (default:
    the same); ``pipeline_service_token``: the bearer token of a service you started (default
    ``$RAYNB_PIPELINE_TOKEN``). Other options: see :class:`BaseExecutor`;
    ``num_cpus``/``num_gpus``/``memory`` are the run actor's.
    """

    def __init__(
        self,
        ray_address: str = "auto",
        working_dir: str | None = None,
        pipeline_service_url: str = DEFAULT_URL,
        actor_pipeline_service_url: str | None = None,
        *,
        pipeline_service_token: str | None = None,
        **options: Any,
    ) -> None:
        import os

        super().__init__(ray_address=ray_address, working_dir=working_dir, **options)
        self.pipeline_service_url = pipeline_service_url.rstrip("/")
        self.actor_pipeline_service_url = actor_pipeline_service_url
        self._token = pipeline_service_token or os.environ.get("RAYNB_PIPELINE_TOKEN") or None
        self._client: Any = None
        self._service_token: str | None = None  # the token of the service the client talks to
        self._lock = threading.Lock()
        self._watcher = RunWatcher(lambda: self.service)

    @property
    def service(self) -> Any:
        """The :class:`~raynb.pipeline.client.PipelineServiceClient` (found or started on first use):
        the embedded service this or another process of yours started at the URL, else the
        service answering there, else a new embedded one."""
        with self._lock:
            if self._client is None:
                from ..pipeline.client import PipelineServiceClient
                from ..pipeline.embedded import find_embedded, start_embedded

                embedded = find_embedded(self.pipeline_service_url)
                if embedded is None:
                    client = PipelineServiceClient(self.pipeline_service_url, self._token)
                    if client.is_service():
                        self._client, self._service_token = client, self._token
                        return client
                    client.close()
                    embedded = start_embedded(self.pipeline_service_url)
                self._client = PipelineServiceClient(embedded.url, embedded.token)
                self._service_token = embedded.token
            return self._client

    # -- starting runs ---------------------------------------------------------------------

    def submit(
        self,
        pipeline: PipelineDefinition | Sequence[ActionRef],
        params: Any = None,
        *,
        name: str | None = None,
        resume_from: str | None = None,
        show: bool = True,
    ) -> str:
        """Start a run of ``pipeline`` (or of a list of actions) and return its run id at once.

        In a Jupyter kernel the run's progress widget is shown under the cell (unless ``show``
        or the executor's ``show_progress`` is False).

        ``resume_from=RUN_ID`` starts a new run that skips the actions that run completed
        (SKIPPED) and restores the params of its latest checkpoint; ``params`` given here
        override the restored ones. It raises :class:`PipelineResumeError` if that run has not
        ended or the pipeline's actions changed at those positions. The params the first action
        to run receives are validated here (ValidationError); later ones on Ray.
        """
        definition = pipeline if isinstance(pipeline, PipelineDefinition) else PipelineDefinition(
            name or "pipeline", pipeline)
        classes = [self._load(a) for a in definition.actions]
        names = definition.action_names
        given = params.model_dump(mode="json") if hasattr(params, "model_dump") else dict(params or {})
        start, restored = self._restore(resume_from, names) if resume_from else (0, {})
        accumulated = {**restored, **given}
        if start < len(classes):
            validate_params(classes[start], params_for(classes[start], accumulated))
        options = self._ray_options(definition.name) if start < len(classes) else {}
        run_id = new_job_id(definition.name)
        self.service.create_run(RunCreate(
            run_id=run_id, name=name or definition.name, pipeline=definition.name,
            description=definition.description, actions=names, params=accumulated,
            resumed_from=resume_from, skipped=start,
        ))  # fmt: skip
        _definitions[run_id] = definition
        if start < len(classes):
            self._start_actor(run_id, definition, start, accumulated, options)
        if show:
            self._show(run_id)
        return run_id

    def resume(self, run_id: str, params: Any = None, *, show: bool = True) -> str:
        """Resume a failed or cancelled run submitted from this process (see :meth:`submit`);
        the new run id. ``params`` override the restored ones."""
        if run_id not in _definitions:
            raise PipelineResumeError(
                f"cannot resume {run_id}: this process did not submit it, so its actions are unknown; "
                "call submit(pipeline, resume_from=RUN_ID)")
        old = self.get_progress(run_id)
        return self.submit(_definitions[run_id], params, name=old.name, resume_from=run_id, show=show)

    def _load(self, action: ActionRef) -> type:
        """The action's class; an entrypoint string is looked up in a local working_dir first."""
        folder = self.config.working_dir
        if not isinstance(action, str) or folder is None or "://" in folder:
            return load_action(action)
        path = str(Path(folder).resolve())
        sys.path.insert(0, path)
        try:
            return load_action(action)
        finally:
            sys.path.remove(path)

    def _restore(self, run_id: str, names: list[str]) -> tuple[int, dict[str, Any]]:
        """``(actions to skip, params to restore)`` for resuming ``run_id``, or PipelineResumeError."""
        old = self.get_progress(run_id)
        if not old.status.is_terminal():
            raise PipelineResumeError(
                f"cannot resume {run_id}: it is still {old.status}; wait for it or cancel it first")
        done = 0
        while done < len(old.actions) and old.actions[done].status.is_done():
            done += 1
        before = [a.name for a in old.actions[:done]]
        if names[:done] != before:
            raise PipelineResumeError(
                f"cannot resume {run_id}: its completed actions {before} no longer match the pipeline's "
                f"first actions {names[:done]}; submit without resume_from to start over")
        if done == 0:
            return 0, self.service.result(run_id)["params"]
        checkpoints = [c for c in self.service.checkpoints(run_id) if c.action_index == done - 1]
        if not checkpoints:
            raise PipelineResumeError(f"cannot resume {run_id}: the checkpoint of {before[-1]} is missing")
        return done, checkpoints[-1].params_snapshot

    def _start_actor(self, run_id: str, definition: PipelineDefinition, start: int,
                     params: dict[str, Any], options: dict[str, Any]) -> None:
        service = self.service
        reports_to = self.actor_pipeline_service_url or service.url
        call = json.dumps({
            "run_id": run_id, "service_url": reports_to, "token": self._service_token,
            "actions": [a if isinstance(a, str) else action_name(a) for a in definition.actions],
            "start": start, "params": params, "secret_names": self.config.secret_names,
        })  # fmt: skip
        from ray import cloudpickle

        # Pickled here, unpickled in the actor: a Ray Client server need not import the classes.
        classes = cloudpickle.dumps([a if isinstance(a, type) else None for a in definition.actions])
        try:
            actor = remote_pipeline_actor().options(name=actor_name(run_id), namespace=NAMESPACE, **options).remote()
            ref = actor.run.remote(call, classes)
        except Exception as exc:
            service.fail(run_id, f"{type(exc).__name__}: could not start the run on Ray")
            raise
        self._watcher.add(run_id, actor, ref, reports_to)

    def _show(self, run_id: str) -> None:
        """The progress widget under the cell (in a Jupyter kernel with show_progress)."""
        from .progress import in_kernel

        if self.show_progress and in_kernel():
            from ..widgets.pipeline import PipelineProgressWidget

            PipelineProgressWidget(self, run_id).show()

    # -- following runs --------------------------------------------------------------------

    def get_status(self, run_id: str) -> RunStatus:
        return self.get_progress(run_id).status

    def get_progress(self, run_id: str) -> PipelineProgress:
        return self._settle([self.service.get_run(run_id)])[0]

    def list_runs(self, limit: int = 50) -> list[PipelineProgress]:
        """The latest runs the service knows, newest first."""
        return self._settle(self.service.list_runs(limit))

    def _settle(self, runs: list[PipelineProgress]) -> list[PipelineProgress]:
        """``runs``, those left unfinished by a driver that is gone marked FAILED.

        A run's actor lives as long as the process that submitted it; when that process ended
        (a kernel restart), the service still holds the run as RUNNING and nothing will end it.
        Such a run is failed here, so it can be resumed: when this executor's cluster lists the
        run's actor, and only as DEAD. A run whose actor this cluster never had (it runs on
        another cluster sharing the service) is left as it is; a PENDING one gets
        :data:`ORPHAN_GRACE_S` to start its actor.
        """
        now = time.time()
        candidates = [
            run.run_id for run in runs
            if not run.status.is_terminal() and run.run_id not in self._watcher
            and (run.status is not RunStatus.PENDING or now - run.created_at.timestamp() >= ORPHAN_GRACE_S)
        ]  # fmt: skip
        if not candidates:
            return runs
        from ..client import RayClient

        try:
            connect(self.config.ray_address, self.namespace)
            with RayClient(dashboard_url()) as client:
                orphans = {run_id for run_id in candidates if actor_dead(client, run_id)}
        except Exception:  # Ray or its dashboard unreachable: the service's word stands
            return runs
        for run_id in orphans:
            fail_quietly(self.service, run_id, (
                "ActorDiedError: its Ray actor is gone (the process that submitted it ended); resume it "
                f"with submit(pipeline, resume_from={run_id!r})"))
        return [self.service.get_run(run.run_id) if run.run_id in orphans else run for run in runs]

    def get_checkpoints(self, run_id: str) -> list[Checkpoint]:
        return self.service.checkpoints(run_id)

    def get_logs(self, run_id: str, action: str | int | None = None) -> list[LogLine]:
        """The run's log lines (the actions' ``self.log`` and printed lines), of one action if given
        (by name or index)."""
        if isinstance(action, str):
            names = [a.name for a in self.service.get_run(run_id).actions]
            if action not in names:
                raise ValueError(f"run {run_id} has no action {action!r}; its actions are {names}")
            action = names.index(action)
        lines: list[LogLine] = []
        while batch := self.service.logs(run_id, action, after=lines[-1].id if lines else 0):
            lines += batch
        return lines

    def stream_progress(self, run_id: str, timeout: float = 3600.0) -> Iterator[PipelineProgress]:
        """Snapshots of the run as they change (SSE), the last one its final state;
        ExecutionTimeoutError if it has not ended after ``timeout`` seconds."""
        self.get_progress(run_id)  # a run left by a dead driver is failed, so the stream ends
        last: PipelineProgress | None = None
        for _, event in self.service.events(run_id, timeout=timeout):
            if isinstance(event, PipelineProgress):
                last = event
                yield event
        if last is None or not last.status.is_terminal():
            raise ExecutionTimeoutError(run_id, timeout, (last or self.get_progress(run_id)).status.value)

    async def stream_progress_async(self, run_id: str, timeout: float = 3600.0) -> AsyncIterator[PipelineProgress]:
        """:meth:`stream_progress` for ``async for``."""
        await asyncio.to_thread(self.get_progress, run_id)  # as in stream_progress
        last: PipelineProgress | None = None
        async for _, event in self.service.aevents(run_id, timeout=timeout):
            if isinstance(event, PipelineProgress):
                last = event
                yield event
        if last is None or not last.status.is_terminal():
            last = last or await asyncio.to_thread(self.get_progress, run_id)
            raise ExecutionTimeoutError(run_id, timeout, last.status.value)

    def wait(self, run_id: str, timeout_seconds: float = 3600, poll_interval: float = 5.0) -> PipelineProgress:
        """Wait until the run ends and return its final :class:`PipelineProgress`.

        Raises :class:`ExecutionError` if the run FAILED (``error_type``: the failing action's
        error type, or Ray's, e.g. ActorDiedError) or was CANCELLED (``error_type`` "Cancelled"),
        and :class:`ExecutionTimeoutError` (an ExecutionError too) after ``timeout_seconds``. The
        run is followed over its SSE stream; ``poll_interval`` is the seconds between reads of
        the run when that stream cannot be used (it cannot be opened, or stays broken 30 s).
        """
        deadline = time.monotonic() + timeout_seconds
        try:
            for final in self.stream_progress(run_id, timeout=timeout_seconds):  # the last is the final state
                pass
        except (UnavailableError, ServerError):  # the stream cannot be used: poll instead
            while not (final := self.get_progress(run_id)).status.is_terminal():
                if (left := deadline - time.monotonic()) <= 0:
                    raise ExecutionTimeoutError(run_id, timeout_seconds, final.status.value) from None
                time.sleep(min(poll_interval, left))
        if final.status is not RunStatus.COMPLETED:
            raise run_error(final, self.config.secrets)
        return final

    def get_result(self, run_id: str, timeout: float = 3600) -> dict[str, Any]:
        """The accumulated params of a completed run, waiting for it as :meth:`wait` does
        (ExecutionError if it failed, was cancelled or did not end in time)."""
        self.wait(run_id, timeout)
        return self.service.result(run_id)["result"]

    def cancel(self, run_id: str) -> bool:
        """Cancel the run: the service marks it CANCELLED and its Ray actor is killed. True if it
        had not ended."""
        import ray

        try:
            self.service.cancel(run_id)
            cancelled = True
        except RayClientError as exc:
            if exc.status_code != 409:
                raise
            cancelled = False  # it had ended
        actor = self._watcher.forget(run_id)
        if actor is None:  # submitted elsewhere: find its actor by name
            connect(self.config.ray_address, self.namespace)
            try:
                actor = ray.get_actor(actor_name(run_id), namespace=NAMESPACE)
            except ValueError:
                actor = None  # gone already
        if actor is not None:
            ray.kill(actor, no_restart=True)
        return cancelled

    def close(self) -> None:
        """Cancel this executor's runs still going on, close the service client, free the hub."""
        for run_id in self._watcher.run_ids():
            self.cancel(run_id)
        if self._client is not None:
            self._client.close()
            self._client = None
        super().shutdown()

    def shutdown(self) -> None:
        self.close()
