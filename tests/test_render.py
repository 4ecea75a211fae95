"""raynb.render: HTML + text/plain renderings, formatting helpers, escaping of cluster data."""

from __future__ import annotations

import html
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from raynb.ansi import strip_ansi
from raynb.client.models import (
    Actor,
    ClusterStatus,
    Job,
    ListResult,
    Node,
    ServeApplication,
    ServeStatus,
    Task,
    Version,
)
from raynb.render import (
    Rendered,
    actor_table,
    cluster_card,
    human_bytes,
    human_duration,
    job_card,
    job_message,
    job_table,
    local_time,
    node_table,
    relative_time,
    serve_table,
    status_html,
    task_table,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
GiB = 1024**3


def job(**overrides: Any) -> Job:
    raw = {
        "submission_id": "raysubmit_abc123",
        "job_id": "02000000",
        "type": "SUBMISSION",
        "status": "SUCCEEDED",
        "entrypoint": "python train.py",
        "message": "Job finished successfully.",
        "start_time": NOW_MS - 125_000,
        "end_time": NOW_MS - 5_000,
        "metadata": {"owner": "ada"},
        "runtime_env": {"working_dir": "gcs://_ray_pkg_1.zip", "env_vars": {"TOKEN": "s3cr3t"}},
        "driver_node_id": "a" * 56,
        "driver_exit_code": 0,
    }
    return Job.from_dict({**raw, **overrides})


def cluster(**load: Any) -> ClusterStatus:
    report = {
        # the dashboard camelCases the usage table's keys; nodeTypes keep the names as written
        "usage": {"CPU": [2.0, 4.0], "memory": [1.5 * GiB, 8 * GiB], "objectStoreMemory": [0.0, 2 * GiB]},
        "nodeTypes": [[{"object_store_memory": 2 * GiB, "CPU": 4.0}, 1]],
        "resourceDemand": [[{"CPU": 1.0}, 3]],
        **load,
    }
    return ClusterStatus.from_dict(
        {"clusterStatus": {"loadMetricsReport": report}, "nodes_alive": 2, "nodes_dead": 1}
    )


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (int(3.2 * GiB), "3.2 GiB"),
     (5 * 1024**4, "5.0 TiB"), (1024**2 - 1, "1.0 MiB"), (None, "")],
)
def test_human_bytes(n: Any, expected: str) -> None:
    assert human_bytes(n) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.85, "850 ms"), (12.34, "12.3 s"), (245, "4 min 5 s"), (59.97, "1 min 0 s"),
     (2 * 3600 + 3 * 60 + 10, "2 h 3 min"), (3 * 86400 + 4 * 3600, "3 d 4 h"), (None, "")],
)
def test_human_duration(seconds: Any, expected: str) -> None:
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(timedelta(seconds=3), "just now"), (timedelta(seconds=42), "42 s ago"),
     (timedelta(minutes=2, seconds=30), "2 min ago"), (timedelta(hours=3, minutes=59), "3 h ago"),
     (timedelta(days=5), "5 d ago"), (timedelta(minutes=-2), "in 2 min")],
)
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, now=NOW) == expected
    assert relative_time(int((NOW - delta).timestamp() * 1000), now=NOW) == expected


def test_relative_and_local_time_unknown() -> None:
    assert relative_time(None) == relative_time(0) == local_time(None) == ""


def test_local_time_uses_local_timezone() -> None:
    expected = datetime.fromtimestamp(NOW_MS / 1000).strftime("%Y-%m-%d %H:%M:%S")
    assert local_time(NOW_MS) == local_time(NOW) == expected


def test_status_chip_colors() -> None:
    green, blue, amber, red, grey = "#1f9e54", "#3884e6", "#d68c10", "#e14141", "#808080"
    for status, color in [("SUCCEEDED", green), ("RUNNING", blue), ("PENDING", amber), ("FAILED", red),
                          ("STOPPED", grey), ("ALIVE", green), ("DEAD", red), ("FINISHED", green),
                          ("PENDING_NODE_ASSIGNMENT", amber), ("RUNNING_IN_RAY_GET", blue)]:
        assert f"color:{color};" in status_html(status), status
    assert f"color:{green};" in status_html(ServeStatus.RUNNING)
    assert f"color:{amber};" in status_html(ServeStatus.DEPLOYING)
    assert f"color:{red};" in status_html(ServeStatus.DEPLOY_FAILED)
    assert f"color:{red};" in status_html("UNHEALTHY", serve=True)
    assert status_html(None) == ""


