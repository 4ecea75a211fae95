"""HTTP client of the pipeline service (httpx, and httpx-sse for the event stream).

Errors come from :mod:`raynb.errors`: 400/409/422 :class:`BadRequestError`, 401
:class:`AuthError`, 404 :class:`NotFoundError`, 5xx :class:`ServerError`, unreachable
:class:`UnavailableError`; each with the service's one-line reason. The token never appears
in a message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from ..client._base import check_id
from ..errors import RayTimeoutError, UnavailableError, error_for_status, register_secret
from .models import Checkpoint, LogLine, PipelineProgress, RunCreate

__all__ = ["PipelineServiceClient", "decode_event"]

RECONNECT_S = 30.0  # a broken event stream is re-opened (with Last-Event-ID) for this long
STREAM_READ_S = 45.0  # the service sends a heartbeat every 15 s


def decode_event(kind: str, data: str) -> PipelineProgress | LogLine | None:
    """The model of an SSE event of the service (None for kinds this version does not know)."""
    if kind == "progress":
        return PipelineProgress.model_validate_json(data)
    if kind == "log":
        return LogLine.model_validate_json(data)
    return None


_SOURCE = "pipeline service"
_ADVICE = {
    401: "give the service's token as pipeline_service_token or in RAYNB_PIPELINE_TOKEN (a service another "
         "kernel started for itself gives its token to processes of the same user only)",
    403: "check the token given as pipeline_service_token or in RAYNB_PIPELINE_TOKEN",
    404: "check the run id (%ray_pipeline runs lists them)",
}


def _run_path(run_id: str, rest: str = "") -> str:
    """``/runs/<run_id><rest>``; a run id unsafe in a URL is a BadRequestError before any request."""
    return f"/runs/{check_id(run_id, 'run id', source=_SOURCE)}{rest}"


def _raise_for(response: httpx.Response, what: str) -> None:
    """An error of the tree for a failed answer of the service (its ``detail`` as the reason)."""
    if response.is_success:
        return
    if not response.is_closed:
        response.read()
    try:
        detail = str(response.json().get("detail", ""))
    except (ValueError, AttributeError):
        detail = response.text[:200]
    raise error_for_status(response.status_code, detail, what, advice=_ADVICE, source=_SOURCE)


class PipelineServiceClient:
    """Talks to one pipeline service; sync methods, plus :meth:`aevents` for ``async for``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        register_secret(token)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._http = httpx.Client(base_url=self.url, headers=self._headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PipelineServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; the decoded JSON answer, or an error of the tree."""
        what = f"pipeline service {method} {path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            message = f"{what}: {self.url} did not answer within {self._timeout:g}s"
            raise RayTimeoutError(message, source=_SOURCE) from None
        except httpx.TransportError as exc:
            message = f"{what}: cannot reach {self.url} ({type(exc).__name__})"
            raise UnavailableError(message, source=_SOURCE) from None
        _raise_for(response, what)
        return response.json()

    def is_service(self) -> bool:
        """True if a pipeline service answers at this URL."""
        try:
            response = self._http.get("/health", timeout=2.0)
            return response.is_success and response.json().get("service") == "raynb-pipeline"
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def create_run(self, body: RunCreate) -> PipelineProgress:
        return PipelineProgress.model_validate(self.request("POST", "/runs", json=body.model_dump(mode="json")))

    def get_run(self, run_id: str) -> PipelineProgress:
        return PipelineProgress.model_validate(self.request("GET", _run_path(run_id)))

    def list_runs(self, limit: int = 50) -> list[PipelineProgress]:
        return [PipelineProgress.model_validate(r) for r in self.request("GET", "/runs", params={"limit": limit})]

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        return [Checkpoint.model_validate(c) for c in self.request("GET", _run_path(run_id, "/checkpoints"))]

    def logs(self, run_id: str, action: int | None = None, after: int = 0, limit: int = 1000) -> list[LogLine]:
        params = {"after": after, "limit": limit, **({} if action is None else {"action": action})}
        return [LogLine.model_validate(x) for x in self.request("GET", _run_path(run_id, "/logs"), params=params)]

    def result(self, run_id: str) -> dict[str, Any]:
        """``{"params": <the params it started with>, "result": <accumulated params or None>}``."""
        return self.request("GET", _run_path(run_id, "/result"))

    def cancel(self, run_id: str) -> PipelineProgress:
        return PipelineProgress.model_validate(self.request("POST", _run_path(run_id, "/cancel")))

    def note(self, run_id: str, message: str, level: str = "warning") -> None:
        """Add a line to the run's own log (not an action's)."""
        self.request("POST", _run_path(run_id, "/logs"), json={"level": level, "messages": [message]})

    def fail(self, run_id: str, error: str) -> PipelineProgress:
        return PipelineProgress.model_validate(self.request("POST", _run_path(run_id, "/fail"), json={"error": error}))

    def events(self, run_id: str, last_event_id: int = 0, timeout: float = 3600) -> Iterator[tuple[int, Any]]:
        """:meth:`aevents` for a plain ``for`` (on a private event-loop thread)."""
        from ..client.sync import LoopThread, iterate

        runner = LoopThread()
        try:
            yield from iterate(runner, self.aevents(run_id, last_event_id, timeout))
        finally:
            runner.stop()

    async def aevents(self, run_id: str, last_event_id: int = 0, timeout: float = 3600) -> AsyncIterator[tuple[int, Any]]:
        """``(event id, PipelineProgress | LogLine)`` after ``last_event_id``, live, until the
        run's terminal snapshot (always the last event) or ``timeout`` seconds.

        A stream that breaks, or closes before that snapshot, is re-opened from the last event
        received, so none is missed or repeated; UnavailableError if the stream cannot be
        opened at all, or stays broken for :data:`RECONNECT_S`. Opened after the end with a
        ``last_event_id`` past the final snapshot, it yields nothing.
        """
        from httpx_sse import aconnect_sse

        path = f"{_run_path(run_id)}/events"
        deadline = time.monotonic() + timeout
        opened, broken_since = False, None
        async with httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=self._timeout) as http:
            while (left := deadline - time.monotonic()) > 0:
                received = False
                try:
                    read = httpx.Timeout(self._timeout, read=min(STREAM_READ_S, left))
                    async with aconnect_sse(http, "GET", path, timeout=read,
                                            headers={"Last-Event-ID": str(last_event_id)}) as source:
                        if not source.response.is_success:
                            await source.response.aread()  # the error detail
                        _raise_for(source.response, f"pipeline service GET {path}")
                        opened, broken_since = True, None
                        async for sse in source.aiter_sse():
                            model = decode_event(sse.event, sse.data) if sse.id else None
                            if model is None:
                                continue
                            last_event_id, received = int(sse.id), True
                            yield last_event_id, model
                            if isinstance(model, PipelineProgress) and model.status.is_terminal():
                                return
                    if not received and await self._ended(http, run_id):
                        return  # opened after the end: its final snapshot came before last_event_id
                except httpx.TransportError as exc:
                    if not opened:
                        raise UnavailableError(
                            f"cannot open the event stream of pipeline run {run_id} at {self.url} "
                            f"({type(exc).__name__})", source=_SOURCE,
                        ) from None
                    broken_since = broken_since or time.monotonic()
                    if time.monotonic() - broken_since > RECONNECT_S:
                        raise UnavailableError(
                            f"the event stream of pipeline run {run_id} broke and {self.url} did not "
                            f"come back within {RECONNECT_S:g}s ({type(exc).__name__})", source=_SOURCE,
                        ) from None
                if not received:  # re-opened at once after events, else after a pause
                    await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    async def _ended(self, http: httpx.AsyncClient, run_id: str) -> bool:
        response = await http.get(_run_path(run_id))
        _raise_for(response, f"pipeline service GET {_run_path(run_id)}")
        return PipelineProgress.model_validate(response.json()).status.is_terminal()
