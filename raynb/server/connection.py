"""Which Ray dashboard the panel talks to, where that address came from, and its link.

Order: the panel's JupyterLab setting > the last ``%ray_connect`` made in a kernel since
this Jupyter server started > the environment (``RAY_API_SERVER_ADDRESS``, ``RAY_ADDRESS``)
> http://127.0.0.1:8265. The token always comes from the server's environment or token
file (``raynb.client.resolve_token``); it never travels to or from the browser, and it
goes only to the dashboard the server's environment names (or the default one): an address
typed into the setting or a kernel's ``%ray_connect`` elsewhere never receives it. A local
head raynb started gets its own token (:func:`raynb.state.head_token`), whoever names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..client import DEFAULT_ADDRESS, resolve_address
from ..state import is_local_head
from .state import last_connect

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Connection:
    address: str
    source: str  # "settings" | "%ray_connect" | "environment" | "default"

    @property
    def token(self) -> str | None:
        """The client's ``token=``: None (the server's own token, or a local head's) for the
        server's dashboard or a local head raynb started, "" (no token) for any other address."""
        ours = urlsplit(self.address).netloc == urlsplit(_server_address()).netloc
        return None if ours or is_local_head(self.address) else ""


def _from_environment() -> bool:
    ray_address = os.environ.get("RAY_ADDRESS", "")
    return bool(os.environ.get("RAY_API_SERVER_ADDRESS", "").strip()) or ray_address.startswith(("http://", "https://"))


def _server_address() -> str:
    return resolve_address(None) if _from_environment() else DEFAULT_ADDRESS


def resolve(setting: str | None, since: float) -> Connection:
    """The dashboard to use; ``since`` is when the server started (older connects are stale)."""
    if setting and setting.strip():
        return Connection(resolve_address(setting), "settings")
    if connected := last_connect(since):
        return Connection(resolve_address(connected), "%ray_connect")
    if _from_environment():
        return Connection(resolve_address(None), "environment")
    return Connection(DEFAULT_ADDRESS, "default")


def dashboard_link(address: str, base_url: str, proxy: bool) -> tuple[str, str]:
    """(URL for the browser, how): through jupyter-server-proxy when the dashboard is on the
    Jupyter server's own host and the proxy is installed, else the dashboard address itself."""
    url = urlsplit(address)
    if proxy and url.hostname in _LOCAL_HOSTS and url.port:
        return f"{base_url.rstrip('/')}/proxy/{url.port}/", "jupyter-server-proxy"
    return f"{address}/", "direct"
