"""The pipeline service a process starts for itself when none answers at the URL asked for.

It is served from a daemon thread (:class:`~.app.BackgroundService`) and needs a random
token (``secrets.token_urlsafe``) that is never shown: no message, repr or log has it. The
executors of this process get it from here; other processes of the same user (a second
kernel) get it from a file only that user reads, ``<state folder>/pipeline-services/
<host>_<port>.json`` (mode 0600, :func:`raynb.state.state_dir`), kept while the process lives.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import register_secret
from ..state import alive, state_dir
from . import DEFAULT_PORT

__all__ = ["Embedded", "find_embedded", "start_embedded"]


@dataclass(frozen=True)
class Embedded:
    """An embedded service: where it answers, and its token (left out of the repr)."""

    url: str
    token: str = field(repr=False)


_started: dict[str, Embedded] = {}  # services this process started, by the URL asked for
_lock = threading.Lock()


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = "127.0.0.1" if parts.hostname in (None, "localhost") else parts.hostname
    return host, parts.port or DEFAULT_PORT


def _record(host: str, port: int) -> Path:
    return state_dir() / "pipeline-services" / f"{host}_{port}.json"


def find_embedded(url: str) -> Embedded | None:
    """The embedded service at ``url``: one this process started for it, else one that a live
    process of this user started at that address; None if there is none."""
    url = url.rstrip("/")
    if url in _started:
        return _started[url]
    try:
        data = json.loads(_record(*_endpoint(url)).read_text())
        pid, found = int(data["pid"]), Embedded(data["url"], data["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not alive(pid):
        return None
    register_secret(found.token)
    return found


def start_embedded(url: str) -> Embedded:
    """The service this process started for ``url``, started now (on its port, else on a free
    one) if it has none; the first start is said once on stderr, without the token."""
    from .app import BackgroundService, default_db_path

    url = url.rstrip("/")
    with _lock:
        if url not in _started:
            host, port = _endpoint(url)
            token, db = secrets.token_urlsafe(32), default_db_path()
            register_secret(token)
            try:
                service = BackgroundService(host, port, db, token=token)
            except OSError:  # the port is taken by something else
                service = BackgroundService(host, 0, db, token=token)
            _started[url] = Embedded(service.url, token)
            _publish(service.url, token)
            print(f"raynb: no pipeline service answered at {url}; started one in this process at "
                  f"{service.url} (database {db})", file=sys.stderr)
        return _started[url]


def _publish(url: str, token: str) -> None:
    """Write the record other processes of this user read (0600), removed when this process exits."""
    path = _record(*_endpoint(url))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, f)
    os.replace(partial, path)
    atexit.register(_unpublish, path)


def _unpublish(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # gone, or not ours any more
        if json.loads(path.read_text())["pid"] == os.getpid():
            path.unlink()
