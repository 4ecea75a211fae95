"""Log throughput and the head's load from followers: raynb vs Ray's own tail, in one run.

Cases (all by default; pick with --case, repeatable):
- throughput: a job prints 200,000 lines as fast as it can; every line must arrive once.
  lines/s and the time from the job's end to the end of the stream, for raynb (auto,
  websocket) and Ray's own JobSubmissionClient.tail_job_logs.
- catch-up: a job printed 1,000,000 lines and waits; a follower from byte 0 reads them all
  (exactly once, in order): lines/s of raynb auto vs Ray's own tail (capped at RAY_CAP_S),
  three rounds of each in turn, the ratio of the medians.
- idle-bytes: a job wrote 500 MB of 100-byte lines and sleeps; what the head's dashboard
  (with its module processes) and dashboard agent send per second while one raynb follower
  tails it (after catching up; and attached with last=1000 when this raynb has last=), and
  while one Ray tail does (after catching up), minus the same with no follower (measured
  before and after). Target for raynb: <= 10 KB/s.
- followers: a job wrote 5 MB and prints a line every 50 ms; the dashboard's and agent's CPU
  seconds and bytes over 10 s while 1 and while 10 followers tail it from one process (one
  AsyncRayClient, one event loop), and the same for Ray's own tail. Target: 10 raynb
  followers cost <= 1.2x of one.
Bytes: ``tcp sent`` is the kernel's bytes_sent of those processes' TCP sockets (what they
serve, to clients and to each other); ``wchar`` (/proc/<pid>/io) counts only write() calls,
not the send() of asyncio and gRPC sockets, so it is mostly their own log files.
Run: python bench/log_throughput.py [--address http://127.0.0.1:8265] [--case idle-bytes]
(catch-up, idle-bytes and followers need the head on this machine)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time

from _common import (
    Head,
    HeadLoad,
    Load,
    backlog_job,
    end_job,
    has_last,
    kb_s,
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

CASES = ["throughput", "catch-up", "idle-bytes", "followers"]
MB = 1_000_000
RAY = "Ray JobSubmissionClient.tail_job_logs"

LINES = 200_000
JOB = f"""
import sys
w = sys.stdout.write
for i in range({LINES}):
    w(f'N {{i}}\\n')
