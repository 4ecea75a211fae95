"""AsyncRayClient: the one implementation of the Ray dashboard API (httpx + websockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ..errors import (
    BadRequestError,
    NotFoundError,
    RayClientError,
    RayTimeoutError,
    ServerError,
    UnavailableError,
    error_for_status,
)
from . import logfile, logs, packaging
from .limits import StreamLimits
from ._base import (
    ClientConfig,
    Filters,
    check_id,
    check_limit,
    check_ray_id,
    filter_query,
    late_filters,
    parse_filters,
)
from .models import (
    Actor,
    ClusterStatus,
    Job,
    JobStatus,
    JobStopResult,
    ListResult,
    Node,
    NodeStats,
    ServeApplication,
    SubmittedJob,
    Task,
    Version,
)

DELETE_SETTLE_S = 2.5  # Ray's job monitor writes a job's status up to ~1 s after it ends
SERVE_CHANGE_TIMEOUT_S = 120.0  # a deploy starts Serve (controller, proxies) before it answers


def _detail(body: str) -> str:
    """What an error answer says: the state API's ``msg`` from its JSON envelope, else the text."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return body
    return str(envelope["msg"]) if isinstance(envelope, dict) and envelope.get("msg") else body


class AsyncRayClient(ClientConfig):
    """Async client of the Ray dashboard. Use ``async with AsyncRayClient() as ray: ...``.

    Address: argument > RAY_API_SERVER_ADDRESS > RAY_ADDRESS (http/https) > localhost:8265.
    Every method raises a :class:`~raynb.errors.RayClientError` subclass on failure.
    """

    def __init__(self, base_url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, token, **kwargs)
        self._http = httpx.AsyncClient(
            base_url=self.address,
            headers=self._headers,
            timeout=self._http_timeout,
            verify=self.verify,
            follow_redirects=False,
        )

    async def __aenter__(self) -> AsyncRayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        if self.verify is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)

    def _transport_error(self, exc: Exception, what: str, timeout: float | None = None) -> RayClientError:
        """The error of the tree for what httpx raised: refused 503, no answer in time 408
        (``timeout``: the request's own, when it had one)."""
        if isinstance(exc, httpx.ConnectTimeout):
            return RayTimeoutError(
                f"{what}: could not connect to {self.address} within "
                f"{self._http_timeout.connect or self.timeout:g}s: is the address right and the "
                "dashboard reachable from here? retry, or raise timeout="
            )
        if isinstance(exc, httpx.ConnectError):
            return UnavailableError(
                f"Ray dashboard unreachable at {self.address} ({what}): start Ray with "
                "`ray start --head` or pass the dashboard address (RAY_API_SERVER_ADDRESS)"
            )
        if isinstance(exc, httpx.TimeoutException):
            return RayTimeoutError(
                f"{what} got no answer from {self.address} within {timeout or self.timeout:g}s: "
                "the cluster may be overloaded; retry or raise timeout="
            )
        return UnavailableError(f"{what}: connection to {self.address} closed ({type(exc).__name__}); retry")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        timeout: float | None = None,
    ) -> httpx.Response:
        what = f"{method} {path}"
        try:
            response = await self._http.request(
                method, path, params=params, json=json, content=content,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, what, timeout) from None
        if response.status_code not in ok:
            raise error_for_status(response.status_code, _detail(response.text), what)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise UnavailableError(
                f"{method} {path} answered something that is not JSON: is {self.address} "
                "a Ray dashboard?"
            ) from None

    async def _state(self, path: str, params: Any = None) -> dict[str, Any]:
        """GET a state-API path and unwrap its ``{result, msg, data}`` envelope."""
        body = await self._json("GET", path, params=params)
        if not isinstance(body, dict) or not body.get("result", False):
            message = body.get("msg", "") if isinstance(body, dict) else str(body)
            raise error_for_status(500, message or "the dashboard reported a failure", f"GET {path}")
        return body.get("data") or {}

    async def _state_list(
        self, resource: str, model: Any, filters: Filters, limit: int, detail: bool = False
    ) -> ListResult[Any]:
        """A state API listing as a ListResult that tells truthfully what is missing."""
        triples = parse_filters(filters)
        params = [("limit", str(check_limit(limit))), ("timeout", str(max(1, int(self.timeout))))]
        params += [("detail", "true")] if detail else []
        data = (await self._state(f"/api/v0/{resource}", params + filter_query(triples))).get("result") or {}
        rows = data.get("result") or []
        return ListResult(
            items=[model.from_dict(r) for r in rows],
            total=int(data.get("total", len(rows))),
            num_after_truncation=data.get("num_after_truncation"),
            num_filtered=data.get("num_filtered"),
            warnings=list(data.get("warnings") or []),
            partial_failure_warning=data.get("partial_failure_warning") or "",
            resource=resource,
            late_filters=late_filters(resource, triples),
        )

    @contextlib.asynccontextmanager
    async def _stream(
        self, path: str, params: Mapping[str, str], timeout: float
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open a streamed GET; yields its raw byte chunks. No read timeout: logs may be quiet."""
        what = f"GET {path}"
        try:
            async with self._http.stream(
                "GET", path, params=params, timeout=httpx.Timeout(timeout, read=None)
            ) as response:
                if response.status_code != 200:
                    body = (await response.aread()).decode(errors="replace")
                    raise error_for_status(response.status_code, _detail(body), what)
                yield response.aiter_raw()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, what) from None

    # -- cluster ----------------------------------------------------------------------

    async def get_version(self) -> Version:
        """Ray version and session of the cluster."""
        return Version.from_dict(await self._json("GET", "/api/version"))

    async def list_nodes(self, *, filters: Filters = None, limit: int = 100) -> ListResult[Node]:
        """Nodes of the cluster (alive and dead), with their resources."""
        return await self._state_list("nodes", Node, filters, limit)

    async def get_node(self, node_id: str) -> Node:
        nodes = await self.list_nodes(filters={"node_id": check_ray_id(node_id, "node id")}, limit=1)
        if not nodes:
            raise NotFoundError(f"node {node_id} does not exist: list nodes to see their ids")
        return nodes[0]

    async def list_node_stats(self) -> list[NodeStats]:
        """Live usage of every node: host CPU %, memory, object store, GPUs.

        Asked with ``nocache=1``: the dashboard otherwise answers the first read after its
        cache expired with the old data (a dead node ALIVE, a new node missing)."""
        data = await self._state("/nodes", params={"view": "summary", "nocache": "1"})
        return [NodeStats.from_dict(row) for row in data.get("summary") or []]

    async def get_cluster_status(self) -> ClusterStatus:
        """Nodes alive/dead, resources used/total and pending demand, plus `ray status` text."""
        status, text, nodes = await asyncio.gather(
            self._state("/api/cluster_status"),
            self._state("/api/cluster_status", params={"format": "1"}),
            self.list_nodes(limit=10_000),
        )
        alive = sum(1 for n in nodes if n.alive)
        names = {name for n in nodes for name in n.resources_total or {}}
        return ClusterStatus.from_dict(
            {**status, "text": text.get("clusterStatus", ""), "nodes_alive": alive,
             "nodes_dead": len(nodes) - alive},
            resource_names=names,
        )

    # -- jobs ---------------------------------------------------------------------------

    async def list_jobs(self) -> ListResult[Job]:
        """Every job the cluster knows, submitted or driver-started."""
        rows = await self._json("GET", "/api/jobs/")
        return ListResult(items=[Job.from_dict(r) for r in rows], total=len(rows), resource="jobs")

    async def get_job(self, job_id: str) -> Job:
        return Job.from_dict(await self._json("GET", f"/api/jobs/{check_id(job_id)}"))

    async def get_job_status(self, job_id: str) -> JobStatus:
        return (await self.get_job(job_id)).status

    async def get_job_logs(self, job_id: str) -> str:
        """The whole driver log of a job as one string."""
        try:
            return (await self._json("GET", f"/api/jobs/{check_id(job_id)}/logs")).get("logs", "")
        except ServerError:
            job = await self.get_job(job_id)
            if gone := await logs.lost_driver_node(self, job):
                raise NotFoundError(f"the log of job {job.id} {gone}") from None
            raise

    async def list_job_logs(self, job_id: str) -> list[str]:
        """The whole driver log of a job as a list of lines (the seed documents' name)."""
        return (await self.get_job_logs(job_id)).splitlines()

    async def get_job_log_tail(self, job_id: str | Job, lines: int = 100) -> list[str]:
        """The last ``lines`` lines of a job's driver log (``job_id``: an id, or a Job just read).

        Read from the end of the file on the driver's node (cheap for a big log); the whole
        log through the Jobs API when the job never had a driver or the state API refuses.
        """
        if lines < 1:
            raise BadRequestError(f"lines must be at least 1, not {lines}")
        job = job_id if isinstance(job_id, Job) else await self.get_job(job_id)
        if job.driver_node_id:
            params = {
                "node_id": job.driver_node_id,
                "filename": f"job-driver-{job.submission_id}.log",
                "lines": str(lines),
                "format": "text",
            }
            try:
                async with self._stream("/api/v0/logs/file", params, self.timeout) as body:
                    return b"".join([chunk async for chunk in body]).decode(errors="replace").splitlines()
            except (ServerError, NotFoundError, UnavailableError):
                pass  # the file is not there yet, or the state API is busy
        return (await self.get_job_logs(job.id)).splitlines()[-lines:]

    async def submit_job(
        self,
        entrypoint: str,
        *,
        submission_id: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        entrypoint_num_cpus: float | None = None,
        entrypoint_num_gpus: float | None = None,
        entrypoint_memory: int | None = None,
        entrypoint_resources: dict[str, float] | None = None,
    ) -> SubmittedJob:
        """Submit a job; a local ``working_dir`` or ``py_modules`` folder is uploaded first."""
        if not isinstance(entrypoint, str) or not entrypoint.strip():
            raise BadRequestError("entrypoint must be a non-empty shell command, e.g. 'python main.py'")
        body: dict[str, Any] = {"entrypoint": entrypoint}
        if submission_id is not None:
            body["submission_id"] = check_id(submission_id, "submission id")
        if runtime_env:
            body["runtime_env"] = await self._upload_local_packages(runtime_env)
        optional = {
            "metadata": metadata,
            "entrypoint_num_cpus": entrypoint_num_cpus,
            "entrypoint_num_gpus": entrypoint_num_gpus,
            "entrypoint_memory": entrypoint_memory,
            "entrypoint_resources": entrypoint_resources,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        data = await self._json("POST", "/api/jobs/", json=body)
        return SubmittedJob.from_dict(data)

    async def stop_job(self, job_id: str) -> JobStopResult:
        """Ask the job to stop; the result is true if Ray took the request.

        A job that already ended is a 400 ("already in terminal state"), as the seed
        documents list it; the result's ``status`` is the job's status right after.
        """
        data = await self._json("POST", f"/api/jobs/{check_id(job_id)}/stop")
        job = await self.get_job(job_id)
        if not data.get("stopped") and job.status.is_terminal():
            raise BadRequestError(
                f"job {job_id} is already in terminal state {job.status}: there is nothing to stop"
            )
        stopped = bool(data.get("stopped"))
        return JobStopResult(
            raw={"job_id": job.id, "stopped": stopped, "status": str(job.status)},
            job_id=job.id, stopped=stopped, status=job.status,
        )  # fmt: skip

    async def delete_job(self, job_id: str) -> bool:
        """Delete a finished job and its info; a running job is refused with a 400.

        Ray's job monitor still writes a job's status for a moment after it ends, and a job
        deleted in that window comes back as FAILED ("entrypoint not found"); so a job that
        ended less than :data:`DELETE_SETTLE_S` ago is deleted when that time has passed.
        """
        job = await self.get_job(job_id)
        if not job.status.is_terminal():
            raise BadRequestError(f"job {job_id} has not finished, so it cannot be deleted: stop it first")
        if job.end_time:
            since_end = time.time() - job.end_time / 1000
            await asyncio.sleep(min(DELETE_SETTLE_S, max(0.0, DELETE_SETTLE_S - since_end)))
        try:
            data = await self._json("DELETE", f"/api/jobs/{check_id(job_id)}")
        except ServerError as exc:
            if "non-terminal state" not in exc.message:
                raise
            raise BadRequestError(
                f"job {job_id} has not finished, so it cannot be deleted: stop it first"
            ) from None
        return bool(data.get("deleted"))

    async def upload_package(
        self, directory: str, excludes: list[str] | None = None, *, include_parent: bool = False
    ) -> str:
        """Upload a local folder through the packages API (once per content); return its URI."""
        name, data = await asyncio.to_thread(
            packaging.build_package, directory, excludes, include_parent=include_parent
        )
        path = f"/api/packages/gcs/{name}"
        exists = await self._request("GET", path, ok=(200, 404))
        if exists.status_code == 404:
            await self._request("PUT", path, content=data)
        return f"gcs://{name}"

    async def _upload_local_packages(self, runtime_env: dict[str, Any]) -> dict[str, Any]:
        env = dict(runtime_env)
        excludes = env.get("excludes")
        working_dir = env.get("working_dir")
        if working_dir and "://" not in str(working_dir):
            env["working_dir"] = await self.upload_package(str(working_dir), excludes)
        if env.get("py_modules"):
            env["py_modules"] = [
                await self.upload_package(str(m), excludes, include_parent=True)
                if "://" not in str(m) and not str(m).endswith(".whl")
                else m
                for m in env["py_modules"]
            ]
        return env

    # -- tasks and actors --------------------------------------------------------------

    async def list_tasks(
        self, *, filters: Filters = None, limit: int = 100, detail: bool = False
    ) -> ListResult[Task]:
        """Tasks, e.g. ``filters=["state=RUNNING", "job_id=02000000"]``; limit up to 10,000."""
        return await self._state_list("tasks", Task, filters, limit, detail)

    async def get_task(self, task_id: str) -> Task:
        """A task's latest attempt, with details."""
        task_id = check_ray_id(task_id, "task id")
        tasks = await self.list_tasks(filters={"task_id": task_id}, limit=100, detail=True)
        if not tasks:
            raise NotFoundError(f"task {task_id} does not exist: list tasks to see their ids")
        return max(tasks, key=lambda t: t.attempt_number or 0)

    async def list_actors(
        self, *, filters: Filters = None, limit: int = 100, detail: bool = False
    ) -> ListResult[Actor]:
        """Actors, e.g. ``filters={"state": "ALIVE"}``; limit up to 10,000."""
        return await self._state_list("actors", Actor, filters, limit, detail)

    async def get_actor(self, actor_id: str) -> Actor:
        actor_id = check_ray_id(actor_id, "actor id")
        actors = await self.list_actors(filters={"actor_id": actor_id}, limit=1, detail=True)
        if not actors:
            raise NotFoundError(f"actor {actor_id} does not exist: list actors to see their ids")
        return actors[0]

    # -- Serve ---------------------------------------------------------------------------

    async def _serve_details(self) -> dict[str, Any]:
        return await self._json("GET", "/api/serve/applications/")

    async def list_serve_applications(self) -> ListResult[ServeApplication]:
        """Serve applications (empty when Serve is not running)."""
        apps = (await self._serve_details()).get("applications") or {}
        items = [ServeApplication.from_dict({"name": name, **app}) for name, app in apps.items()]
        return ListResult(items=items, total=len(items), resource="applications")

    async def get_serve_application(self, name: str) -> ServeApplication:
        check_id(name, "application name")
        for app in await self.list_serve_applications():
            if app.name == name:
                return app
        raise NotFoundError(f"Serve application {name!r} does not exist: list them to see names")

    async def delete_serve_application(self, name: str) -> None:
        """Delete one application; deleting the last one shuts Serve down.

        Ray's REST API deletes by redeploying the other applications' configs, so this
        works when they were deployed from a config (``serve deploy`` or the REST API).
        """
        target = await self.get_serve_application(name)
        others = [a for a in await self.list_serve_applications() if a.name != target.name]
        if not others:
            await self.shutdown_serve()
            return
        if any(not a.deployed_app_config for a in others):
            raise BadRequestError(
                f"cannot delete {name!r} alone over REST: the other applications were deployed "
                "from Python; use serve.delete(name) there, or shut Serve down"
            )
        await self._request(
            "PUT", "/api/serve/applications/",
            json={"applications": [a.deployed_app_config for a in others]},
            timeout=max(self.timeout, SERVE_CHANGE_TIMEOUT_S),
        )

    async def deploy_serve_applications(self, config: dict[str, Any]) -> None:
        """Deploy a Serve config (``{"applications": [...]}``), replacing what runs.

        A local ``working_dir`` in an application's runtime_env is uploaded first.
        """
        apps = config.get("applications")
        if not isinstance(apps, list) or not apps:
            raise BadRequestError('a Serve config needs {"applications": [{...}, ...]}')
        apps = [
            {**app, "runtime_env": await self._upload_local_packages(app["runtime_env"])}
            if app.get("runtime_env") else app
            for app in apps
        ]
        await self._request(
            "PUT", "/api/serve/applications/", json={**config, "applications": apps},
            timeout=max(self.timeout, SERVE_CHANGE_TIMEOUT_S),
        )

    async def shutdown_serve(self) -> None:
        """Shut Serve down with all its applications."""
        await self._request(
            "DELETE", "/api/serve/applications/", timeout=max(self.timeout, SERVE_CHANGE_TIMEOUT_S)
        )

    # -- live logs ----------------------------------------------------------------------

    def tail_job_logs(
        self,
        job_id: str,
        timeout: float = 30.0,
        *,
        protocol: str = "auto",
        stream_timeout: float | None = None,
        stream_limits: StreamLimits | None = None,
        last: int | None = None,
        offset: int | None = None,
    ) -> logs.LogTail:
        """Follow a job's log line by line until the job ends and its log is drained.

        ``protocol``: 'auto' (lowest latency, falls back), 'websocket', or 'http' (also
        called 'stream'). ``timeout`` (``stream_timeout`` in older documents) bounds each
        connect and status check, and how long a broken stream is retried without progress;
        not the silence between lines. A broken connection is resumed after the last
        delivered line. Stops with a 429 :class:`StreamLimitError` when the client's
        ``stream_limits`` (the client's, or this call's) are passed. If the node that held
        the driver's log is gone, the tail ends with one
        :class:`~raynb.client.logs.LogNotice` line that says so.

        From the first line by default; ``last=N`` begins with the last N lines (then live),
        ``offset=B`` exactly at byte B that an earlier tail reported (``tail.offset``). The
        :class:`~raynb.client.logs.LogTail` gives earlier lines on demand (``earlier(n)``).
        Followers of one job in one event loop share one reader of the log.
        """
        timeout = logs.check_stream_args(timeout if stream_timeout is None else stream_timeout, protocol)
        for name, value in (("last", last), ("offset", offset)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise BadRequestError(f"{name} must be a whole number of {'lines' if name == 'last' else 'bytes'}, not {value!r}")
        if last is not None and offset is not None:
            raise BadRequestError("give last= (lines) or offset= (bytes), not both")
        limits = stream_limits or self.stream_limits
        return logs.LogTail(self, check_id(job_id), logs.PROTOCOL_NAMES[protocol], timeout, limits, last, offset)

    async def read_job_log_before(self, job_id: str | Job, before: int, lines: int = 500) -> logfile.LogSlice:
        """Up to ``lines`` complete lines of a job's driver log that end at byte ``before``
        (a line start, e.g. a tail's ``first_offset``), with the offset of the first."""
        job = job_id if isinstance(job_id, Job) else await self.get_job(job_id)
        start, got = await logs.lines_before(self, job, before, lines, self.stream_limits)
        return logfile.LogSlice(start, got)

    async def read_job_log_bytes(self, job: Job) -> bytes:
        """The driver log file of ``job`` as it is now, byte for byte (the Jobs API's text when
        the job never had a driver)."""
        if job.driver_node_id:
            params = {"node_id": job.driver_node_id, "filename": logs.driver_log_name(job), "lines": "-1", "format": "text"}
            with contextlib.suppress(NotFoundError):
                async with self._stream("/api/v0/logs/file", params, self.timeout) as body:
                    return b"".join([chunk async for chunk in body])
        return (await self.get_job_logs(job.id)).encode()

    async def websocket_tail_job_logs(
        self, job_id: str, timeout: float = 30.0, *, stream_timeout: float | None = None
    ) -> AsyncIterator[str]:
        """:meth:`tail_job_logs` over the dashboard's WebSocket only."""
        async for line in self.tail_job_logs(job_id, timeout, protocol="websocket", stream_timeout=stream_timeout):
            yield line

    async def stream_tail_job_logs(
        self, job_id: str, timeout: float = 30.0, *, stream_timeout: float | None = None
    ) -> AsyncIterator[str]:
        """:meth:`tail_job_logs` over chunked HTTP only."""
        async for line in self.tail_job_logs(job_id, timeout, protocol="http", stream_timeout=stream_timeout):
            yield line
