"""RayClient: the synchronous face of AsyncRayClient, on a private event-loop thread.

As IPython's ``%%script`` magics do, the coroutines run on a loop owned by a daemon
thread and are awaited with ``run_coroutine_threadsafe(...).result()``. This works in a
plain script and inside a Jupyter kernel whose own loop is already running, without
patching asyncio. Methods are generated from AsyncRayClient's, so both stay in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
import weakref
from collections.abc import Coroutine, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from . import logs
from .aio import AsyncRayClient
from .limits import StreamLimits

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="raynb-client-loop", daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            raise RuntimeError("RayClient called from its own loop thread; use AsyncRayClient there")
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Finish async generators, stop the loop and close it (from any thread)."""
        if threading.current_thread() is self.thread:
            self.loop.stop()  # closed by whoever stops it from outside, or at exit
            return
        if self.loop.is_running():
            with contextlib.suppress(Exception):  # e.g. a generator that fails to close
                self.submit(self.loop.shutdown_asyncgens()).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


def _close(runner: LoopThread, client: AsyncRayClient) -> None:
    if runner.loop.is_running():
        try:
            runner.submit(client.aclose()).result(timeout=5)
        except Exception:  # closing must never raise from a finalizer
            pass
    runner.stop()


class BaseClient:
    """Base of :class:`RayClient`. The seed documents build their client as
    ``class RayClient(RayClientMixin, BaseClient)``; with raynb's names that still works."""


class RayClient(BaseClient):
    """Synchronous Ray dashboard client: the same methods as :class:`AsyncRayClient`.

    ``with RayClient("http://127.0.0.1:8265") as ray: ray.list_jobs()``; also, as the seed
    documents write it, ``RayClient(base_url, timeout)`` with ``timeout`` in seconds or
    ``{"connect": 5, "read": 30}`` (None: 30 s) and ``token=`` by keyword (the async client
    takes ``AsyncRayClient(base_url, token)``, as its own document shows). Log tails are plain
    generators; closing one (or breaking out of its loop) closes its connection. The
    settings ``stream_limits`` and ``timeout`` may be assigned later; any other attribute
    assignment is an error, so a misspelt setting never passes silently.
    """

    def __init__(
        self, base_url: str | None = None, timeout: float | Mapping[str, float] | None = None, **kwargs: Any
    ) -> None:
        if timeout is not None:
            kwargs["timeout"] = timeout
        runner = LoopThread()
        try:
            client: AsyncRayClient = runner.run(_make_async(base_url, kwargs))
        except BaseException:
            runner.stop()
            raise
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_async", client)
        object.__setattr__(self, "_finalizer", weakref.finalize(self, _close, runner, client))

    def __setattr__(self, name: str, value: Any) -> None:
        if name in AsyncRayClient.SETTINGS:
            setattr(self._async, name, value)
            return
        raise AttributeError(
            f"{type(self).__name__}.{name} is not a setting; its settings are {', '.join(AsyncRayClient.SETTINGS)}"
        )

    @property
    def address(self) -> str:
        return self._async.address

    @property
    def base_url(self) -> str:
        return self._async.address

    @property
    def stream_limits(self) -> StreamLimits:
        """Bounds of each log stream; assign a new StreamLimits to change the next stream's."""
        return self._async.stream_limits

    @property
    def timeout(self) -> float:
        return self._async.timeout

    @property
    def aio(self) -> AsyncRayClient:
        """The async client underneath (its methods must run on this client's loop)."""
        return self._async

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine of :attr:`aio` on this client's loop; return its Future at once."""
        return self._runner.submit(coro)

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        self._finalizer()

    def __enter__(self) -> RayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayClient({self.address!r})"

    def _iterate(self, agen: Any) -> Iterator[Any]:
        return iterate(self._runner, agen)

    def tail_job_logs(
        self,
        job_id: str,
        timeout: float = 30.0,
        *,
        protocol: str = "auto",
        stream_timeout: float | None = None,
        stream_limits: StreamLimits | None = None,
        last: int | None = None,
        offset: int | None = None,
    ) -> LogTailIterator:
        """:meth:`AsyncRayClient.tail_job_logs` as a plain iterator of lines, with the same
        ``earlier(n)``, ``first_offset``, ``offset`` and ``at_start``."""
        return LogTailIterator(self._runner, self._async.tail_job_logs(
            job_id, timeout, protocol=protocol, stream_timeout=stream_timeout,
            stream_limits=stream_limits, last=last, offset=offset,
        ))


class LogTailIterator(Iterator[str]):
    """A live job log for plain code: ``for line in tail``; see :class:`raynb.client.logs.LogTail`."""

    def __init__(self, runner: LoopThread, tail: logs.LogTail) -> None:
        self._runner, self._tail = runner, tail
        self._lines = iterate(runner, tail)

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def __next__(self) -> str:
        return next(self._lines)

    def close(self) -> None:
        self._lines.close()

    def earlier(self, n: int = 500) -> list[str]:
        return self._runner.run(self._tail.earlier(n))

    first_offset = property(lambda self: self._tail.first_offset)
    offset = property(lambda self: self._tail.offset)
    at_start = property(lambda self: self._tail.at_start)


RayClientMixin = RayClient  # the seed documents' name for the class with the Ray methods


def iterate(runner: LoopThread, agen: Any) -> Iterator[Any]:
    """An async generator's items, each awaited on ``runner``'s loop; closed when left."""
    try:
        while True:
            try:
                item = runner.run(anext(agen))
            except StopAsyncIteration:
                return
            yield item
    finally:
        if runner.loop.is_running():
            runner.run(agen.aclose())


async def _make_async(base_url: str | None, kwargs: dict[str, Any]) -> AsyncRayClient:
    return AsyncRayClient(base_url, **kwargs)


def _facade(name: str, func: Any) -> Any:
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def gen_method(self: RayClient, *args: Any, **kwargs: Any) -> Iterator[Any]:
            return self._iterate(getattr(self._async, name)(*args, **kwargs))

        signature = inspect.signature(func)  # a plain iterator here, not an AsyncIterator
        returns = str(signature.return_annotation).replace("AsyncIterator", "Iterator")
        gen_method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
        return gen_method

    @functools.wraps(func)
    def method(self: RayClient, *args: Any, **kwargs: Any) -> Any:
        return self._runner.run(getattr(self._async, name)(*args, **kwargs))

    return method


for _name, _func in inspect.getmembers(AsyncRayClient, inspect.isfunction):
    if not _name.startswith("_") and _name != "aclose":
        if inspect.iscoroutinefunction(_func) or inspect.isasyncgenfunction(_func):
            setattr(RayClient, _name, _facade(_name, _func))
