"""Shared helpers for the benchmarks: a dashboard to run against and small statistics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any


def parse_args(description: str, cases: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--address",
        default=os.environ.get("RAYNB_BENCH_DASHBOARD"),
        help="dashboard URL of a running head (default: start a local head for the run)",
    )
    if cases:
        parser.add_argument(
            "--case", action="append", choices=cases, dest="cases",
            help=f"run only this case (repeatable; default: all of {', '.join(cases)})",
        )  # fmt: skip
    args = parser.parse_args()
    if cases and not args.cases:
        args.cases = list(cases)
    return args


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


# --- Big-log cases (issue 12): a local head we can see into, jobs with a backlog, load. ---

FILLER_LINE_BYTES = 100  # "F 000000001 xxx…\n": a typical log line's length


@dataclass
class Head:
    url: str
    temp_dir: str | None  # None when the head is not ours (--address)


@contextlib.contextmanager
def local_head(address: str | None) -> Iterator[Head]:
    """Like :func:`dashboard`, with the head's temp dir; the dir (GBs of logs) is gone after."""
    if address:
        yield Head(address, None)
        return
    from raynb import cluster

    tmp = tempfile.mkdtemp(prefix="raynb-bh-", dir="/tmp")  # ours to delete, even if the start fails
    try:
        for attempt in range(1, 4):
            try:
                head = cluster.start_local_head(num_cpus=2, temp_dir=tmp)
                break
            except RuntimeError as exc:  # Ray's own start timeout, on a busy 2-core machine
                if attempt == 3:
                    raise
                print(f"the local head did not start ({exc}); trying again in 10 s", file=sys.stderr)
                shutil.rmtree(tmp, ignore_errors=True)
                time.sleep(10)
        if head.token_file:
            os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=head.token_file)
        try:
            yield Head(head.dashboard_url, head.temp_dir)
        finally:
            cluster.stop_local_head(head)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(tmp):
            print(f"WARNING: could not delete the head's temp dir {tmp}", file=sys.stderr)


def backlog_job(
    ready: str, *, filler_bytes: int = 0, numbered: int = 0, live_interval: float | None = 0.05,
    max_seconds: float = 1800,
) -> str:
    """A job that writes ``filler_bytes`` of 100-byte filler lines (``F <i> xxx…``), then
    ``numbered`` lines ``N <i>`` (i from 0), both as fast as it can, then ``READY <time>``,
    touches the file ``ready``, then prints ``T <time> <i>`` every ``live_interval`` seconds
    (or nothing, with None) until stopped (or ``max_seconds``)."""
    code = f"""
import os, sys, time
w = sys.stdout.write
pad = 'x' * {FILLER_LINE_BYTES - 13}
total, n = {-(-filler_bytes // FILLER_LINE_BYTES)}, 0
while n < total:
    k = min(10_000, total - n)
    w(''.join([f'F {{i:010d}} {{pad}}\\n' for i in range(n, n + k)]))
    n += k
for start in range(0, {numbered}, 10_000):
    w(''.join([f'N {{i}}\\n' for i in range(start, min(start + 10_000, {numbered}))]))
w(f'READY {{time.time():.6f}}\\n')
sys.stdout.flush()
open({ready!r}, 'w').close()
end, i, parent = time.time() + {max_seconds}, 0, os.getppid()
while time.time() < end and os.getppid() == parent:  # ends with its head, however that ends
    if {live_interval!r} is None:
        time.sleep(1)
        continue
    print(f'T {{time.time():.6f}} {{i}}', flush=True)
    i += 1
    time.sleep({live_interval!r})
"""
    return py_entrypoint(code)


async def wait_ready(path: str, timeout: float = 600) -> None:
    """Wait until a :func:`backlog_job` has written its backlog (the bench runs on the head's machine)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the job did not write its backlog in {timeout:g}s ({path} missing)")
        await asyncio.sleep(0.1)


async def end_job(client: Any, head: Head, job_id: str) -> None:
    """Stop a job and, on our own head, delete its driver log (hundreds of MB)."""
    try:
        await client.stop_job(job_id)
        for _ in range(100):
            if (await client.get_job(job_id)).status.is_terminal():
                break
            await asyncio.sleep(0.1)
    except Exception as exc:  # noqa: BLE001 -- say it; the error that ended the case (if any) shows
        print(f"could not stop job {job_id}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
    if head.temp_dir:
        for log in glob.glob(os.path.join(head.temp_dir, "session_*", "logs", f"job-driver-{job_id}.log")):
            with contextlib.suppress(OSError):
                os.unlink(log)


def has_last() -> bool:
    """Whether this raynb's tail can start at the last N lines (``last=``)."""
    from raynb.client import AsyncRayClient

    return "last" in inspect.signature(AsyncRayClient.tail_job_logs).parameters


async def raynb_lines(client: Any, job_id: str, **kwargs: Any) -> AsyncIterator[tuple[float, str]]:
    """(arrival time, line) from raynb's tail; closes the tail when the caller stops."""
    tail = client.tail_job_logs(job_id, **kwargs)
    try:
        async for line in tail:
            yield time.time(), line
    finally:
        close = getattr(tail, "aclose", None)
        if close is not None:
            await close()


async def ray_lines(url: str, job_id: str) -> AsyncIterator[tuple[float, str]]:
    """(arrival time, line) from Ray's own JobSubmissionClient.tail_job_logs (chunks split
    into lines). Call :func:`warm_ray` first: the first import of Ray takes seconds."""
    from ray.job_submission import JobSubmissionClient

    chunks = JobSubmissionClient(url).tail_job_logs(job_id)
    partial = ""
    try:
        async for chunk in chunks:
            now = time.time()
            *lines, partial = (partial + chunk).split("\n")
            for line in lines:
                yield now, line
    finally:
        await chunks.aclose()


