"""Follows the Ray actors of the pipeline runs one executor started, from a daemon thread.

When a run's call returns, its actor is freed (and the run failed if its reports never
reached the service). When the call raised, Ray's exception decides (:func:`death_of`):

- ``ActorDiedError`` (and any other failure of the call) fails the run and frees the actor;
- ``ActorUnavailableError`` is a temporary outage (a network blip: the actor may still be
  running the run), not death. The run is then followed by its status in the service and
  its actor's state in Ray's actor list: once the run ends its actor is freed; if Ray lists
  the actor DEAD first, the run is failed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RayClientError, RaynbError

__all__ = ["NAMESPACE", "RunWatcher", "actor_dead", "actor_name", "death_of", "fail_quietly"]

NAMESPACE = "raynb-pipelines"  # run actors are named here, so any driver can cancel them
WATCH_INTERVAL_S = 0.5
FOLLOW_INTERVAL_S = 2.0  # how often a run whose actor Ray called unavailable is looked at
DIED = "ActorDiedError: the run's Ray actor died (killed, crashed, or its node was lost)"
OUTAGE = ("Ray says the run's actor is temporarily unavailable; the run is followed through its "
          "reports until it ends")  # fmt: skip


def actor_name(run_id: str) -> str:
    return f"raynb-pipeline-{run_id}"


def actor_dead(client: Any, run_id: str) -> bool:
    """True if the cluster behind ``client`` (a dashboard RayClient) lists the run's actor, and
    only as DEAD."""
    actors = client.list_actors(filters={"name": actor_name(run_id), "ray_namespace": NAMESPACE}, limit=10)
    return bool(actors) and all(actor.state == "DEAD" for actor in actors)


def death_of(exc: BaseException) -> str | None:
    """The run's error for what ``ray.get`` raised for its call; None for a temporary outage
    (``ActorUnavailableError``: the actor may still be running the run)."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    if isinstance(exc, ActorUnavailableError):
        return None
    if isinstance(exc, ActorDiedError):
        return DIED
    return f"{type(exc).__name__.split('(')[0]}: the run's Ray actor failed"


def fail_quietly(service: Any, run_id: str, error: str) -> None:
    """Fail the run in the service unless it has ended (or the service is away)."""
    with contextlib.suppress(RayClientError):  # ended meanwhile (409), or away: its state says the rest
        if not service.get_run(run_id).status.is_terminal():
            service.fail(run_id, error)


@dataclass
class _Run:
    actor: Any
    ref: Any  # the run's call; None once Ray called the actor temporarily unavailable
    reports_to: str  # the service URL the actor reports to


class RunWatcher:
    """The runs of one executor still going on; ``service()`` gives its service client."""

    def __init__(self, service: Callable[[], Any]) -> None:
        self._service = service
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str, actor: Any, ref: Any, reports_to: str) -> None:
        with self._lock:
            self._runs[run_id] = _Run(actor, ref, reports_to)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="raynb-pipeline-watch", daemon=True)
                self._thread.start()

    def forget(self, run_id: str) -> Any:
        """Stop watching the run; its actor (None if it was not watched)."""
        with self._lock:
            run = self._runs.pop(run_id, None)
        return None if run is None else run.actor

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs

    def run_ids(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def _loop(self) -> None:
        import ray

        next_follow = 0.0
        while True:
            with self._lock:
                runs = dict(self._runs)
                if not runs:
                    self._thread = None
                    return
            calls = {run.ref: run_id for run_id, run in runs.items() if run.ref is not None}
            try:
                done = ray.wait(list(calls), num_returns=1, timeout=WATCH_INTERVAL_S)[0] if calls else []
            except Exception:  # Ray shut down, or its client connection broke, under us
                with self._lock:
                    self._thread = None
                return
            if not calls:
                time.sleep(WATCH_INTERVAL_S)
            for ref in done:
                self._returned(calls[ref], runs[calls[ref]])
            followed = [run_id for run_id, run in runs.items() if run.ref is None]
            if followed and time.monotonic() >= next_follow:
                self._follow(followed)
                next_follow = time.monotonic() + FOLLOW_INTERVAL_S

    def _returned(self, run_id: str, run: _Run) -> None:
        import ray

        try:
            unsent = json.loads(ray.get(run.ref))["unsent"]
        except Exception as exc:  # Ray's exception decides what it means
            error = death_of(exc)
            if error is None:
                run.ref = None
                with contextlib.suppress(RayClientError):
                    self._service().note(run_id, OUTAGE)
                return
        else:
            error = (f"UnavailableError: the run's reports did not reach {run.reports_to} from Ray: set "
                     "actor_pipeline_service_url to an address the cluster reaches") if unsent else None
        if error:
            fail_quietly(self._service(), run_id, error)
        self._free(run_id)

    def _follow(self, run_ids: list[str]) -> None:
        """Free the actors of followed runs that ended; fail those whose actor Ray lists DEAD."""
        from ..client import RayClient
        from ..executors.connect import dashboard_url

        try:
            with RayClient(dashboard_url()) as client:
                for run_id in run_ids:
                    ended = self._service().get_run(run_id).status.is_terminal()
                    if not ended and actor_dead(client, run_id):
                        fail_quietly(self._service(), run_id, DIED)
                        ended = True
                    if ended:
                        self._free(run_id)
        except RaynbError:
            pass  # the service or the dashboard is away: the next round looks again

    def _free(self, run_id: str) -> None:
        import ray

        actor = self.forget(run_id)
        if actor is not None:
            with contextlib.suppress(Exception):  # gone already
                ray.kill(actor, no_restart=True)
