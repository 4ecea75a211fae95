"""raynb.widgets driven in-process against the real Ray head.

Custom messages are captured by overriding ``send`` in a subclass (without a kernel the comm
is ipywidgets' DummyComm); front-end requests go through ``Widget._handle_msg`` exactly as a
comm message would.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal

from raynb.client import JobStatus, RayClient, RayClientError
from raynb.magics.widgets import widgets_available
from raynb.render import demand_text
from raynb.tables import tables
from raynb.widgets import ClusterPanel, Dashboard, JobsTable, LogView, ServePanel
from raynb.widgets.jobs import job_row

EVIL = "<img src=x onerror=alert(1)>"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ids = itertools.count(1)


def recording(cls: type) -> type:
    """``cls`` with every custom message kept in ``.sent`` as (monotonic time, content)."""

    class Recording(cls):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.sent: list[tuple[float, dict]] = []
            super().__init__(*args, **kwargs)

        def send(self, content: dict, buffers: Any = None) -> None:
            self.sent.append((time.monotonic(), content))

    return Recording


RecLogView, RecJobsTable = recording(LogView), recording(JobsTable)


def wait_until(cond: Callable[[], Any], timeout: float = 120.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := cond():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def request(widget: Any, method: str, *, timeout: float = 60.0, **args: Any) -> dict:
    """Send a request as the front end would; return the reply."""
    rid = next(_ids)
    content = {"type": "request", "id": rid, "method": method, "args": args}
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    return wait_until(
        lambda: next((m for _, m in widget.sent if m.get("type") == "reply" and m["id"] == rid), None),
        timeout, f"the reply to {method}",
    )


def line_batches(widget: Any, stream: str | None = None) -> list[tuple[float, dict]]:
    return [(t, m) for t, m in widget.sent if m["type"] == "lines" and stream in (None, m["stream"])]


def submit(client: RayClient, code: str) -> str:
    return client.submit_job(py_entrypoint(code)).submission_id


def test_imports_stay_lazy() -> None:
    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'raynb')\n"
        "print(sorted(m for m in ('ray', 'raynb.widgets', 'anywidget') if m in sys.modules))\n"
        "import raynb.widgets\nprint('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]


def test_logview_delivers_every_line_once_in_order_at_a_bounded_rate(client: RayClient) -> None:
    code = "import time\nfor i in range(5000):\n    print(f'line {i}')\n    if i % 100 == 0:\n        time.sleep(0.05)"
    job_id = submit(client, code)
    view = RecLogView(job_id, client=client)
    try:
        wait_until(lambda: view.done, what="the job to end")
        batches = line_batches(view)
        assert all(m["stream"] == job_id for _, m in batches)
        received, seq = [], 0
        for _, m in batches:  # consecutive batches, no gap, no overlap
            assert m["seq"] == seq and m["dropped"] == 0
            received += m["lines"]
            seq += len(m["lines"])
        assert [line for line in received if line.startswith("line ")] == [f"line {i}" for i in range(5000)]
        assert view.total == len(received) and view.dropped == 0 and view.error == ""
        assert view.status == "SUCCEEDED" and view.final.startswith(f"✔ {job_id} SUCCEEDED")
        # At most one message per 50 ms (plus the final flush): never one per line.
        elapsed = batches[-1][0] - batches[0][0]
        assert len(batches) <= elapsed / 0.05 + 2 and len(batches) < 5000 / 20
        reply = request(view, "resync", stream=job_id, from_seq=view.total - 10)
        assert reply["ok"] and reply["result"] == {"seq": view.total - 10, "lines": received[-10:], "dropped": 0}
        assert request(view, "resync", stream=job_id, from_seq=0)["result"]["lines"] == received
    finally:
        view.close()


def test_logview_ring_keeps_memory_flat(client: RayClient) -> None:
    job_id = submit(client, "import sys\nfor i in range(20_000):\n    sys.stdout.write(f'row {i}\\n')\n")
    view = RecLogView(job_id, client=client, max_lines=1000)
    try:
        wait_until(lambda: view.done, what="the job to end")
        assert view.total >= 20_000 and view.dropped == view.total - 1000 >= 19_000
        held = request(view, "resync", stream=job_id, from_seq=0)["result"]
        assert held["seq"] == held["dropped"] == view.dropped and len(held["lines"]) == 1000
        assert held["lines"][-1] == "row 19999"
        assert len(view._stream._ring) == 1000 and not view._stream._unsent
        batches = [m for _, m in line_batches(view)]
        assert all(len(m["lines"]) <= 1000 for m in batches)
        assert all(a["seq"] + len(a["lines"]) <= b["seq"] for a, b in itertools.pairwise(batches))
    finally:
        view.close()


def test_logview_tail_opens_at_the_end_and_loads_earlier_lines_on_request(client: RayClient, tmp_path) -> None:
    go = tmp_path / "go"
    code = (
        "import os, sys, time\nfor i in range(5000):\n    sys.stdout.write(f'row {i:04d}\\n')\nsys.stdout.flush()\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
        "for i in range(5):\n    print(f'live {i}', flush=True)\n"
    )
    job_id = submit(client, code)
    wait_until(lambda: "row 4999" in client.get_job_logs(job_id), what="the job's 5000 lines")
    rows = [f"row {i:04d}" for i in range(5000)]
    view = RecLogView(job_id, client=client, tail=100)
    small = RecLogView(job_id, client=client, tail=100, max_lines=150)
    try:
        assert not view.from_start
        wait_until(lambda: view.total == 100 and small.total == 100, what="the last 100 lines")
        assert request(view, "resync", stream=job_id, from_seq=0)["result"]["lines"] == rows[4900:]
        first = request(view, "earlier", stream=job_id, have=0, n=1000)["result"]
        assert first == {"lines": rows[3900:4900], "at_start": False}
        rest = request(view, "earlier", stream=job_id, have=1000, n=10_000)["result"]
        # Ray's own "Running entrypoint" lines land in the file wherever its supervisor wrote
        # them among the job's first rows.
        assert rest["at_start"] and [ln for ln in rest["lines"] if ln.startswith("row ")] == rows[:3900]
        assert "Running entrypoint" in "\n".join(rest["lines"])
        # Another view (a reload) asks again: the kernel answers from what it read.
        assert request(view, "earlier", stream=job_id, have=0, n=500)["result"]["lines"] == rows[4400:4900]
        have = 1000 + len(rest["lines"])
        assert request(view, "earlier", stream=job_id, have=have, n=10)["result"] == {"lines": [], "at_start": True}
        # A view holds max_lines at most: the kernel reads (and keeps) no more than that.
        assert request(small, "earlier", stream=job_id, have=0, n=1000)["result"]["lines"] == rows[4750:4900]
        assert request(small, "earlier", stream=job_id, have=150, n=10)["result"] == {"lines": [], "at_start": False}
        assert not request(view, "earlier", stream=job_id, have=-1, n=5)["ok"]
        assert "earlier lines hidden" in view.snapshot().text
        go.touch()
        wait_until(lambda: view.done, what="the job to end")
        received = [line for _, m in line_batches(view) for line in m["lines"]]
        assert received == rows[4900:] + [f"live {i}" for i in range(5)]  # exactly once, in order
        assert line_batches(view)[0][1]["seq"] == 0 and not view.from_start
    finally:
        view.close()
        small.close()


def test_logview_tail_of_a_short_log_is_the_whole_log(client: RayClient) -> None:
    job_id = submit(client, "for i in range(5):\n    print(f'short {i}')")
    wait_terminal(client, job_id)
    view = RecLogView(job_id, client=client, tail=100)
    try:
        wait_until(lambda: view.done, what="the tail to end")
        received = [line for _, m in line_batches(view) for line in m["lines"]]
        assert view.from_start and received == client.get_job_logs(job_id).splitlines()
        assert request(view, "earlier", stream=job_id, have=0, n=10)["result"] == {"lines": [], "at_start": True}
    finally:
        view.close()


def test_logview_final_lines_and_escaped_snapshot(client: RayClient) -> None:
    ok = RecLogView(submit(client, f"print('hello'); print({EVIL!r})"), client=client)
    failed = RecLogView(submit(client, "print('bye'); raise SystemExit(3)"), client=client)
    try:
        wait_until(lambda: ok.done and failed.done, what="both jobs to end")
        assert ok.status == "SUCCEEDED" and "SUCCEEDED in" in ok.final
        assert failed.status == "FAILED" and failed.error == ""
        # one line: Ray's first sentence, not the log Ray embeds in its message (shown above it)
        assert failed.final.startswith(f"✖ {failed.job_id} FAILED (exit code 3) in ") and "\n" not in failed.final
        assert failed.final.endswith(": Job entrypoint command failed with exit code 3")
        assert job_row(client.get_job(failed.job_id))["message"] == "Job entrypoint command failed with exit code 3"
        data, _ = ok._repr_mimebundle_()
        assert data[WIDGET_MIME]["model_id"] == ok.model_id
        assert EVIL in data["text/plain"] and "SUCCEEDED" in data["text/plain"]
        assert EVIL not in data["text/html"] and "&lt;img src=x onerror=alert(1)&gt;" in data["text/html"]
    finally:
        ok.close()
        failed.close()


def test_logview_errors_and_unknown_requests_are_one_line(client: RayClient) -> None:
    view = RecLogView("raysubmit_nope", client=client)
    try:
        wait_until(lambda: view.done, timeout=60, what="the error")
        assert "does not exist" in view.error and "\n" not in view.error and view.final == ""
        assert "Ray error" in view.snapshot().text
        for method, args in (("nope", {}), ("__init__", {}), ("resync", {"bogus": 1})):
            reply = request(view, method, **args)
            assert reply["ok"] is False and reply["error"] and "\n" not in reply["error"]
        view._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "other"}}}, "buffers": []})
        assert request(view, "resync", stream="other", from_seq=3)["result"] == {"seq": 3, "lines": [], "dropped": 0}
    finally:
        view.close()


def test_jobs_table_lists_stops_refuses_delete_and_streams_logs(client: RayClient) -> None:
    sleeper = submit(client, "import time\nprint('sleeping', flush=True)\ntime.sleep(300)")
    table = RecJobsTable(client=client, interval=0.5)
    try:
        row = wait_until(lambda: next((r for r in table.jobs if r["id"] == sleeper), None), what="the job row")
        assert set(row) == set(tables()["rows"]["job"])  # the side panel's job rows too
        wait_for_status(client, sleeper, {JobStatus.RUNNING})
        refused = request(table, "delete", job_id=sleeper)
        assert refused["ok"] is False and "stop it first" in refused["error"] and "\n" not in refused["error"]
        assert request(table, "logs", job_id=sleeper)["ok"]
        assert {"type": "reset", "stream": sleeper} in [m for _, m in table.sent]
        assert table.log_job == sleeper
        wait_until(lambda: any("sleeping" in m["lines"] for _, m in line_batches(table, sleeper)), what="log lines")
        stopped = request(table, "stop", job_id=sleeper)
        assert stopped["ok"] and stopped["result"] == {"message": f"Stopping {sleeper}"}
        assert wait_terminal(client, sleeper) == JobStatus.STOPPED
        wait_until(lambda: table.log_final, what="the log panel's final line")
        assert table.log_status == "STOPPED" and "STOPPED" in table.log_final
        wait_until(lambda: any(r["id"] == sleeper and r["status"] == "STOPPED" for r in table.jobs), what="refresh")
        held = request(table, "resync", stream=sleeper, from_seq=0)["result"]
        assert "sleeping" in held["lines"]
        assert sleeper in table.snapshot().text
        assert request(table, "delete", job_id=sleeper)["result"] == {"message": f"Deleted {sleeper}"}
        assert request(table, "logs", job_id="raysubmit_nope")["ok"] is False
        assert table.log_job == sleeper  # a failed switch leaves the panel alone
    finally:
        table.close()
        with contextlib.suppress(RayClientError):  # deleted when the test passed
            client.stop_job(sleeper)


class CountingJobsTable(JobsTable):
    """Counts refreshes started and finished (the dashboard calls themselves are real)."""

    def __init__(self, **kwargs: Any) -> None:
        self.started = self.finished = 0
        super().__init__(**kwargs)

    async def _refresh(self) -> None:
        self.started += 1
        try:
            await super()._refresh()
        finally:
            self.finished += 1


def test_polling_pauses_while_invisible_and_stops_on_close(client: RayClient) -> None:
    table = CountingJobsTable(client=client, interval=0.2)
    wait_until(lambda: table.finished >= 2, what="two refreshes")
    table.visible = False
    wait_until(lambda: table.started == table.finished, what="the refresh in flight")
    paused = table.started
    time.sleep(1.5)
    assert table.started == paused
    table.visible = True
    wait_until(lambda: table.finished >= paused + 2, what="polling to resume")
    table.close()
    wait_until(lambda: not table._tasks, timeout=10, what="background work to end")
    closed = table.started
    time.sleep(1.0)
    assert table.started == closed and table.comm is None


def test_unreachable_dashboard_backs_off_with_one_line_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with RayClient(f"http://127.0.0.1:{port}", timeout=5) as dead:
        table = CountingJobsTable(client=dead, interval=0.1)
        try:
            time.sleep(3.0)
            # Without backoff 0.1 s apart: ~30 tries; with it 0.2 + 0.4 + 0.8 + 1.6 s: at most 5.
            assert 1 <= table.started <= 5
            assert "unreachable" in table.error and "retrying in" in table.error and "\n" not in table.error
            assert "retrying in" in table.snapshot().text and table.last_refresh == 0
        finally:
            table.close()


def test_cluster_panel_shows_both_nodes_and_totals(client: RayClient, worker_node) -> None:
    panel = ClusterPanel(client=client)
    try:
        wait_until(lambda: panel.last_refresh and len(panel.nodes) >= 2, what="a refresh with two nodes")
        head = next(n for n in panel.nodes if n["is_head"])
        totals = {n.node_id: n.resources_total for n in client.list_nodes()}
        assert head["state"] == "ALIVE" and head["memory"][1] > 0 and isinstance(head["gpus"], list)
        assert head["cpus"][1] == totals[head["node_id"]]["CPU"]  # Ray's logical CPUs ...
        assert head["host_cpus"] >= 1 and 0 <= head["host_cpu_percent"] <= 100  # ... and the host's, apart
        worker = next(n for n in panel.nodes if n["node_id"] == worker_node.node_id)
        assert worker["cpus"][1] == 1 and worker["resources"]["worker_node"] == [0.0, 1.0]
        used, total = panel.totals["CPU"]
        assert total >= 1 and 0 <= used <= total and isinstance(panel.pending, list)
        text = panel.snapshot().text
        assert "CPU" in text and head["node_id"][:8] in text
        assert demand_text({"shape": {"CPU": 1}, "count": 3}) == "{CPU: 1} × 3"
    finally:
        panel.close()


def test_serve_panel_lists_apps_and_refuses_unknown_delete(client: RayClient) -> None:
    panel = recording(ServePanel)(client=client)
    try:
        wait_until(lambda: panel.last_refresh, what="a refresh")
        assert isinstance(panel.apps, list) and panel.error == ""
        assert request(panel, "refresh")["ok"]
        reply = request(panel, "delete_app", name="raynb_no_such_app")
        assert reply["ok"] is False and "does not exist" in reply["error"]
    finally:
        panel.close()


class _NoServeDashboard(http.server.BaseHTTPRequestHandler):
    """What Ray's dashboard answers on a cluster without ray[serve]."""

    def do_GET(self) -> None:
        body = b'Serve dependencies are not installed. Please run `pip install "ray[serve]"`.'
        self.send_response(501)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_serve_panel_without_serve_shows_one_line_and_backs_off() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoServeDashboard)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with RayClient(f"http://127.0.0.1:{server.server_port}") as no_serve:
            panel = ServePanel(client=no_serve, interval=0.1)
            try:
                error = wait_until(lambda: panel.error, timeout=30, what="the error")
                assert "ray[serve]" in error and "retrying in" in error and "\n" not in error
                assert panel.apps == [] and panel.last_refresh == 0
            finally:
                panel.close()
    finally:
        server.shutdown()
        server.server_close()


