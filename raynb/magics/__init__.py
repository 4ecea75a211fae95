"""The %ray_* magics, grouped by theme; all share one RaySession (one client)."""

from __future__ import annotations

from typing import Any

from ._base import RaySession
from .cluster import ClusterMagics
from .jobs import JobMagics
from .pipeline import PipelineMagics
from .serve import ServeMagics
from .widgets import WidgetMagics

__all__ = ["RaySession", "load_ipython_extension", "unload_ipython_extension"]

_session_key = "_raynb_session"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext raynb``: register the magics (Ray itself is not imported)."""
    session = RaySession()
    setattr(ipython, _session_key, session)
    for magics in (ClusterMagics, JobMagics, PipelineMagics, ServeMagics, WidgetMagics):
        ipython.register_magics(magics(ipython, session))


def unload_ipython_extension(ipython: Any) -> None:
    session = getattr(ipython, _session_key, None)
    if session is not None:
        session.disconnect()
