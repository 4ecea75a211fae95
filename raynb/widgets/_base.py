"""RequestWidget, RayWidget and PollingWidget: background work, request/reply, static snapshots.

Background work runs as coroutines on a private loop thread (a RayWidget's is its client's);
trait changes and custom messages are sent from there (ipykernel's comms are thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import inspect
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..client import BadRequestError, RayClient, RayClientError
from ..errors import redact
from ..magics._base import NOTEBOOK_LIMITS
from ..render import Rendered

STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_BACKOFF_S = 30.0
SNAPSHOT_WAIT_S = 3.0  # a first display waits this long at most for the first poll
_MISSING_BUNDLE = """export default {{ render({{ el }}) {{
  el.textContent = "raynb: the front-end bundle raynb/static/{name}.js is missing; "
    + "build js/ (npm run build) and re-run the cell";
}} }};
"""


def bundle(name: str) -> Path | str:
    """The ESM of a widget: raynb/static/<name>.js, or a stub that says the build is missing."""
    path = STATIC / f"{name}.js"
    return path if path.is_file() else _MISSING_BUNDLE.format(name=name)


def one_line(exc: BaseException) -> str:
    """An exception as one line for the user: a client error's message, else type and text."""
    return exc.message if isinstance(exc, RayClientError) else redact(f"{type(exc).__name__}: {exc}")


def resolve_client(client: RayClient | None) -> tuple[RayClient, bool]:
    """``client``, else the notebook session's (``%ray_connect``), else a new one from the
    default address; the flag says whether the caller owns (and must close) it."""
    if client is not None:
        return client, False
    from IPython import get_ipython

    from ..magics import _session_key

    session = getattr(get_ipython(), _session_key, None)
    if session is not None and session.client is not None:
        return session.client, False
    return RayClient(timeout=10, stream_limits=NOTEBOOK_LIMITS), True


def join(*parts: Rendered) -> Rendered:
    """Several renderings shown one after the other."""
    return Rendered(html="".join(p.html for p in parts), text="\n\n".join(p.text for p in parts))


class RequestWidget(anywidget.AnyWidget):
    """Base of raynb's widgets: background work, request/reply and static snapshots.

    - :meth:`spawn` runs a coroutine on the widget's loop (:meth:`_submit`); :meth:`close`
      cancels what is still running.
    - Requests ``{"type": "request", "id", "method", "args"}`` call ``_rpc_<method>(**args)``:
      an ``async def`` one runs on that loop (it does I/O), a plain one inline. The answer is
      a ``reply`` message; errors are answered as one line, never raised.
    - ``_repr_mimebundle_`` adds ``text/plain`` and ``text/html`` snapshots of the state at
      display time, so a saved notebook shows something without the live widget.
    """

    _closed = True  # until __init__ is done: close() from __del__ has nothing to cancel

    def __init__(self, **traits: Any) -> None:
        self._tasks: set[Future[Any]] = set()
        self._ready = threading.Event()  # set once there is state worth a snapshot
        self._closed = False
        super().__init__(**traits)
        self.on_msg(self._on_custom_msg)

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        raise NotImplementedError

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run ``coro`` on the widget's loop; :meth:`close` cancels it."""
        try:
            if self._closed:
                raise RuntimeError(f"{type(self).__name__} is closed")
            future = self._submit(coro)
        except BaseException:
            coro.close()
            raise
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def close(self) -> None:
        """Stop all background work and close the comm."""
        if not self._closed:
            self._closed = True
            for future in list(self._tasks):
                future.cancel()
            self._closed_hook()
        super().close()

    def _closed_hook(self) -> None:
        """Release what the widget owns (called once, by :meth:`close`)."""

    # -- requests from the front end ----------------------------------------------------

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "request":
            return
        rid = content.get("id")
        try:
            method, args = content.get("method"), content.get("args") or {}
            handler = getattr(self, f"_rpc_{method}", None) if isinstance(method, str) else None
            if handler is None:
                raise BadRequestError(f"unknown method {method!r} for {type(self).__name__}")
            if not isinstance(args, dict):
                raise BadRequestError(f"args of {method!r} must be an object")
            if inspect.iscoroutinefunction(handler):
                self.spawn(handler(**args)).add_done_callback(lambda f: self._reply_future(rid, f))
            else:
                self._reply(rid, True, handler(**args))
        except Exception as exc:
            self._reply(rid, False, one_line(exc))

    def _reply_future(self, rid: Any, future: Future[Any]) -> None:
        if future.cancelled():
            self._reply(rid, False, "cancelled: the widget was closed")
        elif (exc := future.exception()) is not None:
            self._reply(rid, False, one_line(exc))
        else:
            self._reply(rid, True, future.result())

    def _reply(self, rid: Any, ok: bool, value: Any) -> None:
        self.send({"type": "reply", "id": rid, "ok": ok, ("result" if ok else "error"): value})

    # -- static snapshot ----------------------------------------------------------------

    def _snapshot(self) -> Rendered:
        raise NotImplementedError

    def snapshot(self) -> Rendered:
        """The current state as static HTML and text (waits a moment for a first poll)."""
        self._ready.wait(SNAPSHOT_WAIT_S)
        return self._snapshot()

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle_ = super()._repr_mimebundle_(**kwargs)
        if bundle_ is None:
            return None
        data, metadata = bundle_
        snapshot = self.snapshot()
        return {**data, "text/plain": snapshot.text, "text/html": snapshot.html}, metadata


