"""Make this process a Ray driver of the cluster an executor names, and learn about that cluster.

``ray_address``:

- ``'auto'``: Ray's own meaning (``RAY_ADDRESS``, else the cluster ``ray start`` left running),
  except that a dashboard named by ``RAY_API_SERVER_ADDRESS`` (or an http ``RAY_ADDRESS``) is
  asked for its cluster's GCS address, once per process, by a tiny Jobs API job that prints
  the ``RAY_ADDRESS`` Ray gives job drivers. If Ray is already initialized in this process,
  that connection is used as it is.
- ``'local'``: the local head of :func:`raynb.cluster.ensure_local_head` (started if needed).
- ``'ray://host:10001'``: Ray Client; ``'host:port'``: a GCS address.

A process drives one cluster: an executor that names another one than the connection this
process already has is refused in one line that names both (work never runs on a cluster the
user did not ask for). A local head raynb started is joined with its token.

Clusters whose Python lacks raynb (or has another version) get the notebook's raynb shipped as
a ``py_modules`` package: :func:`cluster_lacks_raynb` asks once per cluster and resource shape.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import state
from ..errors import ExecutorConfigError, UnavailableError

__all__ = [
    "cluster_lacks_raynb", "connect", "current_address", "dashboard_infeasible_reason", "dashboard_url",
    "driver_infeasible_reason", "infeasible_reason", "raynb_package", "resolve_ray_address",
    "upload_local_dirs",
]  # fmt: skip

_PROBE = "python -c \"import os; print('raynb-gcs-address', os.environ.get('RAY_ADDRESS', ''))\""
_state: dict[str, str | None] = {"dashboard": None}
_RAYNB_DIR = Path(__file__).resolve().parent.parent
_RAYNB_EXCLUDES = ["static", "labextension", "*.pyc"]  # browser bundles: workers need none
_PROBE_S = 60.0
_probed: dict[tuple[str, tuple[tuple[str, float], ...]], bool] = {}
_RAYNB_PROBE = '''
def raynb_version():
    try:
        import raynb
    except Exception:
        return None
    return getattr(raynb, "__version__", "?")
'''


def resolve_ray_address(ray_address: str = "auto") -> str:
    """The address to give ``ray.init`` for an executor's ``ray_address``."""
    if ray_address == "local":
        from ..cluster import ensure_local_head

        head = ensure_local_head()
        _state["dashboard"] = head.dashboard_url
        return head.gcs_address
    if ray_address != "auto":
        return ray_address
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env and not env.startswith(("http://", "https://")):
        return env
    dashboard = os.environ.get("RAY_API_SERVER_ADDRESS", "").strip() or env
    if dashboard:
        from ..client import resolve_address

        _state["dashboard"] = resolve_address(dashboard)
        return _gcs_address_of(_state["dashboard"])
    return "auto"


def current_address() -> str | None:
    """The cluster this process drives: ``ray://host:port`` (Ray Client), a GCS ``host:port``,
    or None when Ray is not initialized."""
    import ray

    if not ray.is_initialized():
        return None
    if ray.util.client.ray.is_connected():
        return "ray://" + ray.util.client.ray.get_context().client_worker._conn_str
    return ray.get_runtime_context().gcs_address


def connect(ray_address: str = "auto", namespace: str | None = None) -> None:
    """``ray.init`` unless Ray is initialized already; then that connection is kept if it is the
    one asked for ('auto' takes any), else ExecutorConfigError names both."""
    import ray

    if ray.is_initialized():
        _check_same_cluster(ray_address, namespace)
        return
    address = resolve_ray_address(ray_address)
    ours = state.is_local_head(address) or state.is_local_head(_state["dashboard"])
    try:
        with _head_token_env() if ours else contextlib.nullcontext():
            context = ray.init(address=address, namespace=namespace, logging_level=logging.WARNING)
    except ConnectionError as exc:
        raise UnavailableError(
            f"no Ray cluster at {address!r} ({exc}): start one with `ray start --head`, use "
            "ray_address='local', or set RAY_ADDRESS"
        ) from None
    if _state["dashboard"] is None and getattr(context, "dashboard_url", None):
        _state["dashboard"] = _with_scheme(context.dashboard_url)


_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")


