"""Make this process a Ray driver, and find the dashboard of the cluster it drives.

``ray_address``:

- ``'auto'``: Ray's own meaning (``RAY_ADDRESS``, else the cluster ``ray start`` left running),
  except that a dashboard named by ``RAY_API_SERVER_ADDRESS`` (or an http ``RAY_ADDRESS``) is
  asked for its cluster's GCS address, once per process, by a tiny Jobs API job that prints
  the ``RAY_ADDRESS`` Ray gives job drivers.
- ``'local'``: the local head of :func:`raynb.cluster.ensure_local_head` (started if needed).
- ``'ray://host:10001'``: Ray Client; ``'host:port'``: a GCS address.

If Ray is already initialized in this process, that connection is reused as it is.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from typing import Any

from ..errors import UnavailableError

__all__ = ["connect", "dashboard_url", "resolve_ray_address", "upload_local_dirs"]

_PROBE = "python -c \"import os; print('raynb-gcs-address', os.environ.get('RAY_ADDRESS', ''))\""
_state: dict[str, str | None] = {"dashboard": None}


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


def connect(ray_address: str = "auto") -> None:
    """``ray.init`` unless Ray is initialized already (then that connection is kept)."""
    import ray

    if ray.is_initialized():
        return
    address = resolve_ray_address(ray_address)
    try:
        context = ray.init(address=address, logging_level=logging.WARNING)  # no "Connecting…" lines
    except ConnectionError as exc:
        raise UnavailableError(
            f"no Ray cluster at {address!r} ({exc}): start one with `ray start --head`, use "
            "ray_address='local', or set RAY_ADDRESS"
        ) from None
    if _state["dashboard"] is None and getattr(context, "dashboard_url", None):
        _state["dashboard"] = _with_scheme(context.dashboard_url)


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
