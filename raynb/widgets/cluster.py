"""ClusterPanel: nodes with live usage, cluster resources used/total, pending demand."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import traitlets

from .. import render
from ..client import ClusterStatus, Node, NodeStats, RayClient
from ..render import demand_text
from ._base import PollingWidget, bundle, join

_MIB = 1024 * 1024  # the dashboard reports GPU memory in MiB


def _gpu(raw: Mapping[str, Any]) -> dict[str, Any]:
    def get(camel: str, snake: str) -> Any:
        return raw.get(camel, raw.get(snake))

    return {
        "name": str(raw.get("name") or ""),
        "utilization": float(get("utilizationGpu", "utilization_gpu") or 0),
        "memory": [int(get("memoryUsed", "memory_used") or 0) * _MIB,
                   int(get("memoryTotal", "memory_total") or 0) * _MIB],
    }


def node_row(node: Node | None, stats: NodeStats | None) -> dict[str, Any]:
    """A node as the front end's row; ``node`` (state API) wins for identity and state,
    ``stats`` (live usage) is used only while the node is alive."""
    state = (node.state if node else None) or (stats.state if stats else None) or "UNKNOWN"
    live = stats if stats is not None and state == "ALIVE" else None
    resources = (node.resources_total if node else None) or {}
    return {
        "node_id": node.node_id if node else stats.node_id,
        "hostname": (stats.hostname if stats else None) or (node.node_name if node else None) or "",
        "ip": (node.node_ip if node else None) or (stats.ip if stats else None) or "",
        "is_head": bool(node.is_head_node if node else stats.is_head_node),
        "state": state,
        "cpu_percent": float(live.cpu_percent or 0) if live else 0.0,
        "num_cpus": int((stats.num_cpus if stats else None) or resources.get("CPU") or 0),
        "memory": [int(live.memory_used or 0), int(live.memory_total or 0)] if live else [0, 0],
        "object_store": [int(live.object_store_used or 0), int(live.object_store_total or 0)] if live else [0, 0],
        "gpus": [_gpu(g) for g in live.gpus] if live else [],
    }


class ClusterPanel(PollingWidget):
    """The cluster at a glance, refreshed every ``interval`` seconds while visible."""

    _esm = bundle("cluster")
    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    totals = traitlets.Dict().tag(sync=True)
    pending = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, *, client: RayClient | None = None, interval: float = 2.0) -> None:
        self._status: ClusterStatus | None = None
        self._nodes: list[Node] = []
        super().__init__(client=client, interval=interval)

    async def _refresh(self) -> None:
        aio = self.client.aio
        status, stats, nodes = await asyncio.gather(
            aio.get_cluster_status(), aio.list_node_stats(), aio.list_nodes(limit=10_000)
        )
        by_id = {s.node_id: s for s in stats}
        rows = [node_row(node, by_id.pop(node.node_id, None)) for node in nodes]
        rows += [node_row(None, s) for s in by_id.values()]
        rows.sort(key=lambda r: (not r["is_head"], r["state"] != "ALIVE", r["ip"], r["node_id"]))
        self._status, self._nodes = status, list(nodes)
        with self.hold_sync():
            self.nodes = rows
            self.totals = {name: [u.used, u.total] for name, u in status.resources.items()}
            self.pending = [demand_text(d) for d in status.pending_demand]

    def _render(self) -> render.Rendered:
        assert self._status is not None
        return join(render.cluster_card(self._status, address=self.client.address), render.node_table(self._nodes))
