"""The Jobs API side of :class:`~raynb.executors.RayJobsApiExecutor`: the job's driver and its markers.

The executor uploads a per-job package (a ``py_modules`` entry) holding ``call.json`` with the
params, the action and a random key; the entrypoint is ``python -m raynb.executors.runner
<package>``. The runner reads the call, deletes the file, and runs the action. Progress
events, the error and the result are printed to the driver log as marker lines::

    @raynb <kind> <seq> <count> <base64 chunk> <HMAC-SHA256(key, "kind seq count chunk")>

Only the executor that kept the key can verify them, so a user's own print of a marker is
ignored. Large payloads are split into chunks of :data:`CHUNK_CHARS`; markers go to a copy
of the original stdout, so they reach the log even if the action redirects ``sys.stdout``.
Before the action runs, the runtime env setup lines of the job's pip/uv environment (from
the node's ``runtime_env_setup-*.log``) are echoed to the log.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib
import importlib.util
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..actions import Reporter
from .worker import ActionFailed, describe_error, run_action

__all__ = ["CALL_FILE", "PICKLE_FILE", "Markers", "signed_lines", "split_marker"]

CALL_FILE = "call.raynb"
PICKLE_FILE = "action.raynb"
CHUNK_CHARS = 3_000  # a marker line stays under PIPE_BUF, so concurrent prints cannot split it
_MARKER = re.compile(r"@raynb (event|result|error) (\d+) (\d+) ([A-Za-z0-9+/=]*) ([0-9a-f]{64})$")
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_CMD = re.compile(r"\bcmd\[(\d+)\]")


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def signed_lines(key: bytes, kind: str, text: str) -> list[str]:
    """``text`` as signed marker lines of ``kind``."""
    data = base64.b64encode(text.encode()).decode()
    chunks = [data[i : i + CHUNK_CHARS] for i in range(0, len(data), CHUNK_CHARS)] or [""]
    lines = []
    for seq, chunk in enumerate(chunks):
        body = f"{kind} {seq} {len(chunks)} {chunk}"
        lines.append(f"@raynb {body} {_mac(key, body)}")
    return lines


def split_marker(line: str, key: bytes | None) -> tuple[str, tuple[str, int, int, str] | None]:
    """``(text before the marker, (kind, seq, count, chunk))`` for a line ending in a marker
    that verifies with ``key``; ``(line, None)`` for any other line. Without a key, a
    marker-shaped ending is dropped unverified."""
    match = _MARKER.search(line)
    if match is None:
        return line, None
    kind, seq, count, chunk, mac = match.groups()
    if key is not None and not hmac.compare_digest(mac, _mac(key, f"{kind} {seq} {count} {chunk}")):
        return line, None
    return line[: match.start()], ((kind, int(seq), int(count), chunk) if key is not None else None)


class Markers:
    """Verified markers of one job's log: the latest progress event, the result or error."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key  # None: nothing verifies; marker-shaped text is still hidden
        self.event: dict[str, Any] | None = None
        self._chunks: dict[str, dict[int, str]] = {}
        self._counts: dict[str, int] = {}

    def feed(self, lines: Iterable[str]) -> list[str]:
        """Take log lines; return the visible ones (markers removed)."""
        visible = []
        for line in lines:
            text, marker = split_marker(line, self.key)
            if text:
                visible.append(text)
            if marker is None:
                continue
            kind, seq, count, chunk = marker
            if seq == 0 or self._counts.get(kind) != count:  # a new message of this kind starts
                self._chunks[kind], self._counts[kind] = {}, count
            self._chunks[kind][seq] = chunk
            if kind == "event" and (event := self.payload("event")) is not None:
                self.event = json.loads(event)
                self._chunks.pop("event")
                self._counts.pop("event")
        return visible

    def payload(self, kind: str) -> str | None:
        """The complete text of the last ``kind`` message, or None if (still) incomplete."""
        chunks, count = self._chunks.get(kind, {}), self._counts.get(kind)
        if count is None or len(chunks) < count:
            return None
        return base64.b64decode("".join(chunks[i] for i in range(count))).decode()

    def expected(self, kind: str) -> int:
        """How many chunk lines the last ``kind`` message has (0 if none was seen)."""
        return self._counts.get(kind, 0)


