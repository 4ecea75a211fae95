"""The client also speaks the seed documents' dialect: dict keys, their signatures and names,
an assignable ``stream_limits``, and a 400 for bad input before any request."""

from __future__ import annotations

import asyncio

import pytest
from ray_helpers import py_entrypoint, wait_terminal

from raynb.client import (
    AsyncRayClient,
    BadRequestError,
    ClientError,
    Job,
    JobStatus,
    ListResult,
    RayClient,
    StreamLimitError,
    StreamLimits,
)

CLOSED = "http://127.0.0.1:9"  # nothing listens: a request that reached the network would be a 503


@pytest.fixture(scope="module")
def finished_job(dashboard_url: str) -> str:
    with RayClient(dashboard_url) as c:
        job = c.submit_job(py_entrypoint("for i in range(39): print('line', i)"))
        assert wait_terminal(c, job.submission_id) == JobStatus.SUCCEEDED
        return job.submission_id


def test_results_read_by_the_dashboards_keys(client: RayClient, finished_job: str) -> None:
    job = client.get_job(finished_job)
    assert job["status"] == "SUCCEEDED" == job.status and job["submission_id"] == finished_job
    assert job["start_time"] == job.start_time and "driver_info" in job and "no_such" not in job
    assert job["id"] == finished_job and job.get("no_such", 7) == 7
    with pytest.raises(KeyError):
        job["no_such"]
    assert dict(job)["entrypoint"] == job.entrypoint
    jobs = client.list_jobs()
    assert finished_job in {j["submission_id"] for j in jobs["results"]} and jobs["total"] == len(jobs)
    assert "results" in jobs and jobs[0] in jobs
    node = next(n for n in client.list_nodes()["results"] if n["is_head_node"])  # other nodes may be dead
    assert node["alive"] is True and node.alive and node["state"] == "ALIVE"
    assert client.get_node(node["node_id"])["node_id"] == node.node_id
    tasks = client.list_tasks(limit=5)
    if tasks:
        assert tasks[0]["task_id"] == tasks[0].task_id and "state" in tasks[0]


def test_the_documented_signatures(dashboard_url: str, finished_job: str) -> None:
    with RayClient(base_url=dashboard_url, timeout={"connect": 5, "read": 30}) as c:
        assert c.base_url == dashboard_url and c.timeout == 30
        lines = list(c.tail_job_logs(finished_job, 60))  # timeout positional
        assert [x for x in lines if x.startswith("line ")] == [f"line {i}" for i in range(39)]
        assert list(c.tail_job_logs(finished_job, stream_timeout=30, protocol="stream")) == lines
        assert list(c.websocket_tail_job_logs(finished_job, 30)) == lines
        assert list(c.stream_tail_job_logs(finished_job, stream_timeout=60)) == lines
        assert c.list_job_logs(finished_job) == lines
        with pytest.raises(ClientError) as err:
            c.get_job("raysubmit_nosuchjob")
        assert err.value.status == err.value.status_code == 404

    async def run() -> list[str]:
        async with AsyncRayClient(dashboard_url, None) as ac:  # (base_url, token), as documented
            return [line async for line in ac.tail_job_logs(finished_job, 30, protocol="http")]

    assert asyncio.run(run()) == lines


def test_stream_limits_is_a_setting_the_next_stream_uses(dashboard_url: str, finished_job: str) -> None:
    with RayClient(dashboard_url) as c:
        c.stream_limits = StreamLimits(max_lines=3)
        got: list[str] = []
        with pytest.raises(StreamLimitError) as err:
            for line in c.tail_job_logs(finished_job):
                got.append(line)
        assert len(got) == 3 and err.value.status_code == 429 and "3 lines" in str(err.value)
        with pytest.raises(AttributeError, match="stream_limit is not a setting"):
            c.stream_limit = StreamLimits(max_lines=3)  # a misspelt setting never passes silently
        with pytest.raises(BadRequestError):
            c.stream_limits = {"max_lines": 3}
        with pytest.raises(BadRequestError):
            StreamLimits(max_lines=0)


def test_bad_input_is_a_400_before_any_request() -> None:
    with RayClient(CLOSED, timeout=2) as c:
        for timeout in (-5, 0, float("nan"), "30"):
            with pytest.raises(BadRequestError, match="positive number"):
                list(c.tail_job_logs("raysubmit_abc", timeout))
        with pytest.raises(BadRequestError, match="unknown log protocol"):
            list(c.tail_job_logs("raysubmit_abc", protocol="ftp"))
        for call, value, what in [
            (c.get_task, "task-xyz789", "48 hex digits"),
            (c.get_actor, "a" * 31, "32 hex digits"),
            (c.get_node, "node-abc123", "56 hex digits"),
        ]:
            with pytest.raises(BadRequestError, match=what):
                call(value)
        with pytest.raises(BadRequestError, match="56 hex digits"):
            c.list_tasks(filters=["node_id=abc"])
    with pytest.raises(BadRequestError, match="timeout keys"):
        RayClient(CLOSED, timeout={"conect": 5})


def test_truncation_is_told_truthfully(client: RayClient, finished_job: str) -> None:
    some = client.list_jobs()
    assert not some.truncated and some.note() == ""
    cut = ListResult(items=[1] * 10, total=20_197, num_after_truncation=10_000, num_filtered=10,
                     resource="tasks", late_filters=("node_id=ab",))
    assert cut.truncated and cut.source_truncated
    assert "returned 10,000 of 20,197 tasks" in cut.note() and "node_id=ab" in cut.note()
    capped = ListResult(items=[1] * 10_000, total=20_197, num_after_truncation=10_000, num_filtered=10_000)
    assert capped.truncated  # what Ray's own client calls "Failed to retrieve all 20197 tasks"
    one = client.list_nodes(limit=1)
    assert len(one) == 1 and (one.truncated == (one.num_filtered > 1))


def test_a_job_model_still_types_its_fields(finished_job: str, client: RayClient) -> None:
    job = client.get_job(finished_job)
    assert isinstance(job, Job) and job.status is JobStatus.SUCCEEDED and job.duration_s >= 0
