"""The one client of the Ray dashboard API: async implementation, sync facade, live logs."""

from ..errors import (
    AuthError,
    BadRequestError,
    NotFoundError,
    RayClientError,
    RayTimeoutError,
    ServerError,
    StreamLimitError,
    UnavailableError,
)
from .address import DEFAULT_ADDRESS, resolve_address, resolve_token
from .aio import AsyncRayClient
from .logs import StreamLimits
from .models import (
    Actor,
    ClusterStatus,
    Job,
    JobStatus,
    ListResult,
    Node,
    NodeStats,
    ResourceUsage,
    ServeApplication,
    ServeStatus,
    SubmittedJob,
    Task,
    Version,
)
from .sync import RayClient

__all__ = [
    "DEFAULT_ADDRESS",
    "Actor",
    "AsyncRayClient",
    "AuthError",
    "BadRequestError",
    "ClusterStatus",
    "Job",
    "JobStatus",
    "ListResult",
    "Node",
    "NodeStats",
    "NotFoundError",
    "RayClient",
    "RayClientError",
    "RayTimeoutError",
    "ResourceUsage",
    "ServeApplication",
    "ServeStatus",
    "ServerError",
    "StreamLimitError",
    "StreamLimits",
    "SubmittedJob",
    "Task",
    "UnavailableError",
    "Version",
    "resolve_address",
    "resolve_token",
]
