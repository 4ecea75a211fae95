"""Where raynb keeps its small state files: ``$RAYNB_STATE_DIR``, else ``$XDG_CACHE_HOME/raynb``
(``~/.cache/raynb``); and the local heads raynb started there, with the token that opens them.

Every head :mod:`raynb.cluster` starts runs with Ray's token auth and one random token, kept
in ``ray_auth_token`` (mode 0600) in this folder. :func:`head_token` gives it for the
addresses of those heads only (dashboard, GCS or Ray Client), so it never goes elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

_LOOPBACK = {"localhost": "127.0.0.1", "::1": "127.0.0.1", "0.0.0.0": "127.0.0.1"}


def state_dir() -> Path:
    if base := os.environ.get("RAYNB_STATE_DIR"):
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raynb"


def token_file() -> Path:
    """The token of raynb's local heads (created, 0600, by :func:`ensure_token_file`)."""
    return state_dir() / "ray_auth_token"


def ensure_token_file() -> Path:
    """Create the token file with a new random token unless it exists; only its owner reads it."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return path


def _heads_file() -> Path:
    return state_dir() / "local_heads.json"


def _endpoint(address: str) -> str:
    """``host:port`` of a dashboard URL, GCS address or ``ray://`` address, loopback spelt one way."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    host = _LOOPBACK.get(parts.hostname or "", parts.hostname or "")
    return f"{host}:{parts.port}" if parts.port else host


def _read_heads() -> dict[str, list[str]]:
    try:
        data = json.loads(_heads_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_heads(heads: dict[str, list[str]]) -> None:
    path = _heads_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(heads))
    os.replace(partial, path)


def register_head(pid: int, addresses: Iterable[str]) -> None:
    """Remember that the head of ``pid`` (its ``ray start``) answers at ``addresses``."""
    heads = {p: a for p, a in _read_heads().items() if alive(int(p))}
    heads[str(pid)] = sorted({_endpoint(a) for a in addresses})
    _write_heads(heads)


def forget_head(pid: int) -> None:
    heads = _read_heads()
    if heads.pop(str(pid), None) is not None:
        _write_heads(heads)


def is_local_head(address: str | None) -> bool:
    """True if ``address`` is one of a live head raynb started (with this state folder)."""
    if not address:
        return False
    endpoint = _endpoint(address)
    return any(endpoint in addresses for pid, addresses in _read_heads().items() if alive(int(pid)))


def head_token(address: str | None) -> str | None:
    """The token of raynb's local heads if ``address`` is one of theirs, else None."""
    if not is_local_head(address):
        return None
    try:
        return token_file().read_text().strip() or None
    except OSError:
        return None


def alive(pid: int) -> bool:
    """True if process ``pid`` runs (someone else's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
