"""The processes of a Ray node this process started: find them (``/proc``, Linux) and stop them
all, its workers and drivers included, without touching any other Ray on the machine."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["proc_table", "processes_naming", "terminate"]


def proc_table() -> dict[int, tuple[int, str, list[str]]]:
    """pid -> (parent pid, start time, argv) of every live, non-zombie process."""
    table = {}
    with contextlib.suppress(OSError):
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()  # state, ppid, ...
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if fields[0] not in ("Z", "X"):
                table[pid] = (int(fields[1]), fields[19], argv)  # fields[19]: start time
    return table


def processes_naming(paths: list[str], table: dict[int, tuple[int, str, list[str]]]) -> set[int]:
    """Pids whose command line names one of ``paths`` or a path inside it."""
    def names(arg: str) -> bool:
        return any(arg == p or arg.endswith("=" + p) or p + "/" in arg for p in paths)

    return {pid for pid, (_, _, argv) in table.items() if any(map(names, argv))}


def terminate(proc: subprocess.Popen, temp_dir: str | None, timeout: float) -> None:
    """SIGTERM `ray start --block`; SIGKILL whatever of its processes outlives ``timeout``.

    Its processes are its descendants and, with a head's ``temp_dir``, the users of the
    session folder Ray named after ``proc``'s pid."""
    victims: dict[int, str] = {}
    track = functools.partial(_track, victims, proc, temp_dir)
    track()  # before the signal, while the process tree is intact
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # Ray's handler stops gcs, raylet, dashboard, workers
    if _wait_gone(proc, victims, track, timeout):
        return
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(proc, victims, track, 5)


def _track(victims: dict[int, str], proc: subprocess.Popen, temp_dir: str | None) -> None:
    """Update ``victims`` (pid -> start time): drop exited ones, add ``proc``, its descendants
    (workers and job drivers leave its process group) and users of its session dir."""
    table = proc_table()
    for pid in [p for p, start in victims.items() if table.get(p, (0, None))[1] != start]:
        del victims[pid]
    if proc.poll() is None and proc.pid in table:  # an unreaped child: its pid cannot be reused
        victims[proc.pid] = table[proc.pid][1]
    # Ray names the session dir after the `ray start` pid; the temp dir may be shared.
    sessions = [str(p) for p in Path(temp_dir).glob(f"session_*_{proc.pid}")] if temp_dir else []
    victims.update((p, table[p][1]) for p in processes_naming(sessions, table))
    while new := {p: t for p, (ppid, t, _) in table.items() if ppid in victims and p not in victims}:
        victims.update(new)


def _wait_gone(proc: subprocess.Popen, victims: dict[int, str], track: Any, timeout: float) -> bool:
    """Wait until ``proc`` and ``victims`` (kept up to date by ``track()``) have exited."""
    deadline = time.monotonic() + timeout
    while True:
        track()
        if proc.poll() is not None and not victims:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
