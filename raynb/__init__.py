"""raynb: Ray in Jupyter. Importing it never imports Ray."""

from .client import (
    AsyncRayClient,
    JobStatus,
    RayClient,
    RayClientError,
    StreamLimits,
)

__all__ = [
    "AsyncRayClient",
    "JobStatus",
    "RayClient",
    "RayClientError",
    "StreamLimits",
]
__version__ = "0.1.0"
