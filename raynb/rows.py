"""The rows the widgets and the side panel receive: plain JSON-able dicts built from the
client's models, one builder per shape, so a widget and the panel never disagree. Each shape's
fields and their types are in raynb/tables.json ("rows"), which js/src/lib/rows.ts follows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .client.models import ClusterStatus, Job, Node, NodeStats, ResourceUsage, ServeApplication
from .render import job_message

_MIB = 1024 * 1024  # the dashboard reports GPU memory in MiB
MAX_TEXT = 1000  # an entrypoint can be a whole script


def _clip(text: str | None) -> str:
    """Long text kept as head … tail."""
    text = text or ""
    half = MAX_TEXT // 2
    return text if len(text) <= MAX_TEXT else f"{text[:half]} … {text[-half:]}"


def job_row(job: Job) -> dict[str, Any]:
    """A job (times in Unix ms; Ray's message without the log it embeds)."""
    return {
        "id": job.id,
        "submission_id": job.submission_id,
        "job_id": job.job_id,
        "type": job.type or "",
        "status": str(job.status),
        "entrypoint": _clip(job.entrypoint),
        "message": job_message(job.message),
        "start_time": job.start_time or None,
        "end_time": job.end_time or None,
        "driver_exit_code": job.driver_exit_code,
    }


def serve_app_row(app: ServeApplication) -> dict[str, Any]:
    """A Serve application, with one entry per deployment."""
    deployments = []
    for name, info in (app.deployments or {}).items():
        info = info if isinstance(info, Mapping) else {}
        replicas = info.get("replicas")
        deployments.append({
            "name": str(info.get("name") or name),
            "status": str(info.get("status") or ""),
            "replicas": len(replicas) if isinstance(replicas, list) else 0,
        })
    return {
        "name": app.name,
        "status": str(app.status),
        "route_prefix": app.route_prefix,
        "message": app.message or "",
        "last_deployed_time_s": app.last_deployed_time_s,
        "deployments": deployments,
    }


def _gpu(raw: Mapping[str, Any]) -> dict[str, Any]:
    def get(camel: str, snake: str) -> Any:
        return raw.get(camel, raw.get(snake))

    return {
        "name": str(raw.get("name") or ""),
        "utilization": float(get("utilizationGpu", "utilization_gpu") or 0),
        "memory": [int(get("memoryUsed", "memory_used") or 0) * _MIB,
                   int(get("memoryTotal", "memory_total") or 0) * _MIB],
    }  # fmt: skip


def node_row(node: Node | None, stats: NodeStats | None, logical: Mapping[str, ResourceUsage]) -> dict[str, Any]:
    """One node: identity and state from the state API (``node``), Ray's logical resources
    used/total (``logical``: what tasks and actors hold), and the host's physical usage from
    the live stats (``stats``, only while the node is alive). ``cpus`` are Ray's (what
    ``num_cpus`` asks for); ``host_cpus`` and ``host_cpu_percent`` are the machine's."""
    state = (node.state if node else None) or (stats.state if stats else None) or "UNKNOWN"
    live = stats if stats is not None and state == "ALIVE" else None
    totals = (node.resources_total if node else None) or {}
    resources = {
        name: [logical[name].used if name in logical else 0.0, float(total)]
        for name, total in totals.items() if not name.startswith("node:")
    }  # fmt: skip
    return {
        "node_id": node.node_id if node else stats.node_id,
        "hostname": (stats.hostname if stats else None) or (node.node_name if node else None) or "",
        "ip": (node.node_ip if node else None) or (stats.ip if stats else None) or "",
        "is_head": bool(node.is_head_node if node else stats.is_head_node),
        "state": state,
        "cpus": resources.get("CPU", [0.0, 0.0]),
        "resources": resources,
        "host_cpu_percent": float(live.cpu_percent or 0) if live else None,
        "host_cpus": int(stats.num_cpus) if stats and stats.num_cpus else None,
        "memory": [int(live.memory_used or 0), int(live.memory_total or 0)] if live else [0, 0],
        "object_store": [int(live.object_store_used or 0), int(live.object_store_total or 0)] if live else [0, 0],
        "gpus": [_gpu(g) for g in live.gpus] if live else [],
    }


def node_rows(status: ClusterStatus, nodes: Iterable[Node], stats: Iterable[NodeStats]) -> list[dict[str, Any]]:
    """Every node Ray lists (dead ones too, while Ray keeps them), merged with the live stats;
    head first, then alive before dead."""
    by_id = {s.node_id: s for s in stats}
    rows = [node_row(n, by_id.pop(n.node_id, None), status.usage_by_node.get(n.node_id, {})) for n in nodes]
    rows += [node_row(None, s, status.usage_by_node.get(s.node_id, {})) for s in by_id.values()]
    rows.sort(key=lambda r: (not r["is_head"], r["state"] != "ALIVE", r["ip"], r["node_id"]))
    return rows
