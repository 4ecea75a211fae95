"""Print-to-delivery latency of live job logs: raynb (auto, websocket, http) vs Ray's own tail.

A real job prints a timestamped line every 50 ms; each method follows its own run of that
job, and the latency of a line is its arrival time minus the time it was printed.
Run: python bench/log_latency.py [--address http://127.0.0.1:8265]
"""

from __future__ import annotations

import asyncio
import time

from _common import dashboard, parse_args, percentile, py_entrypoint

from raynb.client import AsyncRayClient

LINES = 200
JOB = f"""
import time
for i in range({LINES}):
    print(f'T {{time.time():.6f}} {{i}}', flush=True)
    time.sleep(0.05)
"""


def latency(line: str, now: float) -> float | None:
    parts = line.split()
    return now - float(parts[1]) if len(parts) == 3 and parts[0] == "T" else None


async def follow_raynb(url: str, job_id: str, protocol: str) -> list[float]:
    out: list[float] = []
    async with AsyncRayClient(url) as client:
        async for line in client.tail_job_logs(job_id, protocol=protocol):
            if (lat := latency(line, time.time())) is not None:
                out.append(lat)
    return out


async def follow_ray(url: str, job_id: str) -> list[float]:
    from ray.job_submission import JobSubmissionClient

    out: list[float] = []
    async for chunk in JobSubmissionClient(url).tail_job_logs(job_id):
        now = time.time()
        out += [lat for line in chunk.splitlines() if (lat := latency(line, now)) is not None]
    return out


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with dashboard(args.address) as url:
        methods = {
            "raynb auto": lambda jid: follow_raynb(url, jid, "auto"),
            "raynb http": lambda jid: follow_raynb(url, jid, "http"),
            "raynb websocket": lambda jid: follow_raynb(url, jid, "websocket"),
            "Ray JobSubmissionClient.tail_job_logs": lambda jid: follow_ray(url, jid),
        }
        results: dict[str, list[float]] = {}
        async with AsyncRayClient(url) as client:
            for name, follow in methods.items():
                job = await client.submit_job(py_entrypoint(JOB))
                results[name] = await follow(job.submission_id)
        print(f"\n{LINES} lines, one every 50 ms; latency from print to delivery (ms)")
        print(f"{'method':40} {'lines':>6} {'p50':>8} {'p95':>8} {'max':>8}")
        for name, lats in results.items():
            ms = [x * 1000 for x in lats]
            print(f"{name:40} {len(ms):6d} {percentile(ms, 50):8.1f} {percentile(ms, 95):8.1f} {max(ms):8.1f}")
        ray_lats, auto = results["Ray JobSubmissionClient.tail_job_logs"], results["raynb auto"]
        for q in (50, 95):
            ratio = percentile(ray_lats, q) / percentile(auto, q)
            print(f"p{q}: raynb auto is {ratio:.1f}x lower than Ray's own tail")


if __name__ == "__main__":
    asyncio.run(main())
