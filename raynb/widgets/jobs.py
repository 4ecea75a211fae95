"""JobsTable: the cluster's jobs, live, with stop/delete and a log panel."""

from __future__ import annotations

from typing import Any

import traitlets

from .. import render
from ..client import Job, RayClient
from ..rows import job_row
from ._base import PollingWidget, bundle
from ._stream import LineStream

__all__ = ["JobsTable", "job_row"]


class JobsTable(PollingWidget):
    """Jobs of the cluster, most recent first, refreshed every ``interval`` seconds.

    Stop and delete go through the kernel (the dashboard refuses POSTs from browsers);
    ``logs`` streams a job's log into the table's log panel, as LogView does.
    """

    _esm = bundle("jobs")
    jobs = traitlets.List(traitlets.Dict()).tag(sync=True)
    log_job = traitlets.Unicode("").tag(sync=True)
    log_status = traitlets.Unicode("").tag(sync=True)
    log_final = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, client: RayClient | None = None, interval: float = 2.0, max_lines: int = 100_000) -> None:
        self.max_lines = max_lines
        self._jobs: list[Job] = []
        self._stream: LineStream | None = None
        super().__init__(client=client, interval=interval)

    async def _refresh(self) -> None:
        jobs = sorted(await self.client.aio.list_jobs(), key=lambda j: j.start_time or 0, reverse=True)
        self._jobs = jobs
        self.jobs = [job_row(job) for job in jobs]

    async def _rpc_stop(self, job_id: str) -> dict[str, str]:
        result = await self.client.aio.stop_job(job_id)  # an ended job: a 400, answered as its line
        message = f"Stopping {job_id}" if result else f"{job_id} is not running ({result.status})"
        await self._nudge()
        return {"message": message}

    async def _rpc_delete(self, job_id: str) -> dict[str, str]:
        await self.client.aio.delete_job(job_id)
        await self._nudge()
        return {"message": f"Deleted {job_id}"}

    async def _rpc_logs(self, job_id: str) -> dict[str, Any]:
        await self.client.aio.get_job(job_id)  # a wrong id is answered as an error, before the reset
        if self._stream is not None:
            self._stream.stop()
        self._stream = LineStream(self, job_id, max_lines=self.max_lines)
        self.send({"type": "reset", "stream": job_id})
        with self.hold_sync():
            self.log_job, self.log_status, self.log_final = job_id, "", ""
        self._stream.start()
        return {}

    def _rpc_resync(self, stream: str, from_seq: int = 0) -> dict[str, Any]:
        current = self._stream
        if current is None or stream != current.job_id:
            return {"seq": from_seq, "lines": [], "dropped": 0}
        return current.held(from_seq)

    def _on_stream(self, stream: LineStream, **changes: Any) -> None:
        if stream is not self._stream:
            return
        with self.hold_sync():
            if "status" in changes:
                self.log_status = changes["status"]
            if "final" in changes:
                self.log_final = changes["final"]
            if "error" in changes:
                self.log_final = f"✖ Ray error {changes['error']}"

    def _render(self) -> render.Rendered:
        return render.job_table(self._jobs)