def test_rendered_protocols() -> None:
    r = Rendered("<b>x</b>", "x")
    assert r._repr_mimebundle_() == {"text/html": "<b>x</b>", "text/plain": "x"}
    assert r._repr_html_() == "<b>x</b>" and str(r) == "x"


# --- tables and cards -------------------------------------------------------------------------


def test_job_table() -> None:
    long_entry = "python train.py " + "--flag " * 30
    jobs = [job(), job(submission_id="raysubmit_run", status="RUNNING", end_time=None, entrypoint=long_entry)]
    r = job_table(jobs, now=NOW)
    assert r.html.count("<tr>") == 3 and 'class="raynb-table"' in r.html
    assert "raysubmit_abc123" in r.html and "2 min ago" in r.html
    assert f'title="{local_time(NOW_MS - 125_000)}"' in r.html
    assert "2 min 0 s" in r.html and "2 min 5 s" in r.html  # running: measured up to `now`
    assert f'title="{long_entry}"' in r.html  # full entrypoint in the tooltip
    lines = r.text.splitlines()
    assert lines[0].split() == ["id", "status", "started", "duration", "entrypoint", "message"]
    col = lines[0].index("status")
    assert lines[2][col:].startswith("SUCCEEDED") and lines[3][col:].startswith("RUNNING")
    assert all(len(line) <= 160 for line in lines) and "…" in lines[3]
    assert "<" not in r.text and "\x1b" not in r.text


def test_job_table_truncation_footer_and_empty() -> None:
    r = job_table(ListResult([job()], total=50))
    assert r.text.endswith("showing 1 of 50 matching rows: raise the limit to see more")
    assert "showing 1 of 50" in r.html
    assert "showing" not in job_table(ListResult([job()], total=1)).text
    assert "showing 1 of 7" in job_table(ListResult([job()], total=50, num_filtered=7)).text
    assert job_table([job()], total=3).text.endswith("showing 1 of 3 jobs: raise --limit to see more")
    assert "showing" not in job_table([job()], total=1).text
    empty = job_table([])
    assert empty.text == "No jobs." and "No jobs." in empty.html


# A failed job's message as Ray writes it: its first sentence, then the log's end again.
RAY_FAILED = ("Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\n"
              "Running entrypoint for job raysubmit_abc123: python train.py\n\x1b[31mTraceback\x1b[0m\nboom\n")


@pytest.mark.parametrize(
    ("message", "line"),
    [(RAY_FAILED, "Job entrypoint command failed with exit code 1"),
     ("Job entrypoint command failed with exit code 2. No logs available.",
      "Job entrypoint command failed with exit code 2. No logs available."),
     ("Failed to start supervisor actor x: 'boom'. Full traceback:\nTraceback (most recent call last):\n  a\n",
      "Failed to start supervisor actor x: 'boom'."),
     ("Traceback (most recent call last):\n  File \"a.py\", line 1\nRuntimeError: no GPU\n", "RuntimeError: no GPU"),
     ("Job finished successfully.", "Job finished successfully."), ("", ""), (None, "")],
)
def test_job_message_is_rays_first_sentence(message: str | None, line: str) -> None:
    assert job_message(message) == line


def test_job_table_shows_a_failed_jobs_message_without_its_log() -> None:
    r = job_table([job(status="FAILED", message=RAY_FAILED)], now=NOW)
    assert r.text.splitlines()[2].endswith("  Job entrypoint command failed with exit…")  # 40 wide
    assert "<td>Job entrypoint command failed with exit code 1</td>" in r.html  # 60 wide
    assert "boom" not in r.html and "boom" not in r.text and "last available logs" not in r.html