@contextlib.contextmanager
def _head_token_env() -> Iterator[None]:
    """Join raynb's local head with its token. Ray reads the mode and the token file's path (not
    the token) from the environment when it connects, and keeps both; the environment is put
    back after, so no other client of this process sends that token anywhere else."""
    from ray._raylet import AuthenticationTokenLoader, Config  # pinned: Ray >= 2.52 token auth

    saved = {name: os.environ.get(name) for name in _AUTH_VARS}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(state.token_file()))
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_same_cluster(ray_address: str, namespace: str | None) -> None:
    import ray

    current = current_address() or "?"
    if ray_address != "auto":
        wanted = resolve_ray_address(ray_address)
        if _endpoint(wanted) != _endpoint(current):
            raise ExecutorConfigError(
                f"this process already drives the Ray cluster at {current}, and this executor asks for "
                f"{wanted}: one kernel drives one cluster; use ray_address='auto' for the current one, "
                "or ray.shutdown() first to switch"
            )
    if namespace is not None and namespace != ray.get_runtime_context().namespace:
        raise ExecutorConfigError(
            f"this process drives Ray in namespace {ray.get_runtime_context().namespace!r}, not "
            f"{namespace!r}: leave namespace out, or ray.shutdown() first to switch"
        )


def _endpoint(address: str) -> str:
    """``scheme host:port``, any address of this machine spelt 127.0.0.1 ('ray' for Ray Client)."""
    scheme = "ray" if address.startswith("ray://") else ""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return f"{scheme} {'127.0.0.1' if _this_machine(host.strip('[]')) else host}:{port}"


@functools.lru_cache(maxsize=64)
def _this_machine(host: str) -> bool:
    """True if ``host`` is an address of this machine (it can be bound to)."""
    if host == "localhost":
        return True
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, 0))
    except OSError:
        return False
    return True


def dashboard_url() -> str:
    """The dashboard of the connected cluster (used for uploads and task status)."""
    if _state["dashboard"]:
        return _state["dashboard"]
    try:
        import ray._private.worker as worker

        url = worker.get_dashboard_url()
    except Exception:  # Ray Client mode does not know it
        url = None
    from ..client import resolve_address

    return _with_scheme(url) if url else resolve_address(None)


def upload_local_dirs(runtime_env: dict[str, Any]) -> dict[str, Any]:
    """``runtime_env`` with local ``working_dir``/``py_modules`` folders uploaded (gcs:// URIs).

    Ray accepts local folders only in ``ray.init``; per actor or task they must be URIs.
    """
    local_dir = "working_dir" in runtime_env and "://" not in str(runtime_env["working_dir"])
    local_modules = [m for m in runtime_env.get("py_modules") or [] if "://" not in str(m)]
    if not local_dir and not local_modules:
        return runtime_env
    from ..client import RayClient

    env = dict(runtime_env)
    excludes = env.get("excludes")
    with RayClient(dashboard_url()) as client:
        if local_dir:
            env["working_dir"] = client.upload_package(str(env["working_dir"]), excludes)
        if local_modules:
            env["py_modules"] = [
                client.upload_package(str(m), excludes, include_parent=True) if m in local_modules else m
                for m in env["py_modules"]
            ]
    return env


def raynb_package(dashboard: str | None = None) -> str:
    """The ``gcs://`` URI of this raynb (its Python code) on the cluster, uploaded once per content."""
    return _upload_raynb(dashboard or dashboard_url(), _raynb_stamp())


@functools.lru_cache(maxsize=8)
def _upload_raynb(dashboard: str, stamp: float) -> str:
    from ..client import RayClient

    with RayClient(dashboard) as client:
        return client.upload_package(str(_RAYNB_DIR), _RAYNB_EXCLUDES, include_parent=True)


def _raynb_stamp() -> float:
    """Latest change of raynb's Python files and its tables: an edited raynb is uploaded again."""
    return max(p.stat().st_mtime for p in [*_RAYNB_DIR.rglob("*.py"), _RAYNB_DIR / "tables.json"])


