"""raynb: Ray in Jupyter. Importing it never imports Ray."""

from .client import (
    AsyncRayClient,
    JobStatus,
    RayClient,
    RayClientError,
    StreamLimits,
)



def load_ipython_extension(ipython: object) -> None:
    """``%load_ext raynb``: register the %ray_* magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "AsyncRayClient",
    "JobStatus",
    "RayClient",
    "RayClientError",
    "StreamLimits",
    "load_ipython_extension",
    "unload_ipython_extension",
]
__version__ = "0.1.0"
