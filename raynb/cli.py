"""The ``raynb`` command: ``raynb demo`` shows the client on a local Ray head;
``raynb pipeline-service`` runs the pipeline service."""

from __future__ import annotations

import argparse
import shlex
import sys

DEMO_JOB = """
import time
for step in range(1, 11):
    print(f"step {step}/10: {'#' * step}", flush=True)
    time.sleep(0.3)
print("done")
"""


def demo(address: str | None) -> int:
    """Find or start a local head, submit a job, follow its log live, list the cluster."""
    from . import cluster
    from .client import RayClient, RayClientError

    if address is None:
        head = cluster.ensure_local_head()
        address = head.dashboard_url
        print(f"Ray dashboard: {address} ({'started' if head.started_here else 'reused'} local head)")
    try:
        with RayClient(address) as ray:
            version = ray.get_version()
            status = ray.get_cluster_status()
            cpu = status.resources.get("CPU")
            print(f"Ray {version.ray_version}: {status.nodes_alive} node(s) alive, "
                  f"{cpu.total if cpu else 0:g} CPUs")
            entrypoint = f"{shlex.quote(sys.executable)} -u -c {shlex.quote(DEMO_JOB)}"
            job = ray.submit_job(entrypoint, metadata={"from": "raynb demo"})
            print(f"submitted {job.submission_id}; its log, live:")
            for line in ray.tail_job_logs(job.submission_id):
                print("  |", line)
            print(f"{job.submission_id}: {ray.get_job_status(job.submission_id)}")
            print(f"jobs on the cluster: {len(ray.list_jobs())}")
    except RayClientError as exc:
        print(f"raynb: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="raynb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run the client demo against a local Ray head")
    demo_parser.add_argument("--address", help="dashboard URL (default: find or start a local head)")
    from .pipeline.__main__ import add_arguments, serve

    service_parser = commands.add_parser("pipeline-service", help="run the pipeline service (HTTP + SSE, SQLite)")
    add_arguments(service_parser)
    args = parser.parse_args(argv)
    if args.command == "pipeline-service":
        return serve(args)
    return demo(args.address)


if __name__ == "__main__":
    sys.exit(main())
