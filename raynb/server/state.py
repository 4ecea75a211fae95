"""The address of the last ``%ray_connect`` in any kernel, kept in a small state file.

Only the dashboard address is written, never a token, in :func:`raynb.state.state_dir`, where
``raynb.cluster`` keeps its own state.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..state import state_dir


def last_connect_file() -> Path:
    return state_dir() / "last_connect.json"


def remember_connect(address: str) -> None:
    """Record ``address`` as the last one a kernel connected to (best effort)."""
    path = last_connect_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps({"address": address, "time": time.time()}))
        os.replace(partial, path)
    except OSError:
        pass  # a read-only home must not break %ray_connect; the panel falls back to the env


def last_connect(since: float = 0.0) -> str | None:
    """The address recorded by the last ``%ray_connect`` made after ``since`` (Unix time)."""
    try:
        data = json.loads(last_connect_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("time"), int | float) or data["time"] < since:
        return None
    address = data.get("address")
    return address if isinstance(address, str) and address else None