def runtime_env_setup_lines() -> Iterator[str]:
    """The setup log records of the pip/uv environment this Python runs in (empty elsewhere)."""
    parts = Path(sys.prefix).parts
    if "runtime_resources" not in parts:
        return
    at = parts.index("runtime_resources")
    env_dir = str(Path(*parts[: at + 3]))  # <session>/runtime_resources/<pip|uv>/<hash>
    commands: set[str] = set()
    for log in sorted((Path(*parts[:at]) / "logs").glob("runtime_env_setup-*.log")):
        record: list[str] = []
        for line in [*log.read_text(errors="replace").splitlines(), "0000-00-00 00:00:00 end"]:
            if _RECORD_START.match(line) and record:
                text = "\n".join(record)
                if env_dir in text:
                    commands.update(_CMD.findall(text))
                if env_dir in text or (set(_CMD.findall(text)) & commands):
                    yield from record
                record = []
            record.append(line)


class _Emitter:
    """Writes signed markers to a private copy of stdout; holds the job's key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._out: IO[str] = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, kind: str, text: str) -> None:
        with self._lock:
            for line in signed_lines(self._key, kind, text):
                self._out.write(line + "\n")
            self._out.flush()


def _load_call(package: str) -> tuple[dict[str, Any], bytes | None]:
    """The call of ``package`` and its pickled action (if any), with their files deleted."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    call = json.loads((root / CALL_FILE).read_text())
    pickled = (root / PICKLE_FILE).read_bytes() if call["action"] is None else None
    for name in (CALL_FILE, PICKLE_FILE):
        with contextlib.suppress(OSError):
            (root / name).unlink()
    return call, pickled


def missing_module(needed: Iterable[str]) -> str | None:
    """What to say if this Python cannot import one of ``needed`` (e.g. pydantic), else None."""
    for module in needed:
        if importlib.util.find_spec(module) is None:
            version = ".".join(map(str, sys.version_info[:3]))
            return (f"this job's Python ({sys.executable}, {version}) has no {module}: install it there, or "
                    f"add {module!r} to the executor's requirements_file or runtime_env pip packages")
    return None


def main(package: str) -> int:
    """Run the call in ``package``; exit status 0 if the action succeeded."""
    call, pickled = _load_call(package)
    emit = _Emitter(bytes.fromhex(call.pop("key")))
    if missing := missing_module(["pydantic", *(["ray"] if pickled is not None else [])]):
        emit("error", json.dumps({"type": "MissingDependency", "message": missing, "traceback": ""}))
        return 1
    for line in runtime_env_setup_lines():
        print(f"[runtime_env] {line}")
    reporter = Reporter(
        send=lambda state: emit("event", json.dumps(state)),
        on_log=lambda level, message: print(f"[{level.upper()}] {message}", flush=True),
    )
    try:
        action = call["action"] if pickled is None else _unpickle(pickled)
    except Exception as exc:  # e.g. a module the class needs is missing on the cluster
        return _fail(emit, ActionFailed(describe_error(exc, call["secret_names"]), reporter.close()))
    try:
        result, progress = run_action(action, call["params"], reporter, call["secret_names"])
    except ActionFailed as failed:
        return _fail(emit, failed)
    emit("event", json.dumps(progress))
    emit("result", result)
    return 0


def _unpickle(pickled: bytes) -> Any:
    import ray.cloudpickle as cloudpickle

    return cloudpickle.loads(pickled)


def _fail(emit: _Emitter, failed: ActionFailed) -> int:
    emit("event", json.dumps(failed.progress))
    emit("error", json.dumps(failed.error))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
