"""The JSON the panel reads: plain dicts built from the client's models (nothing raw leaks)."""

from __future__ import annotations

from typing import Any

from ..client import ClusterStatus, Job, Node, NodeStats, ServeApplication
from ..render import job_message
from ..rows import node_rows


def job(j: Job) -> dict[str, Any]:
    return {
        "id": j.id, "submission_id": j.submission_id, "job_id": j.job_id, "type": j.type,
        "status": str(j.status), "entrypoint": j.entrypoint or "", "message": job_message(j.message),
        "start_time": j.start_time, "end_time": j.end_time,
    }  # fmt: skip


def cluster(status: ClusterStatus, nodes: list[Node], stats: list[NodeStats]) -> dict[str, Any]:
    """Totals, then every node (the widgets' row shape), head first."""
    return {
        "nodes_alive": status.nodes_alive,
        "nodes_dead": status.nodes_dead,
        "resources": {name: {"used": u.used, "total": u.total} for name, u in status.resources.items()},
        "pending_demand": status.pending_demand,
        "nodes": node_rows(status, nodes, stats),
    }


def serve_app(app: ServeApplication) -> dict[str, Any]:
    return {
        "name": app.name, "status": str(app.status), "route_prefix": app.route_prefix,
        "message": app.message or "", "deployments": len(app.deployments or {}),
    }  # fmt: skip
