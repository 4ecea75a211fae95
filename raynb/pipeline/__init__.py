"""The pipeline service and its models: runs, per-action progress, checkpoints and logs in
SQLite (WAL), served over HTTP with a live SSE stream per run.

:mod:`.models` (shared with the widget), :mod:`.store` (SQLite), :mod:`.app` (the ASGI app),
:mod:`.client` (its HTTP client), :mod:`.embedded` (the service a process starts for itself,
with a random token), :mod:`.worker` (what runs a run's actions on Ray), :mod:`.watch` (how an
executor follows its runs' actors).
"""

DEFAULT_PORT = 8100  # the service's port when none is given: `raynb pipeline-service`, the executors
DEFAULT_URL = f"http://localhost:{DEFAULT_PORT}"  # where the executors and %ray_pipeline look first
