"""``python -m raynb.pipeline [--host H] [--port P] [--db PATH] [--token T]``: the pipeline service."""

from __future__ import annotations

import argparse
import os
import sys

from . import DEFAULT_PORT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The service's options (shared with ``raynb pipeline-service``)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--db", help="SQLite file (default $RAYNB_PIPELINE_DB or ~/.local/share/raynb/pipelines.db)")
    parser.add_argument("--token", help="require this bearer token (default $RAYNB_PIPELINE_TOKEN; none if unset)")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds between SSE heartbeats (default 15)")


def serve(args: argparse.Namespace) -> int:
    """Run the service in the foreground until interrupted."""
    import uvicorn

    from .app import create_app, default_db_path

    db = args.db or default_db_path()
    token = args.token or os.environ.get("RAYNB_PIPELINE_TOKEN") or None
    app = create_app(db, token=token, heartbeat=args.heartbeat)
    auth = "token required" if token else "no token"
    print(f"raynb pipeline service on http://{args.host}:{args.port} (database {db}, {auth})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raynb.pipeline", description=__doc__)
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
