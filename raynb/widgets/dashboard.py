"""Dashboard: the cluster, jobs and Serve panels in one tabbed widget."""

from __future__ import annotations

from typing import Any

import ipywidgets

from ..client import RayClient
from ..render import Rendered
from ._base import join, resolve_client
from .cluster import ClusterPanel
from .jobs import JobsTable
from .serve import ServePanel


class Dashboard(ipywidgets.Tab):
    """Tabs "Cluster", "Jobs" and "Serve" sharing one client; closing it closes them all.

    Hidden tabs stop polling (their views report ``visible`` False).
    """

    def __init__(self, client: RayClient | None = None) -> None:
        self._client, self._owns_client = resolve_client(client)
        panels = [ClusterPanel(client=self._client), JobsTable(client=self._client), ServePanel(client=self._client)]
        super().__init__(children=panels, titles=("Cluster", "Jobs", "Serve"))

    @property
    def client(self) -> RayClient:
        return self._client

    def close(self) -> None:
        for child in self.children:
            child.close()
        if getattr(self, "_owns_client", False):
            self._owns_client = False
            self._client.close()
        super().close()

    def snapshot(self) -> Rendered:
        """The panels' current state, one after the other, as static HTML and text."""
        return join(*(child.snapshot() for child in self.children))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        snapshot = self.snapshot()
        return {**data, "text/plain": snapshot.text, "text/html": snapshot.html}
