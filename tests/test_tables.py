"""raynb/tables.json, the one source of the tables Python and the js/ build share: a snapshot
and the widgets colour every status alike, the enums end where the table says, the version and
the pipeline service's port are written once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import raynb
from raynb import tables
from raynb.client.models import ClusterStatus, Job, JobStatus, Node, ResourceUsage, ServeApplication, ServeStatus
from raynb.pipeline.models import RunStatus
from raynb.render import cluster_card, job_table, node_table, serve_table, status_html

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "js"
_CHIP = re.compile(r'class="(raynb-chip-\w+)"')


def _chips(html: str) -> list[str]:
    return _CHIP.findall(html)


@pytest.fixture(scope="module")
def widget_classes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The chip class of every status as the widgets' own code renders it (js/test/statuses.test.ts
    mounts JobsTable, ClusterPanel, PipelineProgress and ServePanel in jsdom)."""
    vitest = JS / "node_modules" / ".bin" / "vitest"
    if not vitest.exists() or shutil.which("node") is None:
        pytest.skip("js/node_modules is not installed (cd js && npm ci)")
    out = tmp_path_factory.mktemp("statuses") / "classes.json"
    proc = subprocess.run(
        [str(vitest), "run", "test/statuses.test.ts"], cwd=JS, capture_output=True, text=True, timeout=300,
        env={**os.environ, "RAYNB_STATUS_CLASSES": str(out), "CI": "true", "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_every_status_has_the_same_colour_class_in_a_snapshot_and_in_the_widgets(
    widget_classes: dict[str, dict[str, str]],
) -> None:
    found = widget_classes
    # Every status of both tables, plus some the tables reach by prefix or word only.
    assert set(tables.STATUSES) | set(tables.SERVE_STATUSES) <= set(found["statuses"]) == set(found["serve_statuses"])
    for status, js_class in found["statuses"].items():
        node = Node.from_dict({"node_id": "n" * 56, "node_ip": "10.0.0.1", "state": status})
        snapshot = _chips(node_table([node]).html)
        if status in JobStatus.__members__:
            snapshot += _chips(job_table([Job.from_dict({"submission_id": "raysubmit_1", "status": status})]).html)
        snapshot.append(_chips(status_html(status))[0])
        assert snapshot and set(snapshot) == {js_class}, status
    for status, js_class in found["serve_statuses"].items():
        snapshot = _chips(status_html(status, serve=True))
        if status in ServeStatus.__members__:  # an application's status, as %ray_serve shows it
            snapshot += _chips(serve_table([ServeApplication.from_dict({"name": "app", "status": status})]).html)
        assert set(snapshot) == {js_class}, status
    # Serve's RUNNING is an application that is up (green); a job's RUNNING is work going on (blue).
    assert found["serve_statuses"]["RUNNING"] == "raynb-chip-ok" != found["statuses"]["RUNNING"]


def test_snapshot_colours_come_from_the_table() -> None:
    for status, kind in tables.STATUSES.items():
        html = status_html(status)
        assert f'class="raynb-chip-{kind}"' in html and f"color:{tables.KIND_COLORS[kind]};" in html, status
    assert f"color:{tables.KIND_COLORS['ok']};" in status_html(ServeStatus.RUNNING)  # a ServeStatus is a Serve one
    assert tables.status_kind("running") == "run" and tables.status_kind("Running", serve=True) == "ok"
    assert tables.status_kind(None) == tables.status_kind("") == "idle"


def test_terminal_statuses_come_from_the_table() -> None:
    assert [s.value for s in JobStatus if s is not JobStatus.UNKNOWN] == list(tables.JOB_STATUSES)
    assert {s.value for s in JobStatus if s.is_terminal()} == tables.JOB_TERMINAL == {"STOPPED", "SUCCEEDED", "FAILED"}
    assert {s.value for s in RunStatus if s.is_terminal()} == tables.PIPELINE_TERMINAL
    assert tables.PIPELINE_TERMINAL == {"COMPLETED", "FAILED", "CANCELLED"}
    assert {s.value for s in ServeStatus if s.is_terminal()} == tables.SERVE_SETTLED
    assert tables.SERVE_SETTLED == {"RUNNING", "DEPLOY_FAILED", "NOT_STARTED"}


def test_resource_labels_come_from_the_table() -> None:
    usage = {name: ResourceUsage(used=1.0, total=2.0) for name in ("memory", "GPU", "object_store_memory", "CPU", "x")}
    status = ClusterStatus(raw={}, nodes_alive=1, nodes_dead=0, resources=usage, pending_demand=[], text="")
    labels = [line.split()[0] for line in cluster_card(status).text.splitlines()[2:7]]
    assert labels == ["CPU", "GPU", "memory", "object", "x"]  # the table's order, then the rest
    assert tables.RESOURCE_LABELS["object_store_memory"] == "object store"
    assert tables.BYTE_RESOURCES == {"memory", "object_store_memory"}


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "raynb/_version.py"
    for name in ("package.json", "package-lock.json"):  # js/build.mjs refuses to build when they differ
        assert json.loads((JS / name).read_text())["version"] == raynb.__version__, name
    stray = [
        str(p.relative_to(ROOT)) for p in (ROOT / "raynb").rglob("*.py")
        if p.name != "_version.py" and re.search(r"^__version__ = ", p.read_text(), re.M)
    ]  # fmt: skip
    assert not stray


def test_the_pipeline_service_port_is_written_once() -> None:
    import inspect

    from raynb.executors.pipeline import RayPipelineExecutor
    from raynb.pipeline import DEFAULT_PORT, DEFAULT_URL
    from raynb.pipeline.embedded import _endpoint

    assert DEFAULT_URL == f"http://localhost:{DEFAULT_PORT}"
    assert inspect.signature(RayPipelineExecutor).parameters["pipeline_service_url"].default == DEFAULT_URL
    assert _endpoint("http://localhost") == ("127.0.0.1", DEFAULT_PORT)
    stray = [str(p.relative_to(ROOT)) for p in (ROOT / "raynb").rglob("*.py") if str(DEFAULT_PORT) in p.read_text()]
    assert stray == ["raynb/pipeline/__init__.py"]


def _is(value: object, spelt: str) -> bool:
    """Whether ``value`` (JSON-able) has the TypeScript type ``spelt`` of a row field."""
    rows = tables.tables()["rows"]
    spelt = spelt.strip()
    if "|" in spelt:
        return any(_is(value, part) for part in spelt.split("|"))
    if spelt.endswith("Row[]"):  # another row of the table, e.g. GpuRow[] -> "gpu"
        name = re.sub(r"(?<!^)([A-Z])", r"_\1", spelt[: -len("Row[]")]).lower()
        return isinstance(value, list) and all(_row_ok(item, rows[name]) for item in value)
    if spelt == "[number, number]":
        return isinstance(value, list) and len(value) == 2 and all(_is(v, "number") for v in value)
    if spelt.startswith("Record<string, "):
        inner = spelt[len("Record<string, ") : -1]
        return isinstance(value, dict) and all(isinstance(k, str) and _is(v, inner) for k, v in value.items())
    kinds = {"string": str, "boolean": bool, "null": type(None)}
    if spelt == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kinds[spelt])


