"""Print-to-delivery latency of live job logs: raynb vs Ray's own tail, in one run.

Cases (all by default; pick with --case, repeatable):
- live: a job prints a timestamped line every 50 ms; raynb (auto, websocket, http) and Ray's
  JobSubmissionClient.tail_job_logs each follow their own run of it.
- latency-sizes: the job first writes 1 MB, 50 MB or 500 MB of 100-byte filler lines as fast
  as it can, then a timestamped line every 50 ms. Each follower attaches once the backlog is
  written: raynb auto from byte 0, raynb auto with last=100 (when this raynb has last=), and
  Ray's own (from byte 0; its time is capped, see RAY_CAP_S). Latency counts the lines printed
  after the follower caught up (delivered the line after the backlog, or its first line with
  last=); the catch-up time is printed beside it. Targets: p50 <= 60 ms, p95 <= 150 ms.
- attach: a job printed 1,000,000 lines and keeps printing one every 50 ms; raynb attaches with
  last=1000: time to its first line and to the first line printed after the call (<= 2 s).
The latency of a line is its arrival time minus the time it was printed.
Run: python bench/log_latency.py [--address http://127.0.0.1:8265] [--case latency-sizes]
(the latency-sizes and attach cases need the head on this machine: the job signals with a file)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field

from _common import (
    Head,
    backlog_job,
    end_job,
    has_last,
    local_head,
    parse_args,
    percentile,
    printed_at,
    py_entrypoint,
    ray_lines,
    raynb_lines,
    wait_ready,
    warm_ray,
)

from raynb.client import AsyncRayClient, StreamLimits

CASES = ["live", "latency-sizes", "attach"]
UNLIMITED = StreamLimits.UNLIMITED
MB = 1_000_000

LINES = 200
JOB = f"""
import time
for i in range({LINES}):
    print(f'T {{time.time():.6f}} {{i}}', flush=True)
    time.sleep(0.05)
