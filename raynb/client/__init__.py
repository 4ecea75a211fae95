"""The one client of the Ray dashboard API: async implementation, sync facade, live logs."""

from ..errors import (
    AuthError,
    BadRequestError,
    ClientError,
    NotFoundError,
    RayClientError,
    RayTimeoutError,
    ServerError,
    StreamLimitError,
    UnavailableError,
)
from .address import DEFAULT_ADDRESS, resolve_address, resolve_token
from .aio import AsyncRayClient
from .limits import StreamLimits
from .logs import LogNotice
from .models import (
    Actor,
    ClusterStatus,
    Job,
    JobStatus,
    JobStopResult,
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
from .sync import BaseClient, RayClient, RayClientMixin

__all__ = [
    "DEFAULT_ADDRESS",
    "Actor",
    "AsyncRayClient",
    "AuthError",
    "BadRequestError",
    "BaseClient",
    "ClientError",
    "ClusterStatus",
    "Job",
    "JobStatus",
    "JobStopResult",
    "ListResult",
    "LogNotice",
    "Node",
    "NodeStats",
    "NotFoundError",
    "RayClient",
    "RayClientError",
    "RayClientMixin",
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