def _row_ok(row: object, fields: dict[str, str]) -> bool:
    return isinstance(row, dict) and set(row) == set(fields) and all(_is(row[k], t) for k, t in fields.items())


def test_rows_have_the_tables_fields_and_types() -> None:
    from raynb.client.models import NodeStats
    from raynb.rows import job_row, node_rows, serve_app_row
    from raynb.server import payload
    from raynb.widgets.jobs import job_row as widget_job_row
    from raynb.widgets.serve import app_row

    rows = tables.tables()["rows"]
    jobs = [
        Job.from_dict({"submission_id": "raysubmit_1", "job_id": "01000000", "type": "SUBMISSION", "status": "FAILED",
                       "entrypoint": "python x.py " * 500, "message": "boom", "start_time": 1, "end_time": 2,
                       "driver_exit_code": 1}),
        Job.from_dict({"job_id": "02000000", "type": "DRIVER", "status": "RUNNING"}),
    ]  # fmt: skip
    for job in jobs:
        row = job_row(job)
        assert _row_ok(row, rows["job"]), row
        assert payload.job(job) == widget_job_row(job) == row  # the panel and the widget: one shape
    apps = [
        ServeApplication.from_dict({"name": "app", "status": "RUNNING", "route_prefix": "/", "message": "",
                                    "last_deployed_time_s": 1.5, "deployments": {"D": {"name": "D", "status": "HEALTHY",
                                                                                       "replicas": [{}, {}]}}}),
        ServeApplication.from_dict({"name": "bare", "status": "DEPLOYING"}),
    ]  # fmt: skip
    for app in apps:
        row = serve_app_row(app)
        assert _row_ok(row, rows["serve_app"]), row
        assert payload.serve_app(app) == app_row(app) == row
    status = ClusterStatus(raw={}, nodes_alive=1, nodes_dead=1, pending_demand=[], text="",
                           resources={"CPU": ResourceUsage(1, 2)}, usage_by_node={"a": {"CPU": ResourceUsage(1, 2)}})
    nodes = [Node.from_dict({"node_id": "a", "node_ip": "10.0.0.1", "is_head_node": True, "state": "ALIVE",
                             "resources_total": {"CPU": 2, "node:10.0.0.1": 1}}),
             Node.from_dict({"node_id": "b", "node_ip": "10.0.0.2", "state": "DEAD"})]
    stats = [NodeStats(raw={}, node_id="a", hostname="h", ip="10.0.0.1", is_head_node=True, state="ALIVE",
                       cpu_percent=12.5, num_cpus=8, memory_used=1, memory_total=2, object_store_used=0,
                       object_store_total=4, gpus=[{"name": "A100", "utilizationGpu": 50, "memoryUsed": 1,
                                                    "memoryTotal": 2}])]
    found = node_rows(status, nodes, stats)  # fmt: skip
    assert len(found) == 2 and all(_row_ok(row, rows["node"]) for row in found), found


def test_the_front_ends_row_types_have_the_tables_fields() -> None:
    """js/src/lib/rows.ts compiles only while its interfaces have the fields of tables.json's rows."""
    tsc = JS / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        pytest.skip("js/node_modules is not installed (cd js && npm ci)")
    flags = ["--noEmit", "--strict", "--resolveJsonModule", "--module", "esnext", "--moduleResolution", "bundler",
             "--target", "es2020", "--skipLibCheck", "--verbatimModuleSyntax", "--types", "node"]  # fmt: skip
    proc = subprocess.run([str(tsc), *flags, "src/lib/rows.ts"], cwd=JS, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