def test_job_card_shows_every_field() -> None:
    j = job(status="FAILED", message=RAY_FAILED, error_type="JOB_ENTRYPOINT_COMMAND_ERROR",
            driver_exit_code=1, runtime_env={"pip": {"packages": ["numpy"]}, "env_vars": {"TOKEN": "s3cr3t"},
                                             "_ray_commit": "x"})
    r = job_card(j, now=NOW)
    for needle in ("raysubmit_abc123", "02000000", "SUBMISSION", "FAILED", "python train.py",
                   local_time(NOW_MS - 125_000), "2 min ago", "just now", "2 min 0 s", "JOB_ENTRYPOINT",
                   "owner=ada", "pip: numpy", "env_vars: TOKEN", "a" * 56):
        assert needle in r.text and needle in r.html, needle
    assert "s3cr3t" not in r.text and "s3cr3t" not in r.html and "_ray_commit" not in r.text
    message = [line for line in r.text.splitlines() if line.lstrip().startswith("message")]
    assert message == ["  message           Job entrypoint command failed with exit code 1"]
    assert "boom" not in r.text and "boom" not in r.html and "Traceback" not in r.html


def test_node_table() -> None:
    nodes = [Node.from_dict({"node_id": "f" * 56, "node_ip": "10.0.0.1", "is_head_node": True, "state": "ALIVE",
                             "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8 * GiB,
                                                 "object_store_memory": 2 * GiB}})]
    r = node_table(nodes)
    assert f'title="{"f" * 56}"' in r.html and ">ffffffff<" in r.html
    row = r.text.splitlines()[2].split()
    assert row == ["ffffffff", "10.0.0.1", "head", "ALIVE", "4", "1", "8.0", "GiB", "2.0", "GiB"]
    assert node_table([]).text == "No nodes."


def test_task_actor_serve_tables() -> None:
    t = Task.from_dict({"task_id": "1" * 48, "name": "f", "state": "FAILED", "type": "NORMAL_TASK",
                        "job_id": "02000000", "node_id": "2" * 56, "error_type": "TASK_EXECUTION_EXCEPTION"})
    assert task_table([t]).text.splitlines()[2].split() == [
        "11111111", "f", "FAILED", "NORMAL_TASK", "02000000", "22222222", "TASK_EXECUTION_EXCEPTION"]
    a = Actor.from_dict({"actor_id": "3" * 32, "class_name": "Counter", "name": "c", "state": "ALIVE",
                         "pid": 4242, "job_id": "02000000", "node_id": "4" * 56})
    assert actor_table([a]).text.splitlines()[2].split() == [
        "33333333", "Counter", "c", "ALIVE", "4242", "02000000", "44444444"]
    app = ServeApplication.from_dict({"name": "app", "status": "RUNNING", "route_prefix": "/api",
                                      "deployments": {"A": {}, "B": {}}, "message": "",
                                      "last_deployed_time_s": NOW.timestamp() - 300})
    r = serve_table([app], now=NOW)
    assert r.text.splitlines()[2].split() == ["app", "RUNNING", "/api", "2:", "A,", "B", "5", "min", "ago"]
    assert "color:#1f9e54;" in r.html  # Serve RUNNING is green
    assert task_table([]).text == "No tasks." and actor_table([]).text == "No actors."
    assert serve_table([]).text == "No Serve applications."


def test_cluster_card() -> None:
    r = cluster_card(cluster(), Version.from_dict({"ray_version": "2.40.0"}), "http://127.0.0.1:8265")
    assert '<a href="http://127.0.0.1:8265" target="_blank"' in r.html
    assert "2.40.0" in r.text and "2 alive, 1 dead" in r.text
    assert "width:50.0%" in r.html and "2 / 4 (50%)" in r.text
    assert "1.5 GiB / 8.0 GiB (19%)" in r.text and "0 B / 2.0 GiB (0%)" in r.text
    assert "[##########..........]" in r.text and "{CPU: 1} × 3" in r.text
    labels = [line.split()[0] for line in r.text.splitlines()[1:]]
    assert labels[labels.index("CPU"):labels.index("CPU") + 3] == ["CPU", "memory", "object"]
    idle = cluster_card(cluster(resourceDemand=[]))
    assert "pending" in idle.text and idle.text.rstrip().endswith("none") and "<a " not in idle.html


