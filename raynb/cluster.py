"""Find a running local Ray head or start a private one, and stop only heads started here.

Ray is driven through its CLI in a subprocess, so importing this module never imports Ray.
Finding a head's processes reads ``/proc`` (Linux); elsewhere stopping relies on the process group.

A head started here runs with Ray's token auth (Ray >= 2.52): one random token, kept in
raynb's state folder with mode 0600 (:mod:`raynb.state`), which raynb's client, the side
panel and the executors use for that head's addresses only. Without token auth anyone on
the machine could submit jobs to it, that is run code as the notebook's user.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from . import procs, state
from .state import state_dir

AUTH_MIN_RAY = (2, 52)

# Every port `ray start --head` opens, each given a free port so heads never clash.
_PORT_FLAGS = (
    "port", "dashboard-port", "ray-client-server-port", "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port", "metrics-export-port", "node-manager-port",
    "object-manager-port", "runtime-env-agent-port",
)  # fmt: skip
_HEAD_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_enable_metrics_collection": "0",
    # Otherwise SIGTERM drains the node for up to 30 s while any task holds a worker.
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    # Ray gives its dashboard 60 s to start; a busy 2-core laptop can need more.
    "RAY_DASHBOARD_STARTUP_TIMEOUT_S": "180",
    # Ray Client's proxy forks a server per client; with gRPC's fork support on, the child
    # sometimes dies at once ("Check failed: next_worker->initialized_cv").
    "GRPC_ENABLE_FORK_SUPPORT": "0",
}


@dataclass(frozen=True)
class LocalHead:
    """Addresses of a local Ray head, and whether this process started (and owns) it."""

    dashboard_url: str  # "http://127.0.0.1:<port>"
    gcs_address: str  # "127.0.0.1:<port>"
    client_address: str  # "ray://127.0.0.1:<port>"
    pid: int | None  # the `ray start --block` process we started; None if reused
    temp_dir: str | None
    started_here: bool
    token_file: str | None = None  # the token that opens it (None: Ray too old for token auth)


# Heads started by this process, oldest first: dashboard_url -> (head, process, dir to delete).
_owned: dict[str, tuple[LocalHead, subprocess.Popen, str | None]] = {}


def start_local_head(
    *,
    num_cpus: int | None = None,
    object_store_memory: int = 256 * 1024**2,
    dashboard_port: int | None = None,
    temp_dir: str | None = None,
    timeout: float = 240.0,
    env: dict[str, str] | None = None,
) -> LocalHead:
    """Start a private Ray head on free ports; return once it accepts jobs and reports resources.

    It runs with token auth and raynb's token (see the module docstring) unless ``env``
    sets ``RAY_AUTH_MODE`` itself; ``env`` adds environment variables for the head. Jobs
    find this Python first on their PATH, so ``python`` in an entrypoint has Ray.
    """
    ray = _ray_executable()
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS))))
    if dashboard_port is not None:
        with socket.socket() as s:  # else we might probe someone else's dashboard
            try:
                s.bind(("127.0.0.1", dashboard_port))
            except OSError:
                raise RuntimeError(f"dashboard port {dashboard_port} is already in use") from None
        ports["dashboard-port"] = dashboard_port
    tmp = temp_dir or tempfile.mkdtemp(prefix="raynb-", dir="/tmp")  # Ray needs short socket paths
    Path(tmp).mkdir(parents=True, exist_ok=True)
    # On Linux Ray advertises the host's IP even for --node-ip-address=127.0.0.1; GCS, raylet
    # and the client server still listen on loopback, so the 127.0.0.1 addresses below work.
    cmd = [
        ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1", "--include-dashboard=true", "--disable-usage-stats",
        f"--temp-dir={tmp}", f"--object-store-memory={object_store_memory}",
        # 0/0: workers bind random ports, not the default range 10002-19999 other heads use.
        "--min-worker-port=0", "--max-worker-port=0",
        *(f"--{flag}={port}" for flag, port in ports.items()),
        *([f"--num-cpus={num_cpus}"] if num_cpus is not None else []),
    ]  # fmt: skip
    log_path = Path(tmp) / "raynb-head.log"
    auth = _auth_env() if "RAY_AUTH_MODE" not in (env or {}) else {}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_head_env({**auth, **(env or {})}), start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{ports['dashboard-port']}"
    agent = f"http://127.0.0.1:{ports['dashboard-agent-listen-port']}/api/healthz"
    token = (env or {}).get("RAY_AUTH_TOKEN") or (state.token_file().read_text().strip() if auth else None)
    deadline = time.monotonic() + timeout
    try:
        # POST /api/jobs/ needs the job agent (up ~2 s after the dashboard), and the
        # cluster status lists the node's resources ~1 s later still.
        while not (_dashboard_ready(url, token, resources=True) and _agent_up(agent)):
            if proc.poll() is not None:
                raise RuntimeError(f"local Ray head exited ({proc.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"local Ray head not ready in {timeout:g}s; see {log_path}")
            time.sleep(0.25)
    except BaseException:  # including KeyboardInterrupt: never leave a head nobody owns
        procs.terminate(proc, tmp, timeout=5)
        raise
    head = LocalHead(
        url, f"127.0.0.1:{ports['port']}", f"ray://127.0.0.1:{ports['ray-client-server-port']}",
        pid=proc.pid, temp_dir=tmp, started_here=True, token_file=auth.get("RAY_AUTH_TOKEN_PATH"),
    )  # fmt: skip
    _owned[url] = (head, proc, None if temp_dir else tmp)
    if auth:
        state.register_head(proc.pid, [head.dashboard_url, head.gcs_address, head.client_address])
    _write_state(head)
    return head


def stop_local_head(head: LocalHead | None = None, timeout: float = 30.0) -> bool:
    """Stop ``head`` (default: the latest head started here) with all its processes.

    Returns False if ``head`` was not started by this process or is already stopped.
    Never runs ``ray stop``, which would kill every Ray on the machine.
    """
    if head is None and _owned:
        head = list(_owned.values())[-1][0]
    owned = _owned.get(head.dashboard_url) if head else None
    if owned is None or owned[0] != head:
        return False
    _, proc, delete_dir = _owned.pop(head.dashboard_url)
    procs.terminate(proc, head.temp_dir, timeout)
    state.forget_head(proc.pid)
    path = _state_file()
    if _read_json(path).get("pid") == head.pid:
        path.unlink(missing_ok=True)
    if delete_dir:
        shutil.rmtree(delete_dir, ignore_errors=True)
    return True


@dataclass(frozen=True)
class LocalWorker:
    """A worker node started on this machine and joined to a local head (its own ports), e.g.
    to try placement and multi-node logs on a laptop."""

    gcs_address: str  # the head it joined
    pid: int  # the `ray start --block` process
    log_path: str  # what `ray start` printed
    resources: dict[str, float]
    work_dir: str = ""  # where its processes start (an empty folder of its own)


_workers: dict[int, tuple[LocalWorker, subprocess.Popen]] = {}

_WORKER_PORT_FLAGS = (
    "node-manager-port", "object-manager-port", "metrics-export-port", "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port", "runtime-env-agent-port",
)  # fmt: skip


def start_local_worker(
    head: LocalHead | str,
    *,
    num_cpus: int = 1,
    num_gpus: int | None = None,
    resources: dict[str, float] | None = None,
    object_store_memory: int = 100 * 1024**2,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    python: str | None = None,
) -> LocalWorker:
    """Start a worker node on 127.0.0.1 joined to ``head`` (a LocalHead or a GCS address).

    It gets free ports, ``num_cpus`` CPUs and the custom ``resources`` (e.g.
    ``{"worker_node": 1}``) to place work on it; ``num_gpus`` declares GPUs (Ray only counts
    them). ``python``: the interpreter that runs the node and its workers (default: Ray's own
    launcher), e.g. one without raynb, to try what a cluster that lacks it does. It writes its
    logs into the head's session folder, as every node of a real cluster writes into the same path on its own machine
    (Ray's Jobs API reads a driver's log at that path on the driver's node). A head raynb
    started gets the worker joined with its token. Returns once the raylet runs;
    :func:`stop_local_worker` stops it.
    """
    gcs = head.gcs_address if isinstance(head, LocalHead) else head
    env = {**(_auth_env() if state.is_local_head(gcs) else {}), **(env or {})}
    ports = dict(zip(_WORKER_PORT_FLAGS, _free_ports(len(_WORKER_PORT_FLAGS))))
    work_dir = tempfile.mkdtemp(prefix="raynb-w-", dir="/tmp")
    log_path = Path(work_dir) / "raynb-worker.log"
    launcher = [python, "-m", "ray.scripts.scripts"] if python else [_ray_executable()]
    cmd = [
        *launcher, "start", "--block", f"--address={gcs}", "--node-ip-address=127.0.0.1",
        f"--num-cpus={num_cpus}", f"--object-store-memory={object_store_memory}",
        *([f"--num-gpus={num_gpus}"] if num_gpus is not None else []),
        "--min-worker-port=0", "--max-worker-port=0", "--disable-usage-stats",
        *(f"--{flag}={port}" for flag, port in ports.items()),
        *([f"--resources={json.dumps(resources)}"] if resources else []),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        # Its workers start in its folder, which would be on their path: not the caller's folder.
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_head_env(env), start_new_session=True, cwd=work_dir,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while b"Ray runtime started" not in log_path.read_bytes():
            if proc.poll() is not None:
                raise RuntimeError(f"local Ray worker exited ({proc.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"local Ray worker not up in {timeout:g}s; see {log_path}")
            time.sleep(0.25)
    except BaseException:
        procs.terminate(proc, None, timeout=5)  # its processes are its descendants
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    worker = LocalWorker(gcs, proc.pid, str(log_path), dict(resources or {}), work_dir)
    _workers[proc.pid] = (worker, proc)
    return worker


def stop_local_worker(worker: LocalWorker, timeout: float = 30.0) -> bool:
    """Stop a worker node started here (its raylet, workers and drivers); False if not ours."""
    owned = _workers.pop(worker.pid, None)
    if owned is None:
        return False
    procs.terminate(owned[1], None, timeout)
    shutil.rmtree(worker.work_dir, ignore_errors=True)
    return True


def ensure_local_head(**kwargs) -> LocalHead:
    """Return a live head started here, else the live head named in the state file, else a new one.

    ``kwargs`` go to :func:`start_local_head`; they do not matter when a head is reused.
    """
    for head, proc, _ in reversed(list(_owned.values())):
        if proc.poll() is None:
            return head
        stop_local_head(head)  # it died: kill what is left of it
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:  # kernels starting together share one head
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = _read_json(path)
        pid, tmp, url = saved.get("pid"), saved.get("temp_dir"), saved.get("dashboard_url")
        if (
            isinstance(tmp, str) and tmp
            and pid in procs.processes_naming([tmp], procs.proc_table())
            and _dashboard_ready(url, None)
        ):
            return LocalHead(url, saved["gcs_address"], saved["client_address"], None, tmp, False,
                             saved.get("token_file"))
        return start_local_head(**kwargs)


@atexit.register
def _stop_all() -> None:
    for worker, _ in list(_workers.values()):
        stop_local_worker(worker)
    for head, _, _ in reversed(list(_owned.values())):
        stop_local_head(head)


def _head_env(extra: dict[str, str] | None) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **_HEAD_ENV, **(extra or {})}


def _auth_env() -> dict[str, str]:
    """Ray's token auth with raynb's token, or {} if this Ray cannot do it."""
    if not _ray_has_token_auth():
        return {}
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(state.ensure_token_file())}


@functools.cache
def _ray_has_token_auth() -> bool:
    """True for Ray >= 2.52; else says once that local heads are open to the machine's users."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ray_version = tuple(int(part) for part in version("ray").split(".")[:2])
    except (ValueError, PackageNotFoundError):
        ray_version = (0, 0)
    if ray_version >= AUTH_MIN_RAY:
        return True
    print(f"raynb: Ray {'.'.join(map(str, ray_version))} has no token auth (Ray >= 2.52 has): the local "
          "Ray head is open to every user of this machine", file=sys.stderr)
    return False


def _ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise RuntimeError(f"no `ray` executable beside {sys.executable} or on PATH: install ray[default]")
    return found


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # bound all at once, so the ports are distinct
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _dashboard_ready(url: str, token: str | None, resources: bool = False) -> bool:
    """True if the dashboard answers (and, with ``resources``, reports the node's CPUs)."""
    from .client import RayClient, RayClientError

    try:
        with RayClient(url, token=token, timeout=2) as client:
            client.get_version()
            return not resources or "CPU" in client.get_cluster_status().resources
    except RayClientError:
        return False


def _agent_up(url: str) -> bool:
    """True if the job agent's health check (an open path, not the dashboard API) says so."""
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _state_file() -> Path:
    return state_dir() / "local_head.json"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(head: LocalHead) -> None:
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps({k: v for k, v in asdict(head).items() if k != "started_here"}))
    os.replace(partial, path)
