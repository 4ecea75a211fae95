"""Typed results of the dashboard client: one small model per resource, raw dict kept.

Every model also reads as a mapping of the dashboard's own JSON field names, as the seed
documents show: ``job["status"]``, ``"driver_info" in job``, ``node.get("state")``; an
unknown key is a ``KeyError``. A few documented names that are not dashboard fields are
keys too (``job["id"]``, ``node["alive"]``). Attributes are typed (``job.status`` is a
:class:`JobStatus`); keys give the dashboard's value as it came (``job["status"]`` is a str,
equal to the enum member).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from ..tables import JOB_TERMINAL, SERVE_SETTLED

T = TypeVar("T")


class _LenientEnum(str, Enum):
    """A str enum that maps values a newer Ray may add to UNKNOWN instead of failing."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        return cls.__members__.get("UNKNOWN")

    def __str__(self) -> str:
        return self.value


class JobStatus(_LenientEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    def is_terminal(self) -> bool:
        """True once the job can no longer change (STOPPED, SUCCEEDED, FAILED: raynb/tables.json)."""
        return self.value in JOB_TERMINAL


class ServeStatus(_LenientEnum):
    NOT_STARTED = "NOT_STARTED"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"
    UNKNOWN = "UNKNOWN"

    def is_terminal(self) -> bool:
        """True for states that need no further action from the controller to settle
        (RUNNING, DEPLOY_FAILED, NOT_STARTED: raynb/tables.json)."""
        return self.value in SERVE_SETTLED


def _ms_to_datetime(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc) if value else None


@dataclass(frozen=True)
class _Model:
    raw: dict[str, Any] = field(repr=False, compare=False)

    _EXTRA_KEYS: ClassVar[tuple[str, ...]] = ()  # documented keys that are attributes, not fields

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)} - {"raw"}
        return cls(raw=raw, **{name: raw.get(name) for name in names})

    def __getitem__(self, key: str) -> Any:
        if key in self.raw:
            return self.raw[key]
        if key in self._EXTRA_KEYS:
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self.raw or key in self._EXTRA_KEYS

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` if the dashboard sent no such field."""
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        """The dashboard's field names (and the documented extra keys): ``dict(model)`` works."""
        return [*self.raw, *(k for k in self._EXTRA_KEYS if k not in self.raw)]


@dataclass(frozen=True)
class Version(_Model):
    version: str | None
    ray_version: str | None
    ray_commit: str | None
    session_name: str | None


@dataclass(frozen=True)
class Job(_Model):
    job_id: str | None
    submission_id: str | None
    type: str | None
    status: JobStatus
    entrypoint: str | None
    message: str | None
    error_type: str | None
    start_time: int | None
    end_time: int | None
    metadata: dict[str, str] | None
    runtime_env: dict[str, Any] | None
    driver_node_id: str | None
    driver_exit_code: int | None

    _EXTRA_KEYS = ("id",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status or "UNKNOWN"))

    @property
    def id(self) -> str:
        """The id to use with every job call: the submission id, else the job id."""
        return self.submission_id or self.job_id or ""

    @property
    def started_at(self) -> datetime | None:
        return _ms_to_datetime(self.start_time)

    @property
    def ended_at(self) -> datetime | None:
        return _ms_to_datetime(self.end_time)

    @property
    def duration_s(self) -> float | None:
        """Seconds run so far (or in all, once ended); None before the job starts."""
        if not self.start_time:
            return None
        end = self.end_time or datetime.now(tz=timezone.utc).timestamp() * 1000
        return max(0.0, (end - self.start_time) / 1000)


@dataclass(frozen=True)
class SubmittedJob(_Model):
    submission_id: str
    job_id: str | None


@dataclass(frozen=True)
class JobStopResult(_Model):
    """What ``stop_job`` did: ``stopped`` (also its truth value), and the job's ``status``
    read right after Ray took the request (still RUNNING while the job shuts down)."""

    job_id: str
    stopped: bool
    status: JobStatus

    def __bool__(self) -> bool:
        return self.stopped

    def __str__(self) -> str:
        return f"{self.job_id}: {'stopping' if self.stopped else 'not stopped'} (status {self.status})"


@dataclass(frozen=True)
class Node(_Model):
    node_id: str
    node_ip: str | None
    node_name: str | None
    is_head_node: bool | None
    state: str | None
    state_message: str | None
    resources_total: dict[str, float] | None
    labels: dict[str, str] | None

    _EXTRA_KEYS = ("alive",)

    @property
    def alive(self) -> bool:
        """True while Ray holds the node ALIVE."""
        return self.state == "ALIVE"


@dataclass(frozen=True)
class NodeStats(_Model):
    """A node's live usage from the dashboard's node summary (host CPU %, memory, object store)."""

    node_id: str
    hostname: str | None
    ip: str | None
    is_head_node: bool
    state: str | None
    cpu_percent: float | None
    num_cpus: int | None
    memory_used: int | None
    memory_total: int | None
    object_store_used: int | None
    object_store_total: int | None
    gpus: list[dict[str, Any]]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NodeStats:
        raylet = raw.get("raylet") or {}
        mem = raw.get("mem") or [None, None, None, None]
        used_store = int(raylet.get("objectStoreUsedMemory") or 0)
        free_store = int(raylet.get("objectStoreAvailableMemory") or 0)
        return cls(
            raw=raw,
            node_id=raylet.get("nodeId", ""),
            hostname=raw.get("hostname"),
            ip=raw.get("ip"),
            is_head_node=bool(raylet.get("isHeadNode")),
            state=raylet.get("state"),
            cpu_percent=raw.get("cpu"),
            num_cpus=(raw.get("cpus") or [None])[0],
            memory_used=mem[3] if len(mem) > 3 else None,
            memory_total=mem[0],
            object_store_used=used_store,
            object_store_total=used_store + free_store,
            gpus=list(raw.get("gpus") or []),
        )


@dataclass(frozen=True)
class Task(_Model):
    task_id: str
    attempt_number: int | None
    name: str | None
    state: str | None
    job_id: str | None
    actor_id: str | None
    type: str | None
    func_or_class_name: str | None
    node_id: str | None
    worker_id: str | None
    error_type: str | None
    error_message: str | None


@dataclass(frozen=True)
class Actor(_Model):
    actor_id: str
    class_name: str | None
    name: str | None
    state: str | None
    job_id: str | None
    node_id: str | None
    pid: int | None
    ray_namespace: str | None
    repr_name: str | None
    death_cause: dict[str, Any] | None


@dataclass(frozen=True)
class ServeApplication(_Model):
    name: str
    route_prefix: str | None
    status: ServeStatus
    message: str | None
    last_deployed_time_s: float | None
    deployments: dict[str, Any] | None
    deployed_app_config: dict[str, Any] | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ServeStatus(self.status or "UNKNOWN"))
        object.__setattr__(self, "deployments", self.deployments or {})


def _camel(name: str) -> str:
    """The dashboard's rendering of a key (``dashboard.utils.to_camel_case``)."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class ResourceUsage:
    used: float
    total: float


@dataclass(frozen=True)
class ClusterStatus(_Model):
    """Cluster-wide summary: node counts, resources used/total, pending demand."""

    nodes_alive: int
    nodes_dead: int
    resources: dict[str, ResourceUsage]
    pending_demand: list[dict[str, Any]]
    text: str
    usage_by_node: dict[str, dict[str, ResourceUsage]] = field(default_factory=dict)  # Ray's logical

    @classmethod
    def from_dict(cls, raw: dict[str, Any], resource_names: Iterable[str] = ()) -> ClusterStatus:
        """``resource_names``: the cluster's resource names as the user wrote them. The
        dashboard camelCases the keys of its usage table (``worker_node`` arrives as
        ``workerNode``); names are the user's, so they are mapped back."""
        load = (raw.get("clusterStatus") or {}).get("loadMetricsReport") or {}
        names = {_camel(n): n for n in resource_names}
        for shape, _ in load.get("nodeTypes") or []:  # lists of lists keep their keys as sent
            names.update((_camel(n), n) for n in shape)
        def usage(table: Any) -> dict[str, ResourceUsage]:
            return {
                names.get(name, name): ResourceUsage(used=float(pair[0]), total=float(pair[1]))
                for name, pair in (table or {}).items()
                if not name.startswith("node:") and isinstance(pair, list) and len(pair) == 2
            }

        demand = [
            {"shape": d[0] if isinstance(d, list) else d, "count": d[1] if isinstance(d, list) else 1}
            for d in (load.get("resourceDemand") or []) + (load.get("pgDemand") or [])
        ]
        return cls(
            raw=raw,
            nodes_alive=int(raw.get("nodes_alive", 0)),
            nodes_dead=int(raw.get("nodes_dead", 0)),
            resources=usage(load.get("usage")),
            usage_by_node={node: usage(table) for node, table in (load.get("usageByNode") or {}).items()},
            pending_demand=demand,
            text=raw.get("text", ""),
        )


@dataclass(frozen=True)
class ListResult(Sequence[T], Generic[T]):
    """A list of models plus the state API's truncation info, read truthfully.

    Ray's data source returns at most ``num_after_truncation`` of ``total`` rows (10,000 by
    default), then applies the filters it could not push to the source (``num_filtered``
    rows match), then keeps the first ``limit``. ``truncated`` is True when rows are missing
    either way; :meth:`note` says which, in one line. It also reads as the documented dict:
    ``result["results"]``, ``result["total"]``.
    """

    items: list[T]
    total: int
    num_after_truncation: int | None = None
    num_filtered: int | None = None
    warnings: list[str] = field(default_factory=list)
    partial_failure_warning: str = ""
    resource: str = "rows"  # what the rows are: "tasks", "actors", "nodes", "jobs"
    late_filters: tuple[str, ...] = ()  # filters Ray applied after its source cut the rows

    _KEYS: ClassVar[tuple[str, ...]] = (
        "results", "total", "num_after_truncation", "num_filtered", "warnings", "partial_failure_warning",
    )  # fmt: skip

    @property
    def source_truncated(self) -> bool:
        """True when Ray's data source returned fewer rows than the cluster has."""
        return self.num_after_truncation is not None and self.total > self.num_after_truncation

    @property
    def truncated(self) -> bool:
        """True when the cluster holds rows (matching the filters) that were not returned."""
        matching = self.num_filtered if self.num_filtered is not None else self.total
        return len(self.items) < matching or self.source_truncated

    def note(self) -> str:
        """One line on what is missing ("" when nothing is)."""
        shown, what = len(self.items), self.resource
        parts = []
        matching = self.num_filtered if self.num_filtered is not None else self.total
        if shown < matching:
            parts.append(f"showing {shown:,} of {matching:,} matching {what}: raise the limit to see more")
        if self.source_truncated:
            cut = f"Ray's data source returned {self.num_after_truncation:,} of {self.total:,} {what}"
            if self.late_filters:
                cut += (f", and filtered by {', '.join(self.late_filters)} only after that cut, so "
                        "matching rows may be missing")
            parts.append(cut)
        return "; ".join(parts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            if index not in self._KEYS:
                raise KeyError(index)
            return self.items if index == "results" else getattr(self, index)
        return self.items[index]

    def __contains__(self, value: object) -> bool:
        return value in self._KEYS if isinstance(value, str) else value in self.items

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._KEYS else default

    def keys(self) -> list[str]:
        return list(self._KEYS)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)
