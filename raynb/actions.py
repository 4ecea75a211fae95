"""Actions: the unit of work an executor runs on Ray.

An action is a class generic over a pydantic params model; ``execute()`` returns a
JSON-able result and may report progress, log lines and metrics while it runs::

    class SquareParams(BaseModel):
        x: int

    class Square(Action[SquareParams]):
        def execute(self) -> dict:
            self.progress(0, 1, "squaring")
            return {"y": self.params.x ** 2}

Executors accept the class or an entrypoint string (``pkg.mod:Square`` or ``pkg.mod.Square``).
Run one locally with ``Square(SquareParams(x=3)).execute()``. Importing this module imports
neither Ray nor pydantic.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args, get_origin

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Action", "ActionRef", "Progress", "Reporter", "action_name", "load_action"]

P = TypeVar("P", bound="BaseModel")
SEND_INTERVAL_S = 0.05  # an action sends at most ~20 progress updates a second
MAX_LOG_LINES = 5


@dataclass
class Progress:
    """What an action reported so far: position, message, metrics and its last log lines."""

    current: float = 0
    total: float | None = None
    message: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Progress:
        data = data or {}
        return cls(**{k: data[k] for k in ("current", "total", "message", "metrics", "logs") if k in data})


class Reporter:
    """Collects an action's reports and passes a snapshot to ``send`` at most every 50 ms.

    A report that arrives too soon is sent by a timer when the interval is over, so the
    last state always goes out. ``on_log(level, message)`` sees every log line at once.
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.state = Progress()
        self._send = send
        self._on_log = on_log
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer: threading.Timer | None = None

    def progress(self, current: float, total: float | None, message: str | None) -> None:
        with self._lock:
            self.state.current, self.state.total = current, total
            if message is not None:
                self.state.message = message
        self._changed()

    def log(self, message: str, level: str) -> None:
        line = f"[{level.upper()}] {message}"
        with self._lock:
            self.state.logs = [*self.state.logs, line][-MAX_LOG_LINES:]
        if self._on_log is not None:
            self._on_log(level, str(message))
        self._changed()

    def metrics(self, values: dict[str, Any]) -> None:
        with self._lock:
            self.state.metrics = {**self.state.metrics, **values}
        self._changed()

    def close(self) -> dict[str, Any]:
        """Stop sending; return the final snapshot (it travels with the result)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._send = None
            return self.state.to_dict()

    def _changed(self) -> None:
        with self._lock:
            if self._send is None or self._timer is not None:
                return
            wait = self._last + SEND_INTERVAL_S - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()
                return
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            send, snapshot = self._send, self.state.to_dict()
            self._last = time.monotonic()
        if send is not None:
            send(snapshot)


class Action(Generic[P]):
    """Base class of actions: subclass ``Action[MyParams]`` and implement :meth:`execute`."""

    params: P

    def __init__(self, params: P, reporter: Reporter | None = None) -> None:
        self.params = params
        self._reporter = reporter or Reporter()

    def execute(self) -> Any:
        """Do the work; return a JSON-able value (a dict, list, number, string) or a pydantic model."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def progress(self, current: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress: ``current`` of ``total`` done, with an optional message."""
        self._reporter.progress(current, total, message)

    def log(self, message: str, level: str = "info") -> None:
        """Log a line; the notebook shows the last few under the progress bar."""
        self._reporter.log(message, level)

    def metrics(self, **values: Any) -> None:
        """Record metrics (e.g. ``loss=0.1``); later values replace earlier ones."""
        self._reporter.metrics(values)

    @classmethod
    def params_model(cls) -> type[BaseModel]:
        """The pydantic model of this action's params (an empty model if none is declared)."""
        return _params_model(cls)


ActionRef = type[Action] | str


def load_action(ref: ActionRef) -> type[Action]:
    """The action class for a class or an entrypoint string ``pkg.mod:Class`` / ``pkg.mod.Class``."""
    if isinstance(ref, type):
        if not issubclass(ref, Action):
            raise TypeError(f"{ref.__qualname__} is not an Action: subclass raynb.actions.Action")
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise TypeError(f"an action is an Action subclass or a 'pkg.module:Class' string, not {ref!r}")
    module_name, sep, qualname = ref.strip().partition(":")
    if not sep:
        module_name, _, qualname = module_name.rpartition(".")
    if not module_name or not qualname:
        raise ValueError(f"action {ref!r}: write 'package.module:Class' or 'package.module.Class'")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ImportError(f"action {ref!r}: module {module_name!r} has no {qualname!r}")
    if not isinstance(target, type):
        raise TypeError(f"action {ref!r} names {type(target).__name__}, not an Action subclass")
    return load_action(target)


def action_name(ref: ActionRef) -> str:
    """A short display name: the class name."""
    if isinstance(ref, type):
        return ref.__name__
    return str(ref).replace(":", ".").rsplit(".", 1)[-1]


@cache
def _params_model(cls: type[Action]) -> type[BaseModel]:
    from pydantic import BaseModel

    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            arg = args[0] if args else None
            is_action = isinstance(origin, type) and issubclass(origin, Action)
            if is_action and isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return _no_params()


@cache
def _no_params() -> type[BaseModel]:
    from pydantic import BaseModel, ConfigDict

    class NoParams(BaseModel):
        model_config = ConfigDict(extra="forbid")

    return NoParams