def warm_ray() -> None:
    """Import Ray's job SDK (seconds, the first time) before any follower is timed."""
    import ray.job_submission  # noqa: F401


def printed_at(line: str) -> float | None:
    """The print time of a ``T <time> <i>`` line."""
    parts = line.split()
    return float(parts[1]) if len(parts) == 3 and parts[0] == "T" else None


@dataclass
class Load:
    seconds: float
    cpu_s: float  # user + system CPU seconds of the dashboard (and its module processes) and agent
    wchar: int  # /proc/<pid>/io wchar: write()s (files, pipes); not send() on sockets
    tcp_sent: int  # bytes_sent of their TCP sockets (what they serve to clients and each other)

    def minus(self, base: Load) -> Load:
        scale = self.seconds / base.seconds
        return Load(self.seconds, self.cpu_s - base.cpu_s * scale, self.wchar - int(base.wchar * scale),
                    self.tcp_sent - int(base.tcp_sent * scale))  # fmt: skip


class HeadLoad:
    """CPU and bytes of a local head's dashboard (its process and the module processes it
    forks) and its dashboard agent(s), over windows of time.

    Bytes come two ways: ``wchar`` of /proc/<pid>/io, which counts write() calls only (asyncio
    and gRPC send on sockets with send()/sendmsg(), which it does not count: it is mostly the
    dashboard's own log files), and ``tcp_sent``, the kernel's bytes_sent of their TCP
    sockets (``ss -tip``, sampled every 0.5 s: a socket that closes between samples loses at
    most its last 0.5 s), which is what they serve.
    """

    def __init__(self, url: str) -> None:
        import psutil

        self._psutil = psutil
        port = url.rstrip("/").rsplit(":", 1)[-1]
        self.dashboard = self.session = None
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info["cmdline"] or []
            if any("dashboard/dashboard.py" in a for a in cmd) and f"--port={port}" in cmd:
                self.dashboard = proc
                self.session = next((a.split("=", 1)[1] for a in cmd if a.startswith("--session-dir=")), None)
        if self.dashboard is None or not self.session:
            raise RuntimeError(f"no dashboard process on this machine serves port {port}")
        self.raylets = [
            p for p in psutil.process_iter(["cmdline"])
            if any(a.startswith("--raylet_socket_name=") and a.startswith(f"--raylet_socket_name={self.session}/")
                   for a in p.info["cmdline"] or [])
        ]  # fmt: skip

    def pids(self) -> dict[int, str]:
        """pid -> role, now (module processes may come and go)."""
        out: dict[int, str] = {}
        ps = self._psutil
        with contextlib.suppress(ps.Error):
            out[self.dashboard.pid] = "dashboard"
            for child in self.dashboard.children(recursive=True):
                out[child.pid] = "dashboard"
        for raylet in self.raylets:
            with contextlib.suppress(ps.Error):
                for child in raylet.children():
                    cmd = " ".join(child.cmdline())
                    if "dashboard/agent.py" in cmd or cmd.startswith("ray::DashboardAgent"):
                        out[child.pid] = "agent"
        return out

    def _counters(self, pids: dict[int, str]) -> dict[int, tuple[float, int]]:
        out = {}
        for pid in pids:
            with contextlib.suppress(self._psutil.Error):
                proc = self._psutil.Process(pid)
                cpu = proc.cpu_times()
                out[pid] = (cpu.user + cpu.system, proc.io_counters().write_chars)
        return out

    async def window(self, seconds: float) -> Load:
        pids = self.pids()
        before = self._counters(pids)
        sampler = _TcpSent(set(pids))
        sampler.start()
        start = time.monotonic()
        try:
            await asyncio.sleep(seconds)
        finally:
            sent = await asyncio.to_thread(sampler.stop)
        elapsed = time.monotonic() - start
        after = self._counters(self.pids())
        cpu = sum(c - before.get(pid, (0.0, 0))[0] for pid, (c, _) in after.items())
        wchar = sum(w - before.get(pid, (0.0, 0))[1] for pid, (_, w) in after.items())
        return Load(elapsed, cpu, wchar, sent)


class _TcpSent(threading.Thread):
    """Sum of bytes_sent over the TCP sockets of ``pids`` while it runs."""

    _SOCKET = re.compile(r"ino:(\d+)")
    _PID = re.compile(r"pid=(\d+)")
    _SENT = re.compile(r"bytes_sent:(\d+)")

    def __init__(self, pids: set[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self._stop_event = threading.Event()
        self._first: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._initial: set[str] | None = None

    def _sample(self) -> None:
        out = subprocess.run(["ss", "-tinpeHa"], capture_output=True, text=True, check=True).stdout
        seen: dict[str, int] = {}
        key: str | None = None
        for line in out.splitlines():
            if not line[:1].isspace():  # a socket: addresses, users:((...pid=...)), ino:...
                ino = self._SOCKET.search(line)
                mine = any(int(p) in self.pids for p in self._PID.findall(line))
                key = ino.group(1) if ino and mine else None
            elif key is not None:
                sent = self._SENT.search(line)
                seen[key] = int(sent.group(1)) if sent else 0
                key = None
        if self._initial is None:
            self._initial = set(seen)
        for key, sent in seen.items():
            self._first.setdefault(key, sent if key in self._initial else 0)
            self._last[key] = sent

    def run(self) -> None:
        while True:
            self._sample()
            if self._stop_event.wait(0.5):
                self._sample()
                return

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return sum(self._last[k] - self._first[k] for k in self._last)


def kb_s(nbytes: float, seconds: float) -> float:
    return nbytes / 1024 / seconds
