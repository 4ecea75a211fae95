"""Cost of the magics: %ray_jobs over 1,000 jobs and %ray_tasks --limit 10000, rendering
included, against the same listing through Ray's own JobSubmissionClient / ray.util.state;
and the time of `%load_ext raynb` in a fresh interpreter (Ray must not be imported).

Run: python bench/magic_overhead.py [--address URL] [--jobs 1000] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import dashboard, py_entrypoint
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from raynb.client import RayClient

LOAD_EXT = (
    "import sys, time\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()\n"
    "start = time.perf_counter()\n"
    "shell.run_line_magic('load_ext', 'raynb')\n"
    "print(time.perf_counter() - start, 'ray' in sys.modules)\n"
)


def paired(ours, theirs, repeat: int = 5) -> tuple[float, float]:
    """Median wall times of ``ours`` and ``theirs`` over ``repeat`` rounds, after one warm-up
    each; every round runs both, alternating who goes first, so load changes hit both alike."""
    ours(), theirs()
    runs: dict = {ours: [], theirs: []}
    for i in range(repeat):
        for fn in (ours, theirs) if i % 2 == 0 else (theirs, ours):
            start = time.perf_counter()
            fn()
            runs[fn].append(time.perf_counter() - start)
    return statistics.median(runs[ours]), statistics.median(runs[theirs])


def add_jobs(client: RayClient, wanted: int) -> list[str]:
    """Submit jobs until the cluster knows ``wanted``. They ask for a resource no node has,
    so they wait as PENDING without starting a process; the caller stops them afterwards."""
    missing = max(0, wanted - len(client.list_jobs()))
    print(f"submitting {missing} pending jobs…", flush=True)
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(
            lambda _: client.submit_job("true", entrypoint_resources={"raynb_bench_never": 1}).submission_id,
            range(missing),
        ))


def run_many_tasks(client: RayClient, n: int) -> str:
    code = (
        "import ray\nray.init()\n@ray.remote(num_cpus=0.01)\ndef f(): return 1\n"
        f"print(sum(ray.get([f.remote() for _ in range({n})])))\n"
    )
    job = client.submit_job(py_entrypoint(code))
    while not client.get_job_status(job.submission_id).is_terminal():
        time.sleep(1)
    time.sleep(5)  # task events reach the dashboard in batches
    return client.get_job(job.submission_id).job_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=os.environ.get("RAYNB_BENCH_DASHBOARD"))
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()

    loads = [subprocess.run([sys.executable, "-c", LOAD_EXT], capture_output=True, text=True,
                            check=True).stdout.split() for _ in range(5)]
    load_ms = statistics.median(float(t) for t, _ in loads) * 1000
    ray_imported = any(flag == "True" for _, flag in loads)

    with dashboard(args.address) as url:
        from ray.job_submission import JobSubmissionClient
        from ray.util.state import list_tasks

        client = RayClient(url)
        ray_job_id = run_many_tasks(client, args.tasks)
        added = add_jobs(client, args.jobs)
        n_jobs = len(client.list_jobs())
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "raynb")
        with capture_output():
            shell.run_line_magic("ray_connect", url)

        def magic(line: str):
            def run() -> None:
                with capture_output() as cap:
                    shell.run_line_magic(*line.split(" ", 1))
                bundle = cap.outputs[-1].data
                assert "raynb-error" not in bundle["text/html"], bundle["text/plain"]
            return run

        ray_jobs_client = JobSubmissionClient(url)
        jobs = paired(magic(f"ray_jobs --limit {n_jobs}"), ray_jobs_client.list_jobs, repeat=9)
        tasks = paired(
            magic(f"ray_tasks --limit {args.tasks} --job {ray_job_id}"),
            lambda: list_tasks(address=url, limit=args.tasks, filters=[("job_id", "=", ray_job_id)],
                               raise_on_missing_output=False),
            repeat=3,
        )  # fmt: skip
        rows = [
            (f"%ray_jobs --limit {n_jobs} ({n_jobs} jobs)", jobs[0], "JobSubmissionClient.list_jobs()", jobs[1]),
            (f"%ray_tasks --limit {args.tasks}", tasks[0], "ray.util.state.list_tasks(limit=…)", tasks[1]),
        ]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client.stop_job, added))
        client.close()

    print(f"\n%load_ext raynb: {load_ms:.0f} ms (median of 5 fresh interpreters); "
          f"Ray imported: {ray_imported}")
    print(f"{'raynb (rendering included)':42} {'s':>7}   {'Ray':38} {'s':>7}  ratio")
    for ours, ours_s, theirs, theirs_s in rows:
        print(f"{ours:42} {ours_s:7.3f}   {theirs:38} {theirs_s:7.3f}  {ours_s / theirs_s:.2f}x")


if __name__ == "__main__":
    main()
