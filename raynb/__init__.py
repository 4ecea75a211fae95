"""raynb: Ray in Jupyter. Importing it imports neither Ray nor the dashboard client:
a worker that loads a shipped raynb to run an action needs neither httpx nor websockets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from .client import AsyncRayClient, JobStatus, RayClient, RayClientError, StreamLimits

_FROM_CLIENT = {"AsyncRayClient", "JobStatus", "RayClient", "RayClientError", "StreamLimits"}
__all__ = sorted([*_FROM_CLIENT, "load_ipython_extension", "unload_ipython_extension"])


def __getattr__(name: str) -> Any:
    if name in _FROM_CLIENT:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext raynb``: register the %ray_* magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)
