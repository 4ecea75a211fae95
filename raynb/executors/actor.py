"""RayActorExecutor: actions on one persistent Ray actor, reused across calls."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from ..actions import ActionRef
from .base import RayExecutorBase, new_job_id, wait_for_ref
from .worker import action_key, encode_call, remote_classes

__all__ = ["RayActorExecutor", "RayTaskExecutor"]


class RayActorExecutor(RayExecutorBase):
    """Runs actions one at a time on a persistent actor: pick it for many quick calls.

    The actor (and its runtime env) is created on the first call and reused, so later
    calls cost one actor round trip. If the actor died (killed, crashed, its node lost)
    and Ray knows it, the next call starts a new actor and runs there; a call that was
    running (or in flight) when it died raises :class:`ExecutionError` (``ActorDiedError``)
    and the call after it gets a new actor. No call runs twice. Each action class is sent
    to the actor once. With ``job_id``, calls are tracked as ``<job_id>-1``, ``<job_id>-2``...
    Options: see :class:`BaseExecutor`.
    """

    _actor: Any = None
    _actor_has: frozenset[type] = frozenset()  # classes the current actor was sent
    _calls = itertools.count(1)

    def execute(self, action: ActionRef, params: Any = None, *, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run ``action`` with ``params`` on the actor and return its result.

        Raises ValidationError (before anything is sent), ExecutionError, or
        ExecutionTimeoutError after ``timeout`` seconds (the call is cancelled). Other keywords
        are ignored, as the seed documents have it (for protocol compatibility).
        """
        return self._wait(*self._submit(action, params), timeout)

    async def execute_async(
        self, action: ActionRef, params: Any = None, *, timeout: float | None = None
    ) -> Any:
        """:meth:`execute` for ``await``: the event loop stays free while the action runs."""
        import ray

        ref, *call = self._submit(action, params)
        try:
            return await asyncio.to_thread(self._wait, ref, *call, timeout)
        except asyncio.CancelledError:
            ray.cancel(ref)
            raise

    def shutdown(self) -> None:
        """Kill the actor and the progress hub; a later call starts new ones."""
        import ray

        if self._actor is not None:
            ray.kill(self._actor)
            self._actor = None
        super().shutdown()

    def _submit(self, action: ActionRef, params: Any) -> tuple[Any, str, str, ActionRef]:
        """Send the call; ``(ref, job id, action name, target)``."""
        import ray
        from ray.exceptions import RayActorError

        target, name, data = self._prepare(action, params)
        job_id = f"{self.job_id}-{next(self._calls)}" if self.job_id else new_job_id(name)
        for _ in range(2):
            actor = self._ensure_actor(name)
            secret_names = self.config.secret_names
            call = encode_call(action_key(target), data, self._hub_name, job_id, secret_names)
            ship = () if isinstance(target, str) or target in self._actor_has else (target,)
            ref = actor.run.remote(call, *ship)
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
        return ref, job_id, name, target

    def _wait(self, ref: Any, job_id: str, name: str, target: ActionRef, timeout: float | None) -> Any:
        result = wait_for_ref(
            ref, job_id=job_id, label=f"{name} ({job_id})", hub=self._hub,
            timeout=timeout, show_progress=self.show_progress, secret_values=self.config.secrets,
            cancel_on_timeout=True, on_ray_error=self._on_ray_error,
        )  # fmt: skip
        if not isinstance(target, str):  # the actor has it now; holding it keeps its id unique
            self._actor_has |= {target}
        return result

    def _on_ray_error(self, exc: BaseException) -> None:
        from ray.exceptions import RayActorError

        if isinstance(exc, RayActorError):
            self._actor = None  # the next call starts a new actor

    def _ensure_actor(self, label: str) -> Any:
        if self._actor is None:
            options = self._ray_options(label)
            self._actor = remote_classes()[1].options(**options).remote()
            self._actor_has = frozenset()
        return self._actor


RayTaskExecutor = RayActorExecutor  # the seed documents' older name (backwards compatibility)
