"""The JSON the panel reads: plain dicts built from the client's models (nothing raw leaks),
in the same row shapes as the widgets' (raynb/rows.py)."""

from __future__ import annotations

from typing import Any

from ..client import ClusterStatus, Node, NodeStats
from ..rows import job_row as job
from ..rows import node_rows
from ..rows import serve_app_row as serve_app

__all__ = ["cluster", "job", "serve_app"]


def cluster(status: ClusterStatus, nodes: list[Node], stats: list[NodeStats]) -> dict[str, Any]:
    """Totals, then every node (the widgets' row shape), head first."""
    return {
        "nodes_alive": status.nodes_alive,
        "nodes_dead": status.nodes_dead,
        "resources": {name: {"used": u.used, "total": u.total} for name, u in status.resources.items()},
        "pending_demand": status.pending_demand,
        "nodes": node_rows(status, nodes, stats),
    }
