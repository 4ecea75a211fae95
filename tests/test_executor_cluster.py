"""Executors on a real cluster of several nodes: custom resources place work, the progress hub
stays on the head, infeasible work is refused at once, one process drives one cluster, a node
whose Python lacks raynb still runs actions (raynb is shipped), and a job's Python that lacks
pydantic says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from conftest import join_worker
from ray_helpers import run_driver

from raynb import cluster
from raynb.client import RayClient
from raynb.errors import ExecutionError, ExecutorConfigError
from raynb.executors import RayActorExecutor, RayJobExecutor, RayJobsApiExecutor


WHERE = "where_actions:WhereAmI"  # in the working_dir below, so every executor imports the same code


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("where")
    (folder / "where_actions.py").write_text(textwrap.dedent("""
        from raynb.actions import Action

        class WhereAmI(Action):
            def execute(self):
                import ray
                return {"node": ray.get_runtime_context().get_node_id()}
    """))
    return str(folder)


def test_custom_resources_place_the_work_and_the_hub_stays_on_the_head(
    connected: None, worker_node, client: RayClient, workdir: str
) -> None:
    place = {"resources": {"worker_node": 1}, "num_cpus": 0.1, "show_progress": False, "working_dir": workdir}
    with RayActorExecutor(**place) as actor:
        assert actor.execute(WHERE)["node"] == worker_node.node_id
        hubs = client.list_actors(filters={"name": actor._hub_name}, detail=True)
        head = next(n.node_id for n in client.list_nodes() if n.is_head_node and n.alive)
        assert [h.node_id for h in hubs] == [head]  # a worker node that dies takes no progress along
    with RayJobExecutor(**place) as tasks:
        assert tasks.get_result(tasks.submit(WHERE), timeout=300)["node"] == worker_node.node_id
    api = RayJobsApiExecutor(client.address, resources={"worker_node": 1}, show_progress=False, working_dir=workdir)
    job_id = api.submit(WHERE)
    api.get_result(job_id, timeout=300)  # (a driver's own ray.init may attach to either raylet of 127.0.0.1)
    assert client.get_job(job_id).driver_node_id == worker_node.node_id


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"num_cpus": 64}, "infeasible: asks for 64 CPU, the largest node has "),
        ({"resources": {"no_such_accelerator": 1}}, "infeasible: asks for no_such_accelerator: 1, and no node has"),
    ],
)
def test_work_no_node_can_run_is_refused_at_once(
    connected: None, client: RayClient, workdir: str, options, reason
) -> None:
    options = {**options, "working_dir": workdir}
    for executor in (RayActorExecutor(**options), RayJobExecutor(**options), RayJobsApiExecutor(client.address, **options)):
        with pytest.raises(ExecutionError, match=reason) as err:
            if isinstance(executor, RayActorExecutor):
                executor.execute(WHERE)
            else:
                executor.submit(WHERE)
        assert err.value.error_type == "Infeasible" and "nothing was sent" in str(err.value)


def test_an_executor_for_another_cluster_is_refused_naming_both(connected: None, ray_head, workdir: str) -> None:
    with pytest.raises(ExecutorConfigError) as err:
        RayActorExecutor(ray_address="ray://127.0.0.1:1", working_dir=workdir).execute(WHERE)
    message = str(err.value)
    assert "ray://127.0.0.1:1" in message and "already drives the Ray cluster at" in message
    assert "\n" not in message
    # The same cluster by another spelling is fine.
    gcs_port = ray_head.gcs_address.rsplit(":", 1)[1]
    with RayActorExecutor(ray_address=f"localhost:{gcs_port}", num_cpus=0.1, working_dir=workdir) as same:
        assert same.execute(WHERE)["node"]


def test_a_runtime_env_that_fails_says_why_in_one_line(connected: None, client: RayClient, workdir: str) -> None:
    broken = {"runtime_env": {"pip": ["raynb-no-such-package-xyz"]}, "show_progress": False, "working_dir": workdir}
    with pytest.raises(ExecutionError) as err, RayActorExecutor(num_cpus=0.1, **broken) as actor:
        actor.execute(WHERE, timeout=600)
    assert "raynb-no-such-package-xyz" in err.value.message and "\n" not in str(err.value)
    assert not err.value.message.startswith("Failed to set up runtime environment")  # Ray's preamble
    api = RayJobsApiExecutor(client.address, **broken)
    with pytest.raises(ExecutionError) as err:
        api.get_result(api.submit(WHERE), timeout=600)
    assert "raynb-no-such-package-xyz" in err.value.message and "\n" not in str(err.value)


# -- a node whose Python lacks raynb ------------------------------------------------------------


@pytest.fixture(scope="module")
def pythons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two interpreters like a cluster's own: 'noraynb' has Ray and pydantic but not raynb (the
    test venv's packages, without its editable raynb); 'empty' has the standard library only."""
    root = tmp_path_factory.mktemp("pythons")
    made = {}
    for name in ("noraynb", "empty"):
        subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(root / name)], check=True)
        made[name] = root / name / "bin" / "python"
    site = next((root / "noraynb" / "lib").glob("python3*/site-packages"))
    (site / "test-venv-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # no .pth inside runs
    check = "import importlib.util as u; print([bool(u.find_spec(m)) for m in ('ray', 'pydantic', 'raynb')])"
    for name, expected in (("noraynb", "[True, True, False]"), ("empty", "[False, False, False]")):
        got = subprocess.run([str(made[name]), "-c", check], capture_output=True, text=True, cwd=root, check=True)
        assert got.stdout.strip() == expected, (name, got.stdout, got.stderr)
    return made


@pytest.fixture(scope="module")
def bare_node(ray_head, pythons):
    """A node whose workers and job drivers run the 'noraynb' Python."""
    path = f"{pythons['noraynb'].parent}{os.pathsep}{os.environ['PATH']}"
    node = join_worker(ray_head, "bare_node", python=str(pythons["noraynb"]), env={"PATH": path})
    yield node
    cluster.stop_local_worker(node.worker)


BARE_DRIVER = """
import json, sys
from raynb.actions import Action
from raynb.errors import ExecutionError
from raynb.executors import RayActorExecutor, RayJobExecutor, RayJobsApiExecutor

class Where(Action):
    def execute(self):
        import ray, raynb
        return {"node": ray.get_runtime_context().get_node_id(), "raynb": raynb.__file__}

address, dashboard, empty_bin = sys.argv[1:]
bare = {"resources": {"bare_node": 1}, "show_progress": False}
out = {}
with RayActorExecutor(ray_address=address, num_cpus=0.1, **bare) as actor:
    out["actor"] = actor.execute(Where)
with RayJobExecutor(ray_address=address, num_cpus=0.1, **bare) as tasks:
    out["task"] = tasks.get_result(tasks.submit(Where), timeout=300)
try:
    with RayActorExecutor(ray_address=address, num_cpus=0.1, include_sdk=False, **bare) as actor:
        actor.execute(Where, timeout=300)
except ExecutionError as exc:
    out["actor_unshipped"] = str(exc)
api = RayJobsApiExecutor(dashboard, **bare)
job_id = api.submit(Where)
out["job"] = {**api.get_result(job_id, timeout=300), "id": job_id}
for name, options in (("job_unshipped", {"include_sdk": False}),
                      ("job_no_pydantic", {"env": {"PATH": empty_bin + ":/usr/bin:/bin"}})):
    other = RayJobsApiExecutor(dashboard, **bare, **options)
    try:
        other.get_result(other.submit(Where), timeout=300)
    except ExecutionError as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""


def test_a_node_without_raynb_runs_actions_by_default(bare_node, ray_head, pythons, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    # The driver runs away from raynb's source folder: Ray adds a driver's folder to its workers' path.
    done = run_driver(["-c", textwrap.dedent(BARE_DRIVER), ray_head.gcs_address, ray_head.dashboard_url,
                       str(pythons["empty"].parent)], cwd=tmp_path, env=env, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for kind in ("actor", "task", "job"):
        assert "runtime_resources" in out[kind]["raynb"], out  # the shipped raynb, not an installed one
    assert out["actor"]["node"] == out["task"]["node"] == bare_node.node_id
    with RayClient(ray_head.dashboard_url) as client:  # (a driver's own ray.init may attach to either raylet)
        assert client.get_job(out["job"]["id"]).driver_node_id == bare_node.node_id
    for kind in ("actor_unshipped", "job_unshipped"):
        assert "the cluster's Python has no raynb" in out[kind] and "include_sdk" in out[kind], out
    no_pydantic = out["job_no_pydantic"]
    assert "MissingDependency" in no_pydantic and "has no pydantic" in no_pydantic, out
    assert str(pythons["empty"].parent) in no_pydantic and "\n" not in no_pydantic