@pytest.mark.parametrize("address", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "http:"])
def test_dashboard_link_only_for_http(address: str) -> None:
    r = cluster_card(cluster(), address=address)
    assert "<a " not in r.html and "href" not in r.html


def test_thousand_jobs_render() -> None:
    jobs = [job(submission_id=f"raysubmit_{i}", start_time=NOW_MS - i * 1000) for i in range(1000)]
    r = job_table(ListResult(jobs, total=5000), now=NOW)
    assert r.html.count("<tr>") == 1001 and len(r.text.splitlines()) == 1003


def test_import_is_light() -> None:
    heavy = "{'ray', 'ipywidgets', 'IPython', 'anywidget'}"
    code = f"import sys, raynb.render; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- escaping of hostile cluster data ---------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "<img src=x onerror=alert(1)>",
    "' onfocus='alert(1)",
    "\x1b[31m<script>alert(2)</script>\x1b]0;<img src=x>\x07",
]
ALLOWED_TAGS = {"style", "table", "caption", "thead", "tbody", "tr", "th", "td", "span", "div", "pre", "br", "a"}
ALLOWED_ATTRS = {"style", "class", "title", "href", "target", "rel"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if name not in ALLOWED_ATTRS:
                self.problems.append(f"attribute {name}={value!r}")
            if name == "href" and not (value or "").startswith(("http://", "https://")):
                self.problems.append(f"href {value!r}")


def _assert_safe(r: Rendered) -> None:
    audit = _Audit()
    audit.feed(r.html)
    assert audit.problems == []
    lowered = r.html.lower()
    for bad in ("<script", "<img", 'onmouseover="', "onfocus='", "\x1b", "\x07"):
        assert bad not in lowered, bad
    assert "\x1b" not in r.text and "\x07" not in r.text


@pytest.mark.parametrize("p", PAYLOADS)
def test_hostile_strings_are_escaped_everywhere(p: str) -> None:
    j = Job.from_dict({
        "submission_id": p, "job_id": p, "type": p, "status": p, "entrypoint": p, "message": p,
        "error_type": p, "start_time": NOW_MS, "end_time": None, "metadata": {p: p},
        "runtime_env": {p: p, "pip": [p], "env_vars": {p: p}}, "driver_node_id": p, "driver_exit_code": p,
    })
    for r in (job_table([j], now=NOW), job_card(j, now=NOW),
              job_table(ListResult([j], total=9, partial_failure_warning=p))):
        _assert_safe(r)
    node = Node.from_dict({"node_id": p, "node_ip": p, "node_name": p, "is_head_node": False, "state": p,
                           "state_message": p, "resources_total": {"CPU": p, "memory": p, p: p}, "labels": {p: p}})
    task = Task.from_dict({k: p for k in ("task_id", "name", "state", "job_id", "actor_id", "type",
                                          "func_or_class_name", "node_id", "worker_id", "error_type",
                                          "error_message")})
    actor = Actor.from_dict({**{k: p for k in ("actor_id", "class_name", "name", "state", "job_id", "node_id",
                                               "ray_namespace", "repr_name")}, "pid": p})
    app = ServeApplication.from_dict({"name": p, "route_prefix": p, "status": p, "message": p,
                                      "last_deployed_time_s": NOW.timestamp(), "deployments": {p: {}}})
    status = ClusterStatus.from_dict({"clusterStatus": {"loadMetricsReport": {
        "usage": {p: [1, 2], "CPU": [1, 4]}, "resourceDemand": [[{p: p}, p]], "pgDemand": [[p, 1]]}}})
    for r in (node_table([node]), task_table([task]), actor_table([actor]), serve_table([app], now=NOW),
              cluster_card(status, Version.from_dict({"ray_version": p}), p),
              cluster_card(status, address=f"http://x/{p}")):
        _assert_safe(r)
    assert html.escape(" ".join(strip_ansi(p).split()), quote=True) in job_card(j).html  # shown, as text
