"""Widget magics: %ray_dashboard; and the choice between a live widget and the output area.

raynb.widgets (and anywidget) are imported only when a widget is shown.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..client import RayClient
from ._base import RayMagicsBase, reports_errors

_PANELS = ("cluster", "jobs", "serve")


def widgets_available(shell: Any) -> bool:
    """True in a Jupyter kernel (its comms reach a front end) with anywidget installed;
    False in a terminal IPython or a plain InteractiveShell."""
    return getattr(shell, "kernel", None) is not None and importlib.util.find_spec("anywidget") is not None


def show_log_view(client: RayClient, job_id: str, protocol: str = "auto", tail: int | None = None) -> None:
    """Display a LogView following ``job_id`` (from its last ``tail`` lines, if given); it
    streams in the background."""
    from ..widgets import LogView

    display(LogView(job_id, client=client, protocol=protocol, tail=tail))


@magics_class
class WidgetMagics(RayMagicsBase):
    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--cluster", action="store_true", help="only the cluster panel (nodes, resources, demand)")
    @argument("--jobs", action="store_true", help="only the jobs table (stop, delete, logs)")
    @argument("--serve", action="store_true", help="only the Serve applications panel")
    @argument("--out", metavar="NAME", help="store the widget in this variable (e.g. to close() it)")
    def ray_dashboard(self, line: str = "") -> None:
        """Live cluster, jobs and Serve panels in tabs (or one of them), refreshed every 2 s
        while visible. Needs a Jupyter kernel; elsewhere use %ray_status, %ray_jobs, %ray_serve.
        """
        args = parse_argstring(self.ray_dashboard, line)
        chosen = [name for name in _PANELS if getattr(args, name)]
        if len(chosen) > 1:
            raise UsageError("%ray_dashboard takes one of --cluster, --jobs, --serve (or none for all)")
        if not widgets_available(self.shell):
            raise UsageError(
                "%ray_dashboard needs a Jupyter kernel with anywidget; "
                "here use %ray_status, %ray_jobs or %ray_serve"
            )
        from .. import widgets

        kinds = {"cluster": widgets.ClusterPanel, "jobs": widgets.JobsTable, "serve": widgets.ServePanel}
        widget = kinds[chosen[0]](client=self.client) if chosen else widgets.Dashboard(self.client)
        self.store(args.out, widget)
        display(widget)
