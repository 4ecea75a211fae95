"""The pipeline service: an ASGI app (Starlette, served by uvicorn) over :class:`~.store.Store`.

Routes (JSON; errors are ``{"detail": "<one line>"}`` with a 4xx status)::

    GET  /health                          open: {"service": "raynb-pipeline", "version"}
    GET  /runs?limit=N                    newest runs first (PipelineProgress)
    POST /runs                            RunCreate -> 201 PipelineProgress
    GET  /runs/{id}                       PipelineProgress
    POST /runs/{id}/actions/{index}       ActionReport -> PipelineProgress
    GET|POST /runs/{id}/checkpoints       list / CheckpointReport -> Checkpoint
    GET|POST /runs/{id}/logs              ?action=&after=&limit= / LogReport -> LogLine list
    POST /runs/{id}/cancel                -> PipelineProgress (CANCELLED)
    POST /runs/{id}/fail                  {"error": "..."} -> PipelineProgress (FAILED)
    GET  /runs/{id}/events                SSE: "progress" and "log" events, id = sequence number

The event stream starts after ``Last-Event-ID`` (header, or ``?last_event_id=``), sends what
the store holds, then waits for the store's change notice (no polling); a comment heartbeat
goes out every ``heartbeat`` seconds. It ends with the run's terminal ``progress`` event,
also when the run ends while the stream reads (or closes at once if that event was already
sent before ``Last-Event-ID``).
With a token, every route but ``/health`` needs ``Authorization: Bearer <token>`` (401).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool as db  # database work, off the event loop
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .models import ActionReport, CheckpointReport, LogReport, RunCreate, RunStatus
from .store import Conflict, Store, UnknownRun

__all__ = ["SERVICE_NAME", "create_app", "default_db_path"]

SERVICE_NAME = "raynb-pipeline"
API_VERSION = 1
HEARTBEAT_S = 15.0
EVENT_BATCH = 500


def default_db_path() -> Path:
    """``$RAYNB_PIPELINE_DB``, else ``$XDG_DATA_HOME/raynb/pipelines.db`` (``~/.local/share``)."""
    if path := os.environ.get("RAYNB_PIPELINE_DB"):
        return Path(path).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "raynb" / "pipelines.db"


class BadRequest(ValueError):
    """A malformed request: 400."""


class _Broker:
    """Wakes the event streams of a run when the store changed it (from any thread)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def changed(self, run_id: str) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake, run_id)

    def _wake(self, run_id: str) -> None:
        for waiter in self.waiters.get(run_id, ()):
            waiter.set()


