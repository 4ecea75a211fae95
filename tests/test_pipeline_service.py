"""The pipeline service (a real process, or real threads in this one) over a real SQLite file:
token, bad requests, SSE."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from pipeline_helpers import ServiceProcess

from raynb.errors import AuthError, BadRequestError, NotFoundError
from raynb.pipeline.app import BackgroundService
from raynb.pipeline.client import PipelineServiceClient
from raynb.pipeline.models import (
    ActionStatus,
    CheckpointReport,
    LogLine,
    PipelineProgress,
    RunCreate,
    RunStatus,
)

TOKEN = "pipeline-t0ken-value"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    proc = ServiceProcess(tmp_path_factory.mktemp("svc") / "pipelines.db", token=TOKEN).start()
    yield proc
    proc.stop()


@pytest.fixture
def client(service: ServiceProcess):
    with PipelineServiceClient(service.url, TOKEN) as c:
        yield c


def new_run(client: PipelineServiceClient, run_id: str, actions: int = 2) -> PipelineProgress:
    return client.create_run(RunCreate(run_id=run_id, name=run_id, pipeline="p",
                                       actions=[f"A{i}" for i in range(actions)], params={"x": 1}))


def test_token_required(service: ServiceProcess) -> None:
    assert httpx.get(service.url + "/health").json()["service"] == "raynb-pipeline"  # open
    assert httpx.get(service.url + "/runs").status_code == 401
    wrong = httpx.get(service.url + "/runs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["detail"]
    with PipelineServiceClient(service.url) as anonymous, pytest.raises(AuthError) as info:
        anonymous.list_runs()
    with PipelineServiceClient(service.url, "wrong-" + TOKEN) as wrong_client, pytest.raises(AuthError) as info2:
        wrong_client.list_runs()
    assert TOKEN not in str(info.value) and TOKEN not in str(info2.value)
    assert "\n" not in str(info.value) and "***" not in str(info.value)  # says what to do, unmangled
    assert "needs its token; give the service's token as pipeline_service_token" in str(info.value)


def test_bad_requests_get_4xx_and_change_nothing(service: ServiceProcess, client: PipelineServiceClient) -> None:
    run = new_run(client, "bad-requests")
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def post(path: str, body: bytes | str) -> httpx.Response:
        return httpx.post(service.url + path, content=body, headers=headers)

    cases = [
        (post("/runs/bad-requests/actions/0", b'{"progress": 1.5}'), 422, "progress"),
        (post("/runs/bad-requests/actions/0", b'{"progress": -0.1}'), 422, "progress"),
        (post("/runs/bad-requests/actions/0", b'{"progress": 0.5, "colour": 1}'), 422, "colour"),
        (post("/runs/bad-requests/actions/0", b'{"progress": '), 400, "not JSON"),
        (post("/runs/bad-requests/actions/0", b"[1, 2]"), 400, "JSON object"),
        (post("/runs/bad-requests/actions/7", b'{"progress": 0.5}'), 404, "no action 7"),
        (post("/runs/nope/actions/0", b'{"progress": 0.5}'), 404, "does not exist"),
        (post("/runs/bad-requests/checkpoints", b'{"action_index": 0}'), 422, "params_snapshot"),
        (post("/runs/bad-requests/fail", b"{}"), 400, "error"),
        (post("/runs", json.dumps({"run_id": "bad requests!", "name": "n", "pipeline": "p", "actions": ["A"]})),
         422, "run_id"),
        (post("/runs", json.dumps({"run_id": "x", "name": "n", "pipeline": "p", "actions": []})), 422, "actions"),
        (httpx.get(service.url + "/runs?limit=zero", headers=headers), 400, "limit"),
        (httpx.get(service.url + "/runs/bad-requests/events", headers={**headers, "Last-Event-ID": "x"}),
         400, "Last-Event-ID"),
    ]
    for response, status, word in cases:
        detail = response.json()["detail"]
        assert (response.status_code, word in detail, "\n" in detail) == (status, True, False), detail
    assert client.get_run("bad-requests") == run  # nothing half-written: not even an event
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        client.get_run("nope")
    with pytest.raises(BadRequestError) as info:  # the same id twice
        new_run(client, "bad-requests")
    assert info.value.status_code == 409


def test_sse_reconnect_with_last_event_id_misses_no_event(client: PipelineServiceClient) -> None:
    """A client reads some events and drops the connection; the run changes while it is away;
    it reconnects from the last id it saw and stays for the live rest: every event once, in order."""
    new_run(client, "sse-resume", actions=1)
    steps = {name: threading.Event() for name in ("halfway", "resumed", "away_done", "back")}

    def produce() -> None:
        for i in range(1, 41):
            client.request("POST", "/runs/sse-resume/actions/0", json={"status": "RUNNING", "progress": i / 40})
            if i % 4 == 0:
                client.request("POST", "/runs/sse-resume/logs", json={"action_index": 0, "messages": [f"line {i}"]})
            if i == 20:  # the consumer drops after this
                steps["halfway"].set()
                steps["resumed"].wait(30)
            if i == 30:  # changed while the consumer was away; the rest is live
                steps["away_done"].set()
                steps["back"].wait(30)
        client.request("POST", "/runs/sse-resume/checkpoints", json={"action_index": 0, "params_snapshot": {"x": 2}})

    producer = threading.Thread(target=produce)
    producer.start()
    seen: list[int] = []
    logged: list[str] = []
    for event_id, event in client.events("sse-resume", timeout=60):
        seen.append(event_id)
        logged += [event.message] if isinstance(event, LogLine) else []
        if steps["halfway"].is_set() and len(seen) >= 5:
            break  # drops the connection mid-run
    steps["resumed"].set()
    steps["away_done"].wait(30)
    kinds = {}
    for event_id, event in client.events("sse-resume", last_event_id=seen[-1], timeout=60):
        steps["back"].set()
        seen.append(event_id)
        kinds[event_id] = type(event)
        logged += [event.message] if isinstance(event, LogLine) else []
    producer.join()
    final = client.get_run("sse-resume")
    assert final.status is RunStatus.COMPLETED and final.actions[0].status is ActionStatus.COMPLETED
    # Ids once each, in order, up to the last. The run's end replaces its earlier progress
    # snapshots by the final one, so a reader that is behind then may skip their ids; no log
    # line is ever dropped.
    assert seen == sorted(set(seen)) and seen[-1] == final.seq
    assert logged == [f"line {i}" for i in range(4, 41, 4)]
    assert LogLine in kinds.values() and kinds[final.seq] is PipelineProgress


def test_sse_after_the_end_replays_and_closes(client: PipelineServiceClient) -> None:
    """A stream opened after the end gets the logs and the final snapshot (earlier snapshots
    were superseded and dropped), then closes; the ended run takes no more reports."""
    new_run(client, "sse-ended", actions=1)
    client.request("POST", "/runs/sse-ended/actions/0", json={"status": "RUNNING", "progress": 0.5})
    client.request("POST", "/runs/sse-ended/logs", json={"messages": ["a run note"]})
    client.cancel("sse-ended")
    events = list(client.events("sse-ended", timeout=30))
    assert [type(e) for _, e in events] == [LogLine, PipelineProgress]
    assert events[0][1].message == "a run note" and events[1][1].status is RunStatus.CANCELLED
    assert list(client.events("sse-ended", last_event_id=events[-1][0], timeout=30)) == []
    with pytest.raises(BadRequestError, match="has ended"):
        client.request("POST", "/runs/sse-ended/logs", json={"messages": ["late"]})


def test_sse_format_and_heartbeat(service: ServiceProcess, client: PipelineServiceClient) -> None:
    """Each event has an id and a kind; an idle stream gets comment heartbeats (every 0.5 s here)."""
    new_run(client, "sse-raw", actions=1)
    with httpx.stream("GET", service.url + "/runs/sse-raw/events", headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith(":"):
                break
    assert lines[:2] == ["id: 1", "event: progress"] and lines[2].startswith("data: {")
    assert lines[-1].startswith(": ping")


def test_sse_ends_with_the_final_snapshot_when_the_run_ends_between_its_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run completes exactly after the stream read the events (none new) and before it
    reads the run's status: the stream still ends with the COMPLETED snapshot."""
    service = BackgroundService("127.0.0.1", 0, tmp_path / "race.db", token=TOKEN)
    store = service.store
    try:
        with PipelineServiceClient(service.url, TOKEN) as client:
            new_run(client, "race", actions=1)
            seen = client.request("POST", "/runs/race/actions/0", json={"status": "RUNNING"})["seq"]
        read_events = store.events

        def events_then_complete(run_id: str, after: int, limit: int) -> list:
            batch = read_events(run_id, after, limit)
            if not batch and not store.status(run_id).is_terminal():  # caught up: the run ends now
                store.add_checkpoint(run_id, CheckpointReport(action_index=0, params_snapshot={"x": 2}))
            return batch

        monkeypatch.setattr(store, "events", events_then_complete)
        kinds, statuses = [], []
        headers = {"Authorization": f"Bearer {TOKEN}", "Last-Event-ID": str(seen)}  # caught up at once
        with httpx.stream("GET", service.url + "/runs/race/events", headers=headers, timeout=30) as response:
            for line in response.iter_lines():  # until the service closes the stream
                if line.startswith(":"):
                    break  # a heartbeat: the stream waits for a change that already happened
                if line.startswith("event: "):
                    kinds.append(line[7:])
                elif line.startswith("data: ") and kinds[-1] == "progress":
                    statuses.append(json.loads(line[6:])["status"])
        assert store.status("race") is RunStatus.COMPLETED
        assert kinds == ["progress"] and statuses == ["COMPLETED"]
    finally:
        service.stop()
