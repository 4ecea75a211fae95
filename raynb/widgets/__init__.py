"""Live Jupyter widgets (anywidget) for Ray: a job's log, jobs, the cluster, Serve, a pipeline run.

Each widget is an ``anywidget.AnyWidget`` whose front end is ``raynb/static/<name>.js``
(``logview``, ``jobs``, ``cluster``, ``serve``, ``pipeline``). The protocol between the two
(full text: the widgets protocol spec shared with ``js/src/widgets``):

Python -> JS custom messages
    ``{"type": "lines", "stream", "seq", "lines", "dropped"}``  a batch of consecutive log
    lines of ``stream`` (a submission id) starting at index ``seq``; at most one message
    per 50 ms. Lines are raw text (ANSI, ``\\r``, hostile markup): render them as text.
    ``{"type": "reset", "stream"}``  forget the stream shown (JobsTable switches job).
    ``{"type": "reply", "id", "ok": true, "result"}`` / ``{..., "ok": false, "error"}``.
JS -> Python custom messages
    ``{"type": "request", "id", "method", "args"}``: ``resync {stream, from_seq}`` ->
    ``{seq, lines, dropped}`` (the held lines from ``from_seq``; may overlap lines already
    received: keep one line per seq); JobsTable ``stop``/``delete``/``logs {job_id}``,
    ServePanel ``delete_app {name}``, all pollers ``refresh {}``. Errors come back as data.
Synced traits
    LogView: job_id, status, done, error, total, dropped, max_lines, final.
    JobsTable: jobs, error, last_refresh, visible, log_job, log_status, log_final.
    ClusterPanel: nodes, totals, pending, error, visible, last_refresh.
    ServePanel: apps, error, visible, last_refresh.
    PipelineProgressWidget (``raynb.widgets.pipeline``): run_id, progress, error; ``logs``
    messages carry a run's new log lines; requests ``logs``, ``cancel``, ``resume``.
    ``visible`` is set by the front end; polling waits while it is False.

Work runs on the RayClient's loop thread, never in the kernel's cell: a cell that shows a
widget returns at once. ``Dashboard`` puts the three panels in tabs.
"""

from ._base import RayWidget
from .cluster import ClusterPanel
from .dashboard import Dashboard
from .jobs import JobsTable
from .logview import LogView
from .serve import ServePanel

__all__ = ["ClusterPanel", "Dashboard", "JobsTable", "LogView", "RayWidget", "ServePanel"]
