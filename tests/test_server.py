"""The side panel's server extension (raynb.server) in a real Jupyter server, on the real Ray head.

jupyter_server's pytest fixtures are imported here rather than loaded as a plugin: the
plugin's collection hooks would take over every async test of the suite. These tests are
synchronous and drive the server's loop themselves.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # jp_fetch and the fixtures it needs
from ray_helpers import py_entrypoint, stop_if_running, wait_for_status, wait_terminal
from tornado.httpclient import HTTPClientError

from conftest import private_state_dir

from raynb.client import JobStatus
from raynb.server.connection import dashboard_link
from raynb.server.state import last_connect, remember_connect


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"raynb.server": True}}}


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop, dashboard_url, monkeypatch, tmp_path):
    """call(*path, method=, params=, address=) -> (status, parsed body); NDJSON becomes a list."""
    private_state_dir(monkeypatch, tmp_path / "state")
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)

    def call(*path, method="GET", params=None, address=dashboard_url, **kwargs):
        params = {**({"address": address} if address else {}), **(params or {})}
        body = b"" if method == "POST" else None
        asyncio.set_event_loop(jp_asyncio_loop)  # an earlier async test may have unset it
        try:
            response = jp_asyncio_loop.run_until_complete(
                jp_fetch("raynb", "api", *path, method=method, params=params, body=body, **kwargs)
            )
        except HTTPClientError as exc:
            if exc.response is None:  # no answer at all (the client hung up)
                raise
            response = exc.response
        text = response.body.decode()
        if response.headers.get("Content-Type", "").startswith("application/x-ndjson"):
            return response.code, [json.loads(line) for line in text.splitlines()]
        return response.code, json.loads(text)

    return call


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_names_the_cluster_and_where_its_address_came_from(api, dashboard_url, monkeypatch):
    code, body = api("status")
    assert code == 200, body
    assert body["address"] == dashboard_url and body["source"] == "settings"
    assert body["ray_version"] and body["dashboard_url"] == dashboard_url + "/"

    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
    assert api("status", address=None)[1]["source"] == "environment"
    remember_connect(dashboard_url)  # what %ray_connect writes, after the server started
    assert api("status", address=None)[1]["source"] == "%ray_connect"


def test_cluster_shows_both_nodes_and_resources(api, worker_node):
    code, body = api("cluster")
    assert code == 200, body
    assert body["nodes_alive"] >= 1 and body["resources"]["CPU"]["total"] > 0
    head = body["nodes"][0]
    assert head["is_head"] and head["state"] == "ALIVE" and head["ip"]
    assert head["cpus"][1] == body["resources"]["CPU"]["total"] - sum(
        n["cpus"][1] for n in body["nodes"][1:] if n["state"] == "ALIVE")
    worker = next(n for n in body["nodes"] if n["node_id"] == worker_node.node_id)
    assert worker["cpus"][1] == 1 and worker["resources"]["worker_node"][1] == 1  # Ray's, not the host's
    assert body["resources"]["worker_node"]["total"] >= 1  # the name as written, not "workerNode"
    code, apps = api("serve")  # empty while Serve is not running
    assert code == 200 and all({"name", "status", "route_prefix"} <= set(a) for a in apps)


def test_jobs_list_and_live_log_stream(api, client, tmp_path):
    marker = tmp_path / "go"
    code = (
        "import os, time\n"
        "for i in range(5): print(f'line {i}', flush=True)\n"
        f"while not os.path.exists({str(marker)!r}): time.sleep(0.05)\n"
        "print('after the marker')"
    )
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    wait_for_status(client, job_id, {JobStatus.RUNNING})
    code_, jobs = api("jobs")
    assert code_ == 200 and job_id in [j["id"] for j in jobs]
    assert next(j for j in jobs if j["id"] == job_id)["status"] in ("RUNNING", "SUCCEEDED")

    seen: list[str] = []

    def on_chunk(chunk: bytes) -> None:  # the job waits for the marker: lines came live
        seen.extend(line for event in chunk.decode().splitlines() for line in json.loads(event).get("lines", []))
        if len(seen) >= 5:
            marker.touch()

    status, _ = api("jobs", job_id, "logs", streaming_callback=on_chunk, headers={"Accept": "*/*"})
    assert status == 200
    assert [line for line in seen if line.startswith(("line", "after"))] == [
        *(f"line {i}" for i in range(5)), "after the marker"
    ]
    assert wait_terminal(client, job_id) == JobStatus.SUCCEEDED
    # A reconnecting panel skips what it has; the stream ends with the job's final status.
    code_, events = api("jobs", job_id, "logs", params={"skip": str(len(seen) - 1)})
    assert code_ == 200 and events[0]["lines"] == [seen[-1]] and "first_offset" not in events[0]
    assert events[-1]["end"] == "SUCCEEDED"


def test_log_stream_opens_at_the_end_goes_on_by_offset_and_reads_earlier_lines(api, client, tmp_path):
    go = tmp_path / "go"
    code = (
        "import os, sys, time\nfor i in range(5000):\n    sys.stdout.write(f'row {i:04d}\\n')\nsys.stdout.flush()\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
        "for i in range(3):\n    print(f'live {i}', flush=True)\n"
    )
    rows = [f"row {i:04d}" for i in range(5000)]
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    while "row 4999" not in client.get_job_logs(job_id):
        time.sleep(0.2)
    events: list[dict] = []
    partial = bytearray()

    def on_chunk(chunk: bytes) -> None:
        partial.extend(chunk)
        *whole, partial[:] = partial.split(b"\n")
        events.extend(json.loads(line) for line in whole if line)
        if sum(len(e.get("lines", [])) for e in events) >= 100:
            go.touch()  # the job goes on only once the last 100 lines came

    status, _ = api("jobs", job_id, "logs", params={"last": "100"}, streaming_callback=on_chunk)
    assert status == 200 and events[-1]["end"] == "SUCCEEDED"
    lines = [line for e in events for line in e.get("lines", [])]
    assert lines == rows[4900:] + ["live 0", "live 1", "live 2"]
    first, row = events[0], len("row 0000\n")
    assert first["at_start"] is False and first["first_offset"] > 4900 * row  # after Ray's first lines
    # A reconnecting panel goes on at the byte offset after its last line.
    after_rows = next(e["offset"] for e in events if e.get("lines", [""])[-1] == "row 4999")
    assert after_rows == first["first_offset"] + 100 * row
    _, again = api("jobs", job_id, "logs", params={"offset": str(after_rows)})
    assert [line for e in again for line in e.get("lines", [])] == ["live 0", "live 1", "live 2"]
    # Earlier lines, on demand, back to the start.
    params = {"offset": str(first["first_offset"]), "lines": "1000"}
    code_, before = api("jobs", job_id, "logs", "before", params=params)
    assert code_ == 200 and before == {"offset": first["first_offset"] - 1000 * row, "lines": rows[3900:4900]}
    _, start = api("jobs", job_id, "logs", "before", params={"offset": str(before["offset"]), "lines": "10000"})
    assert start["offset"] == 0 and start["lines"][-3900:] == rows[:3900]


def test_a_closed_log_stream_ends_the_tail_on_the_server(api, client, jp_asyncio_loop):
    # One line, then silence: only the hang-up itself can tell the server to stop tailing.
    job_id = client.submit_job(py_entrypoint("import time\nprint('x', flush=True)\ntime.sleep(3600)")).submission_id

    def hang_up(chunk: bytes) -> None:
        raise ConnectionAbortedError  # the HTTP client closes the connection

    async def tail_gone() -> bool:  # the server closes its tail of the job (Ray polls end)
        for _ in range(1200):
            if not [t for t in asyncio.all_tasks() if "_relay.<locals>.pump" in repr(t.get_coro())]:
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        wait_for_status(client, job_id, {JobStatus.RUNNING})
        with pytest.raises(HTTPClientError):
            api("jobs", job_id, "logs", streaming_callback=hang_up)
        assert jp_asyncio_loop.run_until_complete(tail_gone())
    finally:
        stop_if_running(client, job_id)


def test_stop_really_stops_the_job_in_ray(api, client):
    job_id = client.submit_job(py_entrypoint("import time\nwhile True: time.sleep(0.1)")).submission_id
    try:
        wait_for_status(client, job_id, {JobStatus.RUNNING})
        code, body = api("jobs", job_id, "stop", method="POST")
        assert code == 200 and body["stopped"] is True and body["job"]["id"] == job_id
        assert wait_terminal(client, job_id) == JobStatus.STOPPED
        assert api("jobs", job_id)[1]["status"] == "STOPPED"
    finally:
        stop_if_running(client, job_id)  # only matters if the test failed


def test_unreachable_dashboard_is_a_clear_503(api):
    address = f"http://127.0.0.1:{_closed_port()}"
    for path in (("status",), ("jobs",), ("cluster",), ("jobs", "raysubmit_x", "logs")):
        code, body = api(*path, address=address)
        assert code == 503, (path, body)
        assert body["address"] == address and f"unreachable at {address}" in body["message"]
        assert "\n" not in body["message"] and "Traceback" not in body["message"]


@pytest.mark.parametrize(
    ("path", "params", "code", "words"),
    [
        (("jobs", "raysubmit_nope"), {}, 404, "does not exist"),
        (("jobs", "raysubmit_nope", "logs"), {}, 404, "does not exist"),
        (("jobs", "raysubmit_nope", "stop"), {}, 404, "does not exist"),
        (("jobs", "bad id!"), {}, 400, "invalid job id"),
        (("jobs", "raysubmit_x", "logs"), {"skip": "-1"}, 400, "skip must be a whole number"),
        (("jobs", "raysubmit_x", "logs"), {"last": "0"}, 400, "last must be a whole number of lines, at least 1"),
        (("jobs", "raysubmit_x", "logs"), {"last": "5", "offset": "9"}, 400, "one of last, offset and skip"),
        (("jobs", "raysubmit_x", "logs", "before"), {}, 400, "offset is required"),
        (("jobs", "raysubmit_x", "logs", "before"), {"offset": "0", "lines": "0"}, 400, "lines must be a whole number of lines from 1 to 10,000"),
        (("status",), {"address": "ray://127.0.0.1:10001"}, 400, "Ray Client address"),
    ],
)
def test_bad_input_is_a_clear_4xx(api, path, params, code, words):
    method = "POST" if path[-1] == "stop" else "GET"
    status, body = api(*path, method=method, params=params)
    assert status == code, body
    assert words in body["message"] and "\n" not in body["message"]


def test_dashboard_link_goes_through_the_proxy_only_for_a_local_dashboard():
    assert dashboard_link("http://127.0.0.1:8265", "/user/ann/", True) == (
        "/user/ann/proxy/8265/", "jupyter-server-proxy"
    )
    assert dashboard_link("http://ray-head:8265", "/user/ann/", True) == ("http://ray-head:8265/", "direct")
    assert dashboard_link("http://127.0.0.1:8265", "/", False) == ("http://127.0.0.1:8265/", "direct")


def test_state_file_keeps_the_address_only(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYNB_STATE_DIR", str(tmp_path))
    remember_connect("http://10.0.0.5:8265")
    saved = json.loads(next(Path(tmp_path).glob("*.json")).read_text())
    assert set(saved) == {"address", "time"} and saved["address"] == "http://10.0.0.5:8265"
    assert last_connect() == "http://10.0.0.5:8265"
    assert last_connect(since=saved["time"] + 1) is None  # made before this server started


def test_the_server_token_goes_only_to_the_server_dashboard(api, dashboard_url, monkeypatch):
    """A dashboard address typed into the setting never receives the server's token."""
    seen: list[str | None] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    monkeypatch.setenv("RAY_AUTH_TOKEN", "server-side-s3cret-token")
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", f"http://127.0.0.1:{other.server_port}")
    try:
        assert api("status", address=None)[0] == 401  # the server's own dashboard gets the token
        assert seen == ["Bearer server-side-s3cret-token"]
        monkeypatch.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
        code, body = api("status", address=f"http://127.0.0.1:{other.server_port}")
        assert code == 401 and "s3cret" not in json.dumps(body)
        assert seen[1:] == [None]  # another address: no token
    finally:
        other.shutdown()
        other.server_close()