class RayWidget(RequestWidget):
    """A widget that talks to the Ray dashboard: ``client`` is the given RayClient, the
    notebook session's (``%ray_connect``), or a new one (closed with the widget). Background
    work runs on the client's loop thread."""

    def __init__(self, *, client: RayClient | None = None, **traits: Any) -> None:
        self._client, self._owns_client = resolve_client(client)
        super().__init__(**traits)

    @property
    def client(self) -> RayClient:
        return self._client

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return self._client.submit(coro)

    def _closed_hook(self) -> None:
        if self._owns_client:
            self._client.close()


class PollingWidget(RayWidget):
    """A widget that refreshes every ``interval`` seconds while visible.

    On an error it backs off exponentially up to 30 s and shows the error as one line; it
    waits while ``visible`` is False (set by the front end) and stops for good on close().
    Subclasses implement ``async _refresh()`` (set their traits; raise on failure) and
    ``_render()`` (the snapshot of the last state).
    """

    error = traitlets.Unicode("").tag(sync=True)
    visible = traitlets.Bool(True).tag(sync=True)
    last_refresh = traitlets.Float(0.0).tag(sync=True)

    def __init__(self, *, client: RayClient | None = None, interval: float = 2.0, **traits: Any) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.interval = float(interval)
        self._wake = asyncio.Event()  # used on the client's loop only
        super().__init__(client=client, **traits)
        self.spawn(self._poll())

    async def _refresh(self) -> None:
        raise NotImplementedError

    def _render(self) -> Rendered:
        raise NotImplementedError

    def _snapshot(self) -> Rendered:
        name = type(self).__name__
        parts = [self._render()] if self.last_refresh else []
        if self.error:
            text = f"✖ {name}: {self.error}"
            style = "color:var(--jp-error-color1,#d32f2f)"
            parts.append(Rendered(html=f'<div style="{style}">{html.escape(text)}</div>', text=text))
        if not parts:
            parts.append(Rendered(html=f"<div>{name}: loading…</div>", text=f"{name}: loading…"))
        return join(*parts)

    async def _rpc_refresh(self) -> dict[str, Any]:
        await self._refresh_once()
        return {}

    async def _refresh_once(self) -> None:
        await self._refresh()
        with self.hold_sync():
            self.error = ""
            self.last_refresh = time.time()

    async def _poll(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            if not self.visible:
                await self._wake.wait()
                continue
            try:
                await self._refresh_once()
                failures, delay = 0, self.interval
            except Exception as exc:
                failures += 1
                delay = min(MAX_BACKOFF_S, self.interval * 2**failures)
                self.error = f"{one_line(exc)} — retrying in {delay:.3g} s"
            self._ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _nudge(self) -> None:
        """Wake the poller now (on the loop): after an action, or when shown again."""
        self._wake.set()

    @traitlets.observe("visible")
    def _visible_changed(self, change: dict[str, Any]) -> None:
        if change["new"] and not self._closed:
            self.spawn(self._nudge())
