"""ServePanel: Ray Serve applications and their deployments, live."""

from __future__ import annotations

import traitlets

from .. import render
from ..client import RayClient, ServeApplication
from ..rows import serve_app_row as app_row
from ._base import PollingWidget, bundle

__all__ = ["ServePanel", "app_row"]


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
