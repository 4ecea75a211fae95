"""Shared helpers for the benchmarks: a dashboard to run against and small statistics."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Iterator


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--address",
        default=os.environ.get("RAYNB_BENCH_DASHBOARD"),
        help="dashboard URL of a running head (default: start a local head for the run)",
    )
    return parser.parse_args()


@contextlib.contextmanager
def dashboard(address: str | None) -> Iterator[str]:
    """Yield a dashboard URL: the given one, or a local head started (and stopped) here."""
    if address:
        yield address
        return
    from raynb import cluster

    head = cluster.start_local_head(num_cpus=2)
    if head.token_file:  # it has token auth: Ray's own tools read the token file, as its users set up
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=head.token_file)
    try:
        yield head.dashboard_url
    finally:
        cluster.stop_local_head(head)


def py_entrypoint(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -u -c {shlex.quote(code)}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
