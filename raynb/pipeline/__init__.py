"""The pipeline service and its models: runs, per-action progress, checkpoints and logs in
SQLite (WAL), served over HTTP with a live SSE stream per run.

:mod:`.models` (shared with the widget), :mod:`.store` (SQLite), :mod:`.app` (the ASGI app),
:mod:`.client` (its HTTP client), :mod:`.worker` (what runs a run's actions on Ray).
"""