class _TokenGuard:
    """ASGI middleware: the bearer token on every route but /health."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.state, self.token = app, app.state, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.token):
                detail = "wrong token in the Authorization header" if given else "this pipeline service needs its token"
                response = JSONResponse({"detail": detail}, 401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(db_path: str | Path | None = None, *, token: str | None = None,
               heartbeat: float = HEARTBEAT_S) -> Any:
    """The service app over the database at ``db_path`` (default: :func:`default_db_path`)."""
    broker = _Broker()
    store = Store(db_path or default_db_path(), on_change=broker.changed)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"service": SERVICE_NAME, "version": API_VERSION})

    async def list_runs(request: Request) -> JSONResponse:
        runs = await db(store.list_runs, _int_arg(request, "limit", 50, 1, 10_000))
        return _json([run.model_dump(mode="json") for run in runs])

    async def create_run(request: Request) -> JSONResponse:
        body = await _body(request, RunCreate)
        return _json((await db(store.create_run, body)).model_dump(mode="json"), 201)

    async def get_run(request: Request) -> JSONResponse:
        return _json((await db(store.get_run, request.path_params["run_id"])).model_dump(mode="json"))

    async def report_action(request: Request) -> JSONResponse:
        body = await _body(request, ActionReport)
        run_id, index = request.path_params["run_id"], request.path_params["index"]
        return _json((await db(store.update_action, run_id, index, body)).model_dump(mode="json"))

    async def checkpoints(request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        if request.method == "POST":
            body = await _body(request, CheckpointReport)
            return _json((await db(store.add_checkpoint, run_id, body)).model_dump(mode="json"), 201)
        return _json([c.model_dump(mode="json") for c in await db(store.checkpoints, run_id)])

    async def logs(request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        if request.method == "POST":
            lines = await db(store.add_logs, run_id, await _body(request, LogReport))
            return _json([line.model_dump(mode="json") for line in lines], 201)
        action = request.query_params.get("action")
        lines = await db(
            store.logs, run_id, None if action is None else _int_arg(request, "action", 0, 0, 10_000),
            _int_arg(request, "after", 0, 0, 2**62), _int_arg(request, "limit", 1000, 1, 10_000),
        )  # fmt: skip
        return _json([line.model_dump(mode="json") for line in lines])

    async def cancel(request: Request) -> JSONResponse:
        run = await db(store.end_run, request.path_params["run_id"], RunStatus.CANCELLED, "cancelled")
        return _json(run.model_dump(mode="json"))

    async def fail(request: Request) -> JSONResponse:
        data = await _json_body(request)
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, str) or not error:
            raise BadRequest('the body must be {"error": "<what went wrong>"}')
        run = await db(store.end_run, request.path_params["run_id"], RunStatus.FAILED, error)
        return _json(run.model_dump(mode="json"))

    async def result(request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        params, result = await db(lambda: (store.run_params(run_id), store.result(run_id)))
        return _json({"run_id": run_id, "params": params, "result": result})

    async def events(request: Request) -> EventSourceResponse:
        run_id = request.path_params["run_id"]
        await db(store.get_run, run_id)  # 404 before the stream starts
        raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
        if not raw.isdigit():
            raise BadRequest(f"Last-Event-ID must be an event id (a number), not {raw[:40]!r}")
        return EventSourceResponse(_stream(run_id, int(raw)), ping=heartbeat)

    async def _stream(run_id: str, last: int) -> AsyncIterator[ServerSentEvent]:
        waiter = asyncio.Event()
        broker.waiters[run_id].add(waiter)
        try:
            while True:
                waiter.clear()
                # The status first: if the run had ended, the events read next hold its final
                # snapshot (one transaction wrote both), so the stream ends with it.
                ended = (await db(store.status, run_id)).is_terminal()
                batch = await db(store.events, run_id, last, EVENT_BATCH)
                for seq, kind, data in batch:
                    yield ServerSentEvent(data=data, event=kind, id=str(seq))
                    last = seq
                    if kind == "progress" and RunStatus(json.loads(data)["status"]).is_terminal():
                        return
                if len(batch) == EVENT_BATCH:
                    continue
                if ended:
                    return  # reconnected after the end: its final snapshot was sent before
                await waiter.wait()
        finally:
            broker.waiters[run_id].discard(waiter)
            if not broker.waiters[run_id]:
                broker.waiters.pop(run_id, None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        broker.loop = asyncio.get_running_loop()
        yield
        store.close()

    routes = [
        Route("/health", health),
        Route("/runs", list_runs, methods=["GET"]),
        Route("/runs", create_run, methods=["POST"]),
        Route("/runs/{run_id}", get_run),
        Route("/runs/{run_id}/actions/{index:int}", report_action, methods=["POST"]),
        Route("/runs/{run_id}/checkpoints", checkpoints, methods=["GET", "POST"]),
        Route("/runs/{run_id}/logs", logs, methods=["GET", "POST"]),
        Route("/runs/{run_id}/cancel", cancel, methods=["POST"]),
        Route("/runs/{run_id}/fail", fail, methods=["POST"]),
        Route("/runs/{run_id}/result", result),
        Route("/runs/{run_id}/events", events),
    ]
    handlers = {
        UnknownRun: lambda r, e: _error(404, str(e)),
        IndexError: lambda r, e: _error(404, str(e)),
        Conflict: lambda r, e: _error(409, str(e)),
        BadRequest: lambda r, e: _error(400, str(e)),
        PydanticValidationError: lambda r, e: _error(422, _describe(e)),
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.store = store
    return _TokenGuard(app, token) if token else app


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": " ".join(detail.split())[:500]}, status)


def _describe(exc: PydanticValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
    return "invalid body: " + "; ".join(parts)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise BadRequest("the body is not JSON") from None


async def _body(request: Request, model: type[BaseModel]) -> Any:
    data = await _json_body(request)
    if not isinstance(data, dict):
        raise BadRequest(f"the body must be a JSON object ({model.__name__})")
    return model.model_validate(data)


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}, not {raw[:40]!r}")
    return int(raw)


class BackgroundService:
    """The service served by uvicorn on a daemon thread of this process (the embedded default)."""

    def __init__(self, host: str, port: int, db_path: str | Path, token: str | None = None) -> None:
        import uvicorn

        self.db_path = Path(db_path)
        app = create_app(db_path, token=token)
        self.store: Store = app.state.store
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="raynb-pipeline-service", daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise OSError(f"the pipeline service could not listen on {host}:{port}")
            self.thread.join(0.02)
        sock = self.server.servers[0].sockets[0].getsockname()
        self.url = f"http://{host}:{sock[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
