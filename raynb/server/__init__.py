"""Jupyter server extension behind the JupyterLab "Ray" side panel.

It serves a small REST API under ``{base_url}raynb/api/`` and talks to Ray through the
shared :class:`~raynb.client.AsyncRayClient`, on the server: the panel works with no kernel,
and tokens never reach the browser. Enabled by ``jupyter-config/jupyter_server_config.d/raynb.json``.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "raynb.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import setup_handlers

    setup_handlers(serverapp)
