"""RayActorExecutor: actions on one persistent Ray actor, reused across calls."""

from __future__ import annotations

import asyncio
from typing import Any

from ..actions import ActionRef
from .base import BaseExecutor, new_job_id, wait_for_ref
from .connect import connect, upload_local_dirs
from .worker import remote_classes

__all__ = ["RayActorExecutor"]


class RayActorExecutor(BaseExecutor):
    """Runs actions one at a time on a persistent actor: pick it for many quick calls.

    The actor (and its runtime env) is created on the first call and reused, so later
    calls cost one actor round trip. If the actor has died (killed, crashed, its node
    lost), the next call starts a new one; a call that was running when it died raises
    :class:`ExecutionError` (``ActorDiedError``). Options: see :class:`BaseExecutor`.
    """

    _actor: Any = None
    _hub: Any = None

    def execute(self, action: ActionRef, params: Any = None, *, timeout: float | None = None) -> Any:
        """Run ``action`` with ``params`` on the actor and return its result.

        Raises ValidationError (before anything is sent), ExecutionError, or
        ExecutionTimeoutError after ``timeout`` seconds (the call is cancelled).
        """
        ref, job_id, name = self._submit(action, params)
        return self._wait(ref, job_id, name, timeout)

    async def execute_async(
        self, action: ActionRef, params: Any = None, *, timeout: float | None = None
    ) -> Any:
        """:meth:`execute` for ``await``: the event loop stays free while the action runs."""
        import ray

        ref, job_id, name = self._submit(action, params)
        try:
            return await asyncio.to_thread(self._wait, ref, job_id, name, timeout)
        except asyncio.CancelledError:
            ray.cancel(ref)
            raise

    def shutdown(self) -> None:
        """Kill the actor and the progress hub; a later call starts new ones."""
        import ray

        for handle in (self._actor, self._hub):
            if handle is not None:
                ray.kill(handle)
        self._actor = self._hub = None

    def _submit(self, action: ActionRef, params: Any) -> tuple[Any, str, str]:
        import ray
        from ray.exceptions import RayActorError

        target, name, data = self._prepare(action, params)
        job_id = new_job_id(name)
        for _ in range(2):
            ref = self._ensure_actor().run.remote(target, data, job_id, self.config.secret_names)
            # A call to an actor already known dead fails at once, without running: retry it
            # on a new actor. A call accepted by a live actor is never sent twice.
            if not ray.wait([ref], timeout=0)[0]:
                break
            try:
                ray.get(ref, timeout=0)
                break
            except RayActorError:
                self._actor = None
            except Exception:
                break
        return ref, job_id, name

    def _wait(self, ref: Any, job_id: str, name: str, timeout: float | None) -> Any:
        return wait_for_ref(
            ref, job_id=job_id, label=f"{name} ({job_id})", hub=self._hub, timeout=timeout,
            show_progress=self.show_progress, secret_values=self.config.secrets,
            cancel_on_timeout=True, on_ray_error=self._on_ray_error,
        )  # fmt: skip

    def _on_ray_error(self, exc: BaseException) -> None:
        from ray.exceptions import RayActorError

        if isinstance(exc, RayActorError):
            self._actor = None  # the next call starts a new actor

    def _ensure_actor(self) -> Any:
        if self._actor is not None:
            return self._actor
        connect(self.config.ray_address)
        hub_cls, actor_cls, _ = remote_classes()
        runtime_env = upload_local_dirs(self.config.build_runtime_env())
        if self._hub is None:
            code = {k: runtime_env[k] for k in ("working_dir", "py_modules") if k in runtime_env}
            self._hub = hub_cls.options(num_cpus=0, runtime_env=code).remote()
        self._actor = actor_cls.options(runtime_env=runtime_env, **self.config.resources()).remote(self._hub)
        return self._actor
