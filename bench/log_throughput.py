"""Log throughput: a job prints 200,000 lines as fast as it can; every line must arrive once.

Prints lines/s and the time from the job's end to the end of the stream, for raynb
(auto, websocket) and Ray's own JobSubmissionClient.tail_job_logs, in one run.
Run: python bench/log_throughput.py [--address http://127.0.0.1:8265]
"""

from __future__ import annotations

import asyncio
import time

from _common import dashboard, parse_args, py_entrypoint

from raynb.client import AsyncRayClient, StreamLimits

LINES = 200_000
JOB = f"""
import sys
w = sys.stdout.write
for i in range({LINES}):
    w(f'N {{i}}\\n')
sys.stdout.flush()
"""
LIMITS = StreamLimits(max_messages=10_000_000, max_lines=10_000_000, max_bytes=1 << 30)


def check(numbers: list[int]) -> str:
    return "exactly once, in order" if numbers == list(range(LINES)) else (
        f"WRONG: {len(numbers)} lines, {len(set(numbers))} distinct"
    )


async def follow_raynb(client: AsyncRayClient, job_id: str, protocol: str) -> list[int]:
    return [int(line[2:]) async for line in client.tail_job_logs(job_id, protocol=protocol)
            if line.startswith("N ")]


async def follow_ray(url: str, job_id: str) -> list[int]:
    from ray.job_submission import JobSubmissionClient

    numbers: list[int] = []
    partial = ""
    async for chunk in JobSubmissionClient(url).tail_job_logs(job_id):
        *lines, partial = (partial + chunk).split("\n")
        numbers += [int(line[2:]) for line in lines if line.startswith("N ")]
    return numbers


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with dashboard(args.address) as url:
        async with AsyncRayClient(url, limits=LIMITS) as client:
            methods = {
                "raynb auto": lambda jid: follow_raynb(client, jid, "auto"),
                "raynb websocket": lambda jid: follow_raynb(client, jid, "websocket"),
                "Ray JobSubmissionClient.tail_job_logs": lambda jid: follow_ray(url, jid),
            }
            rows = []
            for name, follow in methods.items():
                job = await client.submit_job(py_entrypoint(JOB))
                start = time.time()
                numbers = await follow(job.submission_id)
                done = time.time()
                info = await client.get_job(job.submission_id)
                first = info.start_time / 1000
                rows.append((name, len(numbers) / (done - first), done - info.end_time / 1000,
                             check(numbers), done - start))
        print(f"\n{LINES} lines printed as fast as possible")
        print(f"{'method':40} {'lines/s':>10} {'end->done s':>12} {'total s':>8}  delivery")
        for name, rate, tail, verdict, total in rows:
            print(f"{name:40} {rate:10.0f} {tail:12.2f} {total:8.2f}  {verdict}")
        ray_row, auto_row = rows[-1], rows[0]
        print(f"raynb auto: {auto_row[1] / ray_row[1]:.1f}x the lines/s of Ray's own tail; "
              f"stream ends {ray_row[2] / max(auto_row[2], 1e-3):.1f}x sooner after the job")


if __name__ == "__main__":
    asyncio.run(main())
