"""The JSON the panel reads: plain dicts built from the client's models (nothing raw leaks)."""

from __future__ import annotations

from typing import Any

from ..client import ClusterStatus, Job, NodeStats, ServeApplication


def job(j: Job) -> dict[str, Any]:
    return {
        "id": j.id, "submission_id": j.submission_id, "job_id": j.job_id, "type": j.type,
        "status": str(j.status), "entrypoint": j.entrypoint or "", "message": j.message or "",
        "start_time": j.start_time, "end_time": j.end_time,
    }  # fmt: skip


def node(n: NodeStats) -> dict[str, Any]:
    return {
        "node_id": n.node_id, "hostname": n.hostname, "ip": n.ip, "is_head_node": n.is_head_node,
        "state": n.state, "cpu_percent": n.cpu_percent, "num_cpus": n.num_cpus,
        "memory_used": n.memory_used, "memory_total": n.memory_total,
    }  # fmt: skip


def cluster(status: ClusterStatus, stats: list[NodeStats]) -> dict[str, Any]:
    """Totals, then the nodes, head first."""
    return {
        "nodes_alive": status.nodes_alive,
        "nodes_dead": status.nodes_dead,
        "resources": {name: {"used": u.used, "total": u.total} for name, u in status.resources.items()},
        "pending_demand": status.pending_demand,
        "nodes": [node(n) for n in sorted(stats, key=lambda n: (not n.is_head_node, n.ip or ""))],
    }


def serve_app(app: ServeApplication) -> dict[str, Any]:
    return {
        "name": app.name, "status": str(app.status), "route_prefix": app.route_prefix,
        "message": app.message or "", "deployments": len(app.deployments or {}),
    }  # fmt: skip
