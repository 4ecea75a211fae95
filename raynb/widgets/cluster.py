"""ClusterPanel: nodes with live usage, cluster resources used/total, pending demand."""

from __future__ import annotations

import asyncio

import traitlets

from .. import render
from ..client import ClusterStatus, Node, RayClient
from ..render import demand_text
from ..rows import node_rows
from ._base import PollingWidget, bundle, join

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
        self._status, self._nodes = status, list(nodes)
        with self.hold_sync():
            self.nodes = node_rows(status, nodes, stats)
            self.totals = {name: [u.used, u.total] for name, u in status.resources.items()}
            self.pending = [demand_text(d) for d in status.pending_demand]

    def _render(self) -> render.Rendered:
        assert self._status is not None
        return join(render.cluster_card(self._status, address=self.client.address), render.node_table(self._nodes))