def cluster_lacks_raynb(resources: Mapping[str, float] | None = None) -> bool:
    """True if the workers that get ``resources`` cannot import this version of raynb.

    Asked once per cluster and resource shape by a tiny task (0 CPU, a sliver of each custom
    resource) that is shipped by value, so it runs where raynb is missing too.
    """
    import ray

    from .. import __version__

    shape = tuple(sorted((resources or {}).items()))
    key = (current_address() or "", shape)
    if key not in _probed:
        namespace: dict[str, Any] = {"__name__": "raynb_probe"}  # not importable: pickled by value
        exec(_RAYNB_PROBE, namespace)  # noqa: S102 - a fixed snippet
        probe = ray.remote(num_cpus=0, resources={name: 0.0001 for name, _ in shape} or None)
        try:
            found = ray.get(probe(namespace["raynb_version"]).remote(), timeout=_PROBE_S)
        except Exception:  # cannot tell (e.g. no worker starts): ship it, which always works
            found = None
        _probed[key] = found != __version__
    return _probed[key]


def infeasible_reason(demand: Mapping[str, float], totals: list[Mapping[str, float]], can_grow: bool) -> str | None:
    """Why no node of ``totals`` (the alive nodes' resources) can ever run something that asks
    for ``demand`` (e.g. "infeasible: asks for 4 CPU, the largest node has 2"), or None if one
    can, or if the cluster ``can_grow`` (an autoscaler may add such a node, and Ray waits for it)."""
    if not demand or can_grow or any(all(t.get(k, 0) >= v for k, v in demand.items()) for t in totals):
        return None
    for name, amount in demand.items():
        best = max((t.get(name, 0) for t in totals), default=0)
        if not best:
            return f"infeasible: asks for {name}: {amount:g}, and no node has {name}"
        if best < amount:
            return f"infeasible: asks for {amount:g} {name}, the largest node has {best:g}"
    return f"infeasible: no single node has all of {dict(demand)}"


def driver_infeasible_reason(demand: Mapping[str, float]) -> str | None:
    """:func:`infeasible_reason` on the cluster this process drives (Ray's own node table)."""
    import ray

    if not demand:
        return None
    totals = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    return infeasible_reason(demand, totals, _can_grow(dashboard_url()))


def dashboard_infeasible_reason(client: Any, demand: Mapping[str, float]) -> str | None:
    """:func:`infeasible_reason` on the cluster of a dashboard ``client`` (a RayClient)."""
    if not demand:
        return None
    totals = [n.resources_total or {} for n in client.list_nodes(limit=10_000) if n.alive]
    return infeasible_reason(demand, totals, _can_grow(client.address))


def _can_grow(dashboard: str) -> bool:
    """True unless the dashboard says the cluster has no autoscaler node types to add."""
    from ..client import RayClient, RayClientError

    try:
        with RayClient(dashboard, timeout=5) as client:
            status = client.get_cluster_status().raw.get("autoscalingStatus") or ""
    except RayClientError:
        return True
    types = status.partition("Worker node types:")
    return not types[1] or bool(types[2].strip())


def _delete_probe(dashboard: str, job_id: str) -> None:
    """Best effort, in a daemon thread: a failed clean-up must not disturb the notebook."""
    from ..client import RayClient, RayClientError

    with contextlib.suppress(RayClientError), RayClient(dashboard) as client:
        client.delete_job(job_id)


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"http://{url}"


@functools.lru_cache(maxsize=8)
def _gcs_address_of(dashboard: str) -> str:
    """Ask the cluster behind ``dashboard`` for its GCS address with a tiny job."""
    from ..client import RayClient

    with RayClient(dashboard) as client:
        job_id = client.submit_job(_PROBE, metadata={"raynb": "gcs-address-probe"}).submission_id
        deadline = time.monotonic() + 120
        while not (status := client.get_job_status(job_id)).is_terminal():
            if time.monotonic() > deadline:
                client.stop_job(job_id)
                break
            time.sleep(0.2)
        logs = client.get_job_logs(job_id)
    if status.is_terminal():
        threading.Thread(target=_delete_probe, args=(dashboard, job_id), daemon=True).start()
    for line in logs.splitlines():
        name, _, address = line.partition(" ")
        if name == "raynb-gcs-address" and address.strip():
            return address.strip()
    raise UnavailableError(
        f"could not learn the GCS address of the cluster behind {dashboard} (probe job "
        f"{job_id} ended {status}): set RAY_ADDRESS=host:port or pass ray_address="
    )
