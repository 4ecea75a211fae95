"""Pipelines: how fast progress reaches the notebook, and what running steps as a pipeline costs.

1. Latency from an action's ``self.progress(...)`` on Ray to a client knowing it: the SSE
   stream of the pipeline service vs polling the run every 1 s (the seed design's polling),
   both following the same run at once (target: SSE p50 <= 100 ms).
2. A 10-step pipeline of no-op actions (submit to COMPLETED: one new actor per run, checkpoints
   and progress in the service) vs the same 10 actions run back to back by one call on one new
   plain Ray actor (the floor: no reports, no checkpoints): p50 wall time, and the ratio.

    python bench/pipeline_progress.py [--address http://127.0.0.1:8265]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import httpx
from _common import dashboard, parse_args, percentile
from pydantic import BaseModel

from raynb.actions import Action

UPDATES = 60
INTERVAL_S = 0.2
POLL_S = 1.0
STEPS = 10
ROUNDS = 5


class TickParams(BaseModel):
    updates: int
    interval: float


class Tick(Action[TickParams]):
    """Reports ``updates`` times; each message carries its index and the wall time it was sent."""

    def execute(self) -> None:
        for i in range(1, self.params.updates + 1):
            self.progress(i, self.params.updates, f"{i} {time.time():.6f}")
            time.sleep(self.params.interval)


class Noop(Action):
    def execute(self) -> None:
        return None


def start_service(db: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "raynb.pipeline", "--port", str(port), "--db", str(db)],
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).is_success:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)


def progress_latency(executor) -> tuple[list[float], list[float]]:
    """``(SSE latencies, 1 s polling latencies)`` in seconds, per progress update."""
    sent: dict[int, float] = {}
    seen_sse: dict[int, float] = {}
    seen_poll: dict[int, float] = {}
    run_id = executor.submit([Tick], {"updates": UPDATES, "interval": INTERVAL_S})

    def note(message: str | None, seen: dict[int, float]) -> None:
        if message:
            index, at = message.split()
            sent[int(index)] = float(at)
            seen.setdefault(int(index), time.time())

    def follow() -> None:
        for snapshot in executor.stream_progress(run_id, timeout=600):
            note(snapshot.actions[0].message, seen_sse)

    def poll() -> None:
        while not (snapshot := executor.get_progress(run_id)).status.is_terminal():
            note(snapshot.actions[0].message, seen_poll)
            time.sleep(POLL_S)

    threads = [threading.Thread(target=follow), threading.Thread(target=poll)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def latencies(seen: dict[int, float]) -> list[float]:
        # an update is known once a state at least as new has arrived
        return [min(t for j, t in seen.items() if j >= i) - sent[i] for i in sent if any(j >= i for j in seen)]

    return latencies(seen_sse), latencies(seen_poll)


class BackToBack:
    """A plain actor running the actions one after the other in one call."""

    def run(self, actions: list[type]) -> list[None]:
        return [action(action.params_model()()).execute() for action in actions]


def pipeline_overhead(executor) -> tuple[float, float]:
    import ray

    plain = ray.remote(num_cpus=0.1)(BackToBack)

    def pipeline_round() -> None:
        run_id = executor.submit([Noop] * STEPS)
        executor.wait(run_id)  # raises if the run did not complete

    def actor_round() -> None:
        actor = plain.remote()
        ray.get(actor.run.remote([Noop] * STEPS))
        ray.kill(actor)

    pipeline_round(), actor_round()  # warm: code shipped, worker pool started
    ours, theirs = [], []
    for i in range(ROUNDS):  # alternate who goes first, so drifting load hits both alike
        for fn, samples in ((pipeline_round, ours), (actor_round, theirs))[:: 1 if i % 2 == 0 else -1]:
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with dashboard(args.address) as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["RAY_API_SERVER_ADDRESS"] = url  # ray_address='auto' finds this cluster
        proc, service_url = start_service(Path(tmp) / "bench.db")
        from raynb.executors import RayPipelineExecutor

        try:
            with RayPipelineExecutor(pipeline_service_url=service_url, num_cpus=0.1, show_progress=False) as ex:
                sse, polled = progress_latency(ex)
                for name, samples in (("SSE stream", sse), (f"polling every {POLL_S:g} s", polled)):
                    print(f"progress() -> client, {name:<20} p50 {percentile(samples, 50) * 1000:7.1f} ms   "
                          f"p95 {percentile(samples, 95) * 1000:7.1f} ms   ({len(samples)} updates)")
                ratio = percentile(polled, 50) / percentile(sse, 50)
                verdict = "ok" if percentile(sse, 50) <= 0.1 else "over target"
                print(f"SSE p50 is {ratio:.1f}x faster than polling (target SSE p50 <= 100 ms: {verdict})")
                ours, theirs = pipeline_overhead(ex)
                print(f"{STEPS}-step no-op pipeline p50 {ours * 1000:8.1f} ms   same actions on one actor "
                      f"p50 {theirs * 1000:8.1f} ms   ratio {ours / theirs:4.2f}x")
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
