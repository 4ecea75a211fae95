"""ServePanel: Ray Serve applications and their deployments, live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import traitlets

from .. import render
from ..client import RayClient, ServeApplication
from ._base import PollingWidget, bundle


def app_row(app: ServeApplication) -> dict[str, Any]:
    """An application as the front end's row, with one entry per deployment."""
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


class ServePanel(PollingWidget):
    """Serve applications, refreshed every ``interval`` seconds while visible.

    A cluster without ``ray[serve]`` shows that as a one-line error (and polls less often).
    """

    _esm = bundle("serve")
    apps = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, *, client: RayClient | None = None, interval: float = 2.0) -> None:
        self._apps: list[ServeApplication] = []
        super().__init__(client=client, interval=interval)

    async def _refresh(self) -> None:
        apps = list(await self.client.aio.list_serve_applications())
        self._apps = apps
        self.apps = [app_row(app) for app in apps]

    async def _rpc_delete_app(self, name: str) -> dict[str, str]:
        await self.client.aio.delete_serve_application(name)
        await self._nudge()
        return {"message": f"Deleting Serve application {name}"}

    def _render(self) -> render.Rendered:
        return render.serve_table(self._apps)