def test_dashboard_tabs_share_a_client_and_close_together(client: RayClient) -> None:
    dash = Dashboard(client)
    try:
        assert all(isinstance(c, k) for c, k in zip(dash.children, (ClusterPanel, JobsTable, ServePanel), strict=True))
        assert dash.titles == ("Cluster", "Jobs", "Serve") and all(c.client is client for c in dash.children)
        data = dash._repr_mimebundle_()
        assert WIDGET_MIME in data and "CPU" in data["text/plain"] and "<table" in data["text/html"]
    finally:
        dash.close()
    assert all(c.comm is None and not c._tasks for c in dash.children)


def test_magics_use_the_output_area_without_a_kernel(shell: InteractiveShell, client: RayClient) -> None:
    assert not widgets_available(shell)
    job_id = submit(client, "print('plain path')")
    wait_terminal(client, job_id)
    with capture_output() as cap:
        shell.run_line_magic("ray_logs", f"{job_id} --follow")
    assert all(WIDGET_MIME not in o.data for o in cap.outputs)
    assert "plain path" in cap.outputs[-1].data["text/plain"]
    with pytest.raises(UsageError, match="Jupyter kernel"):
        shell.run_line_magic("ray_dashboard", "")


def test_magics_show_a_log_widget_in_a_kernel(shell: InteractiveShell, client: RayClient) -> None:
    shell.kernel = object()  # what ipykernel's shell has; comms stay ipywidgets' dummy ones
    try:
        assert widgets_available(shell)
        started = time.monotonic()
        with capture_output() as cap:
            shell.run_cell_magic("ray_job", "--out jid", "import time\ntime.sleep(2)\nprint('widget path')\n")
        assert time.monotonic() - started < 30  # returns once submitted, not when the job ends
        data = cap.outputs[-1].data
        view = ipywidgets.widgets.widget._instances[data[WIDGET_MIME]["model_id"]]
        assert isinstance(view, LogView) and view.job_id == shell.user_ns["jid"]
        wait_until(lambda: view.done, what="the job to end")
        assert view.status == "SUCCEEDED" and "widget path" in view.snapshot().text
        view.close()
        with capture_output() as cap:
            shell.run_line_magic("ray_dashboard", "--jobs --out dash")
        assert isinstance(shell.user_ns["dash"], JobsTable) and WIDGET_MIME in cap.outputs[-1].data
        shell.user_ns.pop("dash").close()
        with pytest.raises(UsageError):
            shell.run_line_magic("ray_dashboard", "--jobs --serve")
    finally:
        del shell.kernel