sys.stdout.flush()
"""
LIMITS = StreamLimits(max_messages=10_000_000, max_lines=10_000_000, max_bytes=1 << 30)
UNLIMITED = StreamLimits.UNLIMITED

CATCH_UP_LINES = 1_000_000
CATCH_UP_ROUNDS = 3
RAYNB_CAP_S = 300.0
RAY_CAP_S = 240.0

IDLE_BYTES = 500 * MB
WINDOW_S = 10.0
SETTLE_S = 2.0
IDLE_TARGET_KB_S = 10.0

FOLLOWERS = 10
FOLLOWERS_FILLER = 5 * MB
FOLLOWERS_TARGET = 1.2


# --- throughput ---------------------------------------------------------------------------


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


async def case_throughput(head: Head) -> None:
    url = head.url
    async with AsyncRayClient(url, stream_limits=LIMITS) as client:
        methods = {
            "raynb auto": lambda jid: follow_raynb(client, jid, "auto"),
            "raynb websocket": lambda jid: follow_raynb(client, jid, "websocket"),
            RAY: lambda jid: follow_ray(url, jid),
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
    print(f"\n[throughput] {LINES} lines printed as fast as possible")
    print(f"{'method':40} {'lines/s':>10} {'end->done s':>12} {'total s':>8}  delivery")
    for name, rate, tail, verdict, total in rows:
        print(f"{name:40} {rate:10.0f} {tail:12.2f} {total:8.2f}  {verdict}")
    ray_row, auto_row = rows[-1], rows[0]
    print(f"raynb auto: {auto_row[1] / ray_row[1]:.1f}x the lines/s of Ray's own tail; "
          f"stream ends {ray_row[2] / max(auto_row[2], 1e-3):.1f}x sooner after the job")


# --- catch-up -----------------------------------------------------------------------------


async def catch_up(lines, cap: float) -> tuple[int, float, str, bool]:
    """Read N lines until READY: (lines delivered, seconds, verdict, capped)."""
    expect, wrong, start, capped = 0, 0, time.time(), False
    try:
        async with asyncio.timeout(cap), contextlib.aclosing(lines) as it:
            async for _, line in it:
                if line.startswith("N "):
                    if int(line[2:]) != expect:
                        wrong += 1
                    expect += 1
                elif line.startswith("READY "):
                    break
    except TimeoutError:
        capped = True
    seconds = time.time() - start
    if capped:
        verdict = f"capped at {cap:g} s, {expect:,} lines delivered" + (f", {wrong} out of order" if wrong else "")
    elif expect == CATCH_UP_LINES and not wrong:
        verdict = "exactly once, in order"
    else:
        verdict = f"WRONG: {expect:,} lines, {wrong} out of place"
    return expect, seconds, verdict, capped


async def case_catch_up(head: Head) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="raynb-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as client:
            job = await client.submit_job(backlog_job(ready, numbered=CATCH_UP_LINES, live_interval=None))
            jid = job.submission_id
            try:
                await wait_ready(ready)
                for _ in range(CATCH_UP_ROUNDS):  # alternating: load from elsewhere hits both sides
                    rows.append(("raynb auto", *await catch_up(raynb_lines(client, jid), RAYNB_CAP_S)))
                    rows.append((RAY, *await catch_up(ray_lines(head.url, jid), RAY_CAP_S)))
            finally:
                await end_job(client, head, jid)
    print(f"\n[catch-up] a follower from byte 0 of a job that printed {CATCH_UP_LINES:,} lines and waits; "
          f"{CATCH_UP_ROUNDS} rounds, raynb and Ray in turn")
    print(f"{'method':40} {'lines/s':>10} {'seconds':>8}  delivery")
    for name, n, seconds, verdict, _ in rows:
        print(f"{name:40} {n / seconds:10.0f} {seconds:8.2f}  {verdict}")
    rate = {name: percentile([n / s for who, n, s, _, _ in rows if who == name], 50) for name in ("raynb auto", RAY)}
    capped = any(c for who, *_, c in rows if who == RAY)
    print(f"raynb auto: {rate['raynb auto'] / rate[RAY]:.2f}x the lines/s of Ray's own tail (medians: "
          f"{rate['raynb auto']:.0f} vs {rate[RAY]:.0f})" + (" (some of Ray's runs capped)" if capped else ""))


# --- load of followers --------------------------------------------------------------------


class Followers:
    """``n`` followers (async iterators of (arrival, line)) in tasks of this event loop; each
    is caught up once it delivered the READY line (or, with ``on_first``, any line)."""

    def __init__(self, sources: list, *, on_first: bool = False) -> None:
        self.on_first = on_first
        self.caught_up = 0
        self.all_caught_up = asyncio.Event()
        self.recording = False
        self.lats: list[float] = []
        self.errors: list[str] = []
        self.n = len(sources)
        self.started = time.time()
        self.caught_up_s: float | None = None  # start -> all caught up
        self.tasks = [asyncio.create_task(self._run(s)) for s in sources]

    async def _run(self, lines) -> None:
        caught = False
        try:
            async with contextlib.aclosing(lines) as it:
                async for now, line in it:
                    if not caught:
                        if self.on_first or line.startswith("READY "):
                            caught = True
                            self.caught_up += 1
                            if self.caught_up == self.n:
                                self.caught_up_s = now - self.started
                                self.all_caught_up.set()
                        continue
                    ts = printed_at(line)
                    if ts is not None and self.recording:
                        self.lats.append(now - ts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 -- the bench reports it and goes on
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    async def wait(self, cap: float) -> bool:
        try:
            async with asyncio.timeout(cap):
                await self.all_caught_up.wait()
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def loaded_window(load: HeadLoad, followers: Followers, cap: float) -> tuple[Load | None, str]:
    """Wait for the followers to catch up, then measure a window; close them."""
    try:
        if not await followers.wait(cap):
            return None, f"not caught up in {cap:g} s ({followers.caught_up}/{followers.n})"
        await asyncio.sleep(SETTLE_S)
        followers.recording = True
        window = await load.window(WINDOW_S)
        followers.recording = False
        return window, "; ".join(followers.errors)
    finally:
        await followers.close()
        await asyncio.sleep(SETTLE_S)


def caught(followers: Followers, note: str) -> str:
    if followers.caught_up_s is None:
        return note
    return f"(caught up in {followers.caught_up_s:.1f} s) {note}".rstrip()


def fmt_load(name: str, raw: Load, base: Load | None, extra: str = "") -> str:
    net = raw.minus(base) if base else raw
    return (f"{name:34} {kb_s(raw.tcp_sent, raw.seconds):10.1f} {kb_s(net.tcp_sent, raw.seconds):10.1f} "
            f"{kb_s(raw.wchar, raw.seconds):9.1f} {kb_s(net.wchar, raw.seconds):9.1f} "
            f"{raw.cpu_s / raw.seconds:8.3f} {net.cpu_s / raw.seconds:8.3f}  {extra}")


LOAD_HEADER = (f"{'':34} {'tcp sent KB/s':>21} {'wchar KB/s':>19} {'CPU s/s':>17}\n"
               f"{'':34} {'raw':>10} {'net':>10} {'raw':>9} {'net':>9} {'raw':>8} {'net':>8}")


def joined(a: Load, b: Load) -> Load:
    return Load(a.seconds + b.seconds, a.cpu_s + b.cpu_s, a.wchar + b.wchar, a.tcp_sent + b.tcp_sent)


async def case_idle_bytes(head: Head) -> None:
    print(f"\n[idle-bytes] one follower of a job that wrote {IDLE_BYTES / MB:g} MB and sleeps; "
          f"the head's dashboard + agent over {WINDOW_S:g} s windows")
    try:
        load = HeadLoad(head.url)
    except Exception as exc:  # noqa: BLE001 -- the bench reports it and goes on
        print(f"skipped: {exc}")
        return
    rows: list[tuple[str, Load | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="raynb-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as client:
            job = await client.submit_job(backlog_job(ready, filler_bytes=IDLE_BYTES, live_interval=None))
            jid = job.submission_id
            try:
                await wait_ready(ready)
                await asyncio.sleep(SETTLE_S)
                before = await load.window(WINDOW_S)
                async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as own:
                    followers = Followers([raynb_lines(own, jid)])
                    window, note = await loaded_window(load, followers, RAYNB_CAP_S)
                rows.append(("raynb auto, from byte 0", window,
                             f"caught up in {followers.caught_up_s:.1f} s; {note}" if window else note))
                if has_last():
                    async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as own:
                        followers = Followers([raynb_lines(own, jid, last=1000)], on_first=True)
                        window, note = await loaded_window(load, followers, 60)
                    rows.append(("raynb auto, last=1000", window, note))
                followers = Followers([ray_lines(head.url, jid)])
                window, note = await loaded_window(load, followers, RAY_CAP_S)
                rows.append(("Ray tail_job_logs, from byte 0", window,
                             f"caught up in {followers.caught_up_s:.1f} s; {note}" if window else note))
                after = await load.window(WINDOW_S)
            finally:
                await end_job(client, head, jid)
    base = joined(before, after)
    print(LOAD_HEADER)
    print(fmt_load("no follower (before)", before, None))
    print(fmt_load("no follower (after)", after, None))
    for name, window, note in rows:
        if window is None:
            print(f"{name:34} -  {note}")
            continue
        net = kb_s(window.minus(base).tcp_sent, window.seconds)
        verdict = "" if not name.startswith("raynb") else (
            ("target met" if net <= IDLE_TARGET_KB_S else "target NOT met")
            + f" (net tcp sent <= {IDLE_TARGET_KB_S:g} KB/s); ")
        print(fmt_load(name, window, base, f"{verdict}{note}".rstrip("; ")))
    if not has_last():
        print("this raynb's tail_job_logs has no last=: the last=1000 row is left out")


async def case_followers(head: Head) -> None:
    print(f"\n[followers] 1 vs {FOLLOWERS} followers in one process of a job that wrote "
          f"{FOLLOWERS_FILLER / MB:g} MB and prints a line every 50 ms; {WINDOW_S:g} s windows")
    try:
        load = HeadLoad(head.url)
    except Exception as exc:  # noqa: BLE001 -- the bench reports it and goes on
        print(f"skipped: {exc}")
        return
    results: dict[str, tuple[Load | None, str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="raynb-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        async with AsyncRayClient(head.url) as client:
            job = await client.submit_job(backlog_job(ready, filler_bytes=FOLLOWERS_FILLER, live_interval=0.05))
            jid = job.submission_id
            try:
                await wait_ready(ready)
                await asyncio.sleep(SETTLE_S)
                base = await load.window(WINDOW_S)
                for n in (1, FOLLOWERS):
                    async with AsyncRayClient(head.url, stream_limits=UNLIMITED) as own:
                        followers = Followers([raynb_lines(own, jid) for _ in range(n)])
                        window, note = await loaded_window(load, followers, RAYNB_CAP_S)
                    results[f"raynb auto x{n}"] = (window, caught(followers, note), followers.lats)
                for n in (1, FOLLOWERS):
                    followers = Followers([ray_lines(head.url, jid) for _ in range(n)])
                    window, note = await loaded_window(load, followers, RAY_CAP_S)
                    results[f"Ray tail_job_logs x{n}"] = (window, caught(followers, note), followers.lats)
            finally:
                await end_job(client, head, jid)
    print(LOAD_HEADER + "  p50 ms of live lines")
    print(fmt_load("no follower", base, None))
    for name, (window, note, lats) in results.items():
        if window is None:
            print(f"{name:34} -  {note}")
            continue
        p50 = f"{percentile([x * 1000 for x in lats], 50):.1f}" if lats else "-"
        print(fmt_load(name, window, base, f"{p50} {note}".rstrip()))
    for who in ("raynb auto", "Ray tail_job_logs"):
        one, many = results.get(f"{who} x1", (None,))[0], results.get(f"{who} x{FOLLOWERS}", (None,))[0]
        if one is None or many is None:
            continue
        parts = []
        for label, get in (("CPU", lambda x: x.cpu_s), ("tcp sent", lambda x: x.tcp_sent),
                           ("wchar", lambda x: x.wchar)):
            raw = f"{get(many) / get(one):.2f}x" if get(one) else "n/a"
            n1, n10 = get(one.minus(base)), get(many.minus(base))
            net = f"{n10 / n1:.2f}x" if n1 > 0 else "n/a (one follower's is within the baseline)"
            parts.append(f"{label} {raw} raw, {net} net")
        line = f"{who}: {FOLLOWERS} followers cost " + "; ".join(parts) + " of one"
        if who == "raynb auto":
            worst = max(get(many) / get(one) for get in (lambda x: x.cpu_s, lambda x: x.tcp_sent) if get(one))
            line += f" (raw CPU and tcp sent {'<=' if worst <= FOLLOWERS_TARGET else '>'} {FOLLOWERS_TARGET}x target)"
        print(line)
    print("net = minus the no-follower window; raw = all the dashboard and agent did in the window")


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0], CASES)
    runs = {"throughput": case_throughput, "catch-up": case_catch_up,
            "idle-bytes": case_idle_bytes, "followers": case_followers}
    with local_head(args.address) as head:
        warm_ray()  # after the head set RAY_AUTH_MODE: Ray reads it once
        for case in args.cases:
            t0 = time.time()
            await runs[case](head)
            print(f"({case}: {time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