"""

SIZES = [1 * MB, 50 * MB, 500 * MB]
STEADY_LINES = 200  # live lines (10 s) measured per follower once it caught up
RAYNB_CAP_S = 300.0  # a follower that has not caught up and measured by then is cut
RAY_CAP_S = {1 * MB: 120.0, 50 * MB: 180.0, 500 * MB: 60.0}  # Ray's replays 10 lines a message
P50_TARGET_MS, P95_TARGET_MS = 60.0, 150.0

ATTACH_LINES = 1_000_000
ATTACH_LAST = 1000
ATTACH_TRIES = 3
ATTACH_TARGET_S = 2.0


def ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


# --- live ---------------------------------------------------------------------------------


def latency(line: str, now: float) -> float | None:
    ts = printed_at(line)
    return None if ts is None else now - ts


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


async def case_live(head: Head) -> None:
    url = head.url
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
    print(f"\n[live] {LINES} lines, one every 50 ms; latency from print to delivery (ms)")
    print(f"{'method':40} {'lines':>6} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, lats in results.items():
        m = ms(lats)
        print(f"{name:40} {len(m):6d} {percentile(m, 50):8.1f} {percentile(m, 95):8.1f} {max(m):8.1f}")
    ray_lats, auto = results["Ray JobSubmissionClient.tail_job_logs"], results["raynb auto"]
    for q in (50, 95):
        ratio = percentile(ray_lats, q) / percentile(auto, q)
        print(f"p{q}: raynb auto is {ratio:.1f}x lower than Ray's own tail")


# --- latency-sizes ------------------------------------------------------------------------


@dataclass
class Follow:
    method: str
    catch_up_s: float | None = None  # attach -> the backlog delivered (or the first line, with last=)
    lats: list[float] = field(default_factory=list)
    backlog_bytes: int = 0  # bytes of lines delivered before it caught up
    capped_s: float | None = None  # cut at this many seconds
    error: str | None = None


async def measure(method: str, lines, *, on_first: bool, cap: float) -> Follow:
    """Follow ``lines`` ((arrival, line) pairs) until STEADY_LINES live lines after catch-up."""
    out = Follow(method)
    start = time.time()
    caught_up: float | None = None
    try:
        async with asyncio.timeout(cap), contextlib.aclosing(lines) as it:
            async for now, line in it:
                if caught_up is None:
                    if on_first or line.startswith("READY "):
                        caught_up = now
                        out.catch_up_s = now - start
                    else:
                        out.backlog_bytes += len(line) + 1
                        continue
                ts = printed_at(line)
                if ts is not None and ts > caught_up:
                    out.lats.append(now - ts)
                    if len(out.lats) >= STEADY_LINES:
                        break
    except TimeoutError:
        out.capped_s = cap
    except Exception as exc:  # noqa: BLE001 -- a bench reports it and goes on with the next follower
        out.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return out


async def run_size(head: Head, client: AsyncRayClient, tmp: str, size: int, method: str) -> Follow:
    ready = os.path.join(tmp, f"ready-{size}-{method.replace(' ', '_')}")
    job = await client.submit_job(backlog_job(ready, filler_bytes=size, live_interval=0.05))
    jid = job.submission_id
    try:
        await wait_ready(ready)
        if method == "Ray JobSubmissionClient.tail_job_logs":
            return await measure(method, ray_lines(head.url, jid), on_first=False, cap=RAY_CAP_S[size])
        # A client of its own per follower: nothing carries over from the previous one.
        async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as own:
            if method == "raynb auto":
                return await measure(method, raynb_lines(own, jid), on_first=False, cap=RAYNB_CAP_S)
            lines = raynb_lines(own, jid, last=100)
            return await measure(method, lines, on_first=True, cap=RAYNB_CAP_S)
    finally:
        await end_job(client, head, jid)


def print_sizes(rows: dict[int, list[Follow]]) -> None:
    print(f"\n[latency-sizes] a line every 50 ms after a backlog of 100-byte lines; "
          f"{STEADY_LINES} lines measured per follower once it caught up; latency in ms")
    print(f"{'backlog':>8} {'method':40} {'catch-up s':>10} {'lines':>6} {'p50':>8} {'p95':>8} {'max':>8}  note")
    for size, follows in rows.items():
        for f in follows:
            m = ms(f.lats)
            stats = (f"{percentile(m, 50):8.1f} {percentile(m, 95):8.1f} {max(m):8.1f}" if m
                     else f"{'-':>8} {'-':>8} {'-':>8}")
            note = []
            if f.error:
                note.append(f"ERROR {f.error}")
            if f.capped_s is not None:
                if f.catch_up_s is None:
                    note.append(f"capped at {f.capped_s:g} s before the end of the backlog: "
                                f"{f.backlog_bytes / MB:.1f} of {size / MB:g} MB delivered "
                                f"({f.backlog_bytes / MB / f.capped_s:.2f} MB/s); no live line")
                else:
                    note.append(f"capped at {f.capped_s:g} s")
            elif f.method.startswith("raynb") and m:
                ok = percentile(m, 50) <= P50_TARGET_MS and percentile(m, 95) <= P95_TARGET_MS
                note.append("target met" if ok else
                            f"target NOT met (p50 <= {P50_TARGET_MS:g}, p95 <= {P95_TARGET_MS:g})")
            if f.catch_up_s is not None and f.backlog_bytes:
                note.append(f"backlog at {f.backlog_bytes / MB / f.catch_up_s:.1f} MB/s")
            catch = f"{f.catch_up_s:10.2f}" if f.catch_up_s is not None else f"{'-':>10}"
            print(f"{size / MB:6g}MB {f.method:40} {catch} {len(m):6d} {stats}  {'; '.join(note)}")
    for size, follows in rows.items():
        by = {f.method: f for f in follows}
        ray, auto = by.get("Ray JobSubmissionClient.tail_job_logs"), by.get("raynb auto")
        if ray and auto and ray.lats and auto.lats:
            ratios = ", ".join(f"p{q} {percentile(ray.lats, q) / percentile(auto.lats, q):.1f}x"
                               for q in (50, 95))
            catch = ""
            if ray.catch_up_s and auto.catch_up_s:
                catch = (f"; backlog delivered in {auto.catch_up_s:.2f} s vs Ray's {ray.catch_up_s:.2f} s "
                         f"(raynb {ray.catch_up_s / auto.catch_up_s:.2f}x as fast)")
            print(f"{size / MB:6g}MB: raynb auto vs Ray's own tail: latency {ratios} lower{catch}")
        elif ray and auto and auto.catch_up_s is not None and not ray.lats:
            print(f"{size / MB:6g}MB: Ray's own tail delivered no live line within its cap of "
                  f"{RAY_CAP_S[size]:g} s; raynb auto caught up in {auto.catch_up_s:.2f} s")


async def case_sizes(head: Head) -> None:
    methods = ["raynb auto", *(["raynb auto last=100"] if has_last() else []),
               "Ray JobSubmissionClient.tail_job_logs"]
    if not has_last():
        print("\n[latency-sizes] this raynb's tail_job_logs has no last=: that row is left out")
    rows: dict[int, list[Follow]] = {}
    with tempfile.TemporaryDirectory(prefix="raynb-bench-") as tmp:
        async with AsyncRayClient(head.url) as client:
            for size in SIZES:
                rows[size] = []
                for method in methods:
                    t0 = time.time()
                    rows[size].append(await run_size(head, client, tmp, size, method))
                    print(f"  ({size / MB:g} MB, {method}: {time.time() - t0:.0f} s)", flush=True)
    print_sizes(rows)


# --- attach -------------------------------------------------------------------------------


@dataclass
class Attach:
    first_s: float | None = None
    first_live_s: float | None = None
    before_live: int = 0  # lines delivered before the first line printed after the call
    first_line: str = ""
    error: str | None = None


async def attach_once(url: str, job_id: str) -> Attach:
    out = Attach()
    try:
        async with AsyncRayClient(url, stream_limits=UNLIMITED) as client:
            t0 = time.time()
            async with asyncio.timeout(60), contextlib.aclosing(
                raynb_lines(client, job_id, last=ATTACH_LAST)
            ) as it:
                async for now, line in it:
                    if out.first_s is None:
                        out.first_s, out.first_line = now - t0, line[:40]
                    ts = printed_at(line)
                    if ts is not None and ts >= t0:
                        out.first_live_s = now - t0
                        break
                    out.before_live += 1
    except Exception as exc:  # noqa: BLE001 -- the bench reports it and goes on
        out.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return out


async def case_attach(head: Head) -> None:
    print(f"\n[attach] a job printed {ATTACH_LINES:,} lines and prints one every 50 ms; "
          f"raynb attaches with last={ATTACH_LAST}")
    if not has_last():
        print("this raynb's tail_job_logs has no last=: skipped")
        return
    with tempfile.TemporaryDirectory(prefix="raynb-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        async with AsyncRayClient(head.url) as client:
            job = await client.submit_job(backlog_job(ready, numbered=ATTACH_LINES, live_interval=0.05))
            jid = job.submission_id
            try:
                await wait_ready(ready)
                await asyncio.sleep(1.0)
                tries = []
                for _ in range(ATTACH_TRIES):
                    tries.append(await attach_once(head.url, jid))
                    await asyncio.sleep(0.5)
            finally:
                await end_job(client, head, jid)
    print(f"{'try':>4} {'first line s':>12} {'first live line s':>17} {'lines before it':>15}  first line")
    for i, t in enumerate(tries, 1):
        if t.error:
            print(f"{i:4d} ERROR {t.error}")
            continue
        first = f"{t.first_s:12.3f}" if t.first_s is not None else f"{'-':>12}"
        live = f"{t.first_live_s:17.3f}" if t.first_live_s is not None else f"{'-':>17}"
        print(f"{i:4d} {first} {live} {t.before_live:15d}  {t.first_line!r}")
    lives = [t.first_live_s for t in tries if t.first_live_s is not None]
    if lives:
        worst = max(lives)
        print(f"first live line after attach: median {percentile(lives, 50):.3f} s, max {worst:.3f} s "
              f"({'target met' if worst <= ATTACH_TARGET_S and len(lives) == len(tries) else 'target NOT met'}"
              f": <= {ATTACH_TARGET_S:g} s)")
    print("Ray's own tail has no last-N start: it replays from byte 0 "
          "(see log_throughput.py --case catch-up for its rate on 1,000,000 lines)")


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0], CASES)
    with local_head(args.address) as head:
        warm_ray()  # after the head set RAY_AUTH_MODE: Ray reads it once
        for case in args.cases:
            t0 = time.time()
            await {"live": case_live, "latency-sizes": case_sizes, "attach": case_attach}[case](head)
            print(f"({case}: {time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