def test_a_real_kernel_streams_the_log_widget_over_its_comm(dashboard_url: str, client: RayClient) -> None:
    """End to end in ipykernel: the magic picks the widget, the loop thread's messages reach
    iopub, and a request sent as a front end would is answered."""
    from jupyter_client.manager import start_new_kernel

    job_id = submit(client, f"for i in range(30):\n    print('kernel line', i)\nprint({EVIL!r})")
    wait_terminal(client, job_id)
    km, kc = start_new_kernel(startup_timeout=120)
    try:
        for code in (f"%load_ext raynb\n%ray_connect {dashboard_url}", f"%ray_logs {job_id} --follow"):
            kc.execute(code)
            assert kc.get_shell_msg(timeout=120)["content"]["status"] == "ok"
        comm_msgs: dict[str, list[dict]] = {}
        model_id, state = None, {}
        while not state.get("done"):
            msg = kc.get_iopub_msg(timeout=120)
            content = msg["content"]
            if msg["msg_type"] == "display_data" and WIDGET_MIME in content["data"]:
                model_id = content["data"][WIDGET_MIME]["model_id"]
                assert EVIL not in content["data"]["text/html"]
            elif msg["msg_type"] == "comm_msg":
                comm_msgs.setdefault(content["comm_id"], []).append(content["data"])
            updates = [d["state"] for d in comm_msgs.get(model_id, []) if d["method"] == "update"]
            state = {k: v for update in updates for k, v in update.items()}
        mine = comm_msgs[model_id]
        lines = [line for d in mine if d["method"] == "custom" for line in d["content"]["lines"]]
        assert "kernel line 29" in lines and EVIL in lines and state["status"] == "SUCCEEDED"
        request_ = {"type": "request", "id": 7, "method": "resync", "args": {"stream": job_id, "from_seq": 0}}
        data = {"method": "custom", "content": request_}
        kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": model_id, "data": data}))
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            reply = msg["content"].get("data", {}).get("content", {})
            if msg["msg_type"] == "comm_msg" and reply.get("id") == 7:
                break
        assert reply["ok"] and reply["result"]["lines"] == lines
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
