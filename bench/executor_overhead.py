"""Overhead of the executors against Ray's own tools, for a no-op action.

1. RayActorExecutor.execute vs a raw call on an equivalent actor: p50 round trip (target <= 1.5x).
2. RayJobExecutor: 100 concurrent submissions and their results vs raw ``ray.remote``
   tasks: p50 wall time of a round (target <= 1.5x).
3. RayJobsApiExecutor submit-to-result vs ``JobSubmissionClient.submit_job`` plus polling
   ``get_job_status`` every 1 s (target <= 1.0x).

    python bench/executor_overhead.py [--address http://127.0.0.1:8265]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import dashboard, parse_args, py_entrypoint

from raynb.actions import Action
from raynb.executors.connect import connect

CALLS = 200
ROUNDS = 5
TASKS = 100
JOBS = 9
NUM_CPUS = 0.5


class Noop(Action):
    def execute(self) -> None:
        return None


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def actor_overhead() -> tuple[float, float]:
    import ray

    from raynb.executors import RayActorExecutor

    @ray.remote(num_cpus=0.1)
    class Raw:
        def run(self, params: dict) -> None:
            return None

    raw = Raw.remote()
    with RayActorExecutor(num_cpus=0.1, show_progress=False) as executor:
        for _ in range(20):  # warm both: actors started, code loaded
            executor.execute(Noop)
            ray.get(raw.run.remote({}))
        ours, theirs = [], []
        for _ in range(CALLS // 20):  # interleaved, so load changes hit both alike
            ours += timed(lambda: executor.execute(Noop), 20)
            theirs += timed(lambda: ray.get(raw.run.remote({})), 20)
    ray.kill(raw)
    return p50(ours), p50(theirs)


def job_overhead() -> tuple[float, float]:
    import ray

    from raynb.executors import RayJobExecutor

    @ray.remote(num_cpus=NUM_CPUS)
    def raw(params: dict) -> None:
        return None

    def ours_round() -> None:
        ids = [executor.submit(Noop) for _ in range(TASKS)]
        for job_id in ids:
            executor.get_result(job_id)

    def raw_round() -> None:
        ray.get([raw.remote({}) for _ in range(TASKS)])

    with RayJobExecutor(num_cpus=NUM_CPUS, show_progress=False) as executor:
        ours_round(), raw_round()  # warm the worker pool
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours += timed(ours_round, 1)
            theirs += timed(raw_round, 1)
    return p50(ours), p50(theirs)


def jobs_api_overhead(url: str) -> tuple[float, float]:
    from ray.job_submission import JobStatus, JobSubmissionClient

    from raynb.executors import RayJobsApiExecutor

    raw_client = JobSubmissionClient(url)
    executor = RayJobsApiExecutor(url, working_dir=str(Path(__file__).parent), show_progress=False)
    noop = py_entrypoint("import json; print(json.dumps(None))")

    ours_ids, raw_ids = [], []

    def ours() -> None:
        ours_ids.append(executor.submit("executor_overhead:Noop"))
        executor.get_result(ours_ids[-1])

    def theirs() -> None:
        raw_ids.append(raw_client.submit_job(entrypoint=noop))
        while raw_client.get_job_status(raw_ids[-1]) not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            time.sleep(1)

    ours(), theirs()
    mine, raw = [], []
    for i in range(JOBS):  # alternate who goes first, so drifting load hits both alike
        first, second = (ours, theirs) if i % 2 == 0 else (theirs, ours)
        a, b = timed(first, 1), timed(second, 1)
        mine += a if first is ours else b
        raw += b if first is ours else a
    for job_id in ours_ids:  # deleting waits until Ray's job monitor is done with the job
        executor.delete(job_id)
    for job_id in raw_ids:
        raw_client.delete_job(job_id)
    executor.shutdown()
    return p50(mine), p50(raw)


def report(name: str, ours: float, theirs: float, target: float) -> None:
    ratio = ours / theirs
    verdict = "ok" if ratio <= target else "over target"
    print(f"{name:<44} raynb p50 {ours * 1000:9.1f} ms   Ray p50 {theirs * 1000:9.1f} ms"
          f"   ratio {ratio:4.2f}x (target <= {target}x: {verdict})")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with dashboard(args.address) as url:
        os.environ["RAY_API_SERVER_ADDRESS"] = url  # ray_address='auto' finds this cluster
        connect("auto")  # before Ray's own auto-init could pick another running cluster
        report("RayActorExecutor.execute vs actor call", *actor_overhead(), 1.5)
        report(f"RayJobExecutor {TASKS} submissions vs ray.remote", *job_overhead(), 1.5)
        report("RayJobsApiExecutor vs JobSubmissionClient", *jobs_api_overhead(url), 1.0)


if __name__ == "__main__":
    main()
