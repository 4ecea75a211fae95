"""Where raynb keeps its small state files: ``$RAYNB_STATE_DIR``, else ``$XDG_CACHE_HOME/raynb``
(``~/.cache/raynb``)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    if base := os.environ.get("RAYNB_STATE_DIR"):
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raynb"
