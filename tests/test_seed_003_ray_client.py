"""Seed 003 (Ray Client: ``ray.init("ray://...")``) on the test head's Ray Client server.

Each Python example runs as the document writes it, in its own driver process (Ray Client
drivers in the pytest process would clash with other tests), with only its placeholder
addresses made the test head's; what follows its ``#....`` checks what the document
promises. raynb's dashboard client then works beside such a driver.

Not run, with the reason: ``ray start --head`` (the test head is already running and tests
start no other), ``ray up``/``ray attach`` and the two YAML blocks (a cloud cluster launcher
and an Ingress), and the gRPC error text (an error transcript, not code).
"""

from __future__ import annotations

import json
import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_helpers import run_driver, user_driver_env

from raynb.client import RayClient

INTRO = """
# You can run this code outside of the Ray cluster!
import ray

# Starting the Ray client. This connects to a remote Ray cluster.
ray.init("ray://<head_node_host>:10001")

# Normal Ray code follows
@ray.remote
def do_work(x):
    return x ** x

do_work.remote(2)
#....
"""

CLIENT_ARGUMENTS = """
import ray
# Connects to an existing cluster at 1.2.3.4 listening on port 10001, using
# the namespace "my_namespace". The Ray workers will run inside a cluster-side
# copy of the local directory "files/my_project", in a Python environment with
# `toolz` and `requests` installed.
ray.init(
    "ray://1.2.3.4:10001",
    namespace="my_namespace",
    runtime_env={"working_dir": "files/my_project", "pip": ["toolz", "requests"]},
)
#....
"""

PORT_FORWARDED = """
import ray

# This will connect to the cluster via the open SSH session.
ray.init("ray://localhost:10001")

# Normal Ray code follows
@ray.remote
def do_work(x):
    return x ** x

do_work.remote(2)

#....
"""

STEP_3 = """
import ray

# replace with the appropriate host and port
ray.init("ray://<head_node_host>:10001")

# Normal Ray code follows
@ray.remote
def do_work(x):
    return x ** x

do_work.remote(2)

#....
"""

MULTIPLE_CLUSTERS = """
import ray
# Create a default client.
ray.init("ray://<head_node_host_cluster>:10001")

# Connect to other clusters.
cli1 = ray.init("ray://<head_node_host_cluster_1>:10001", allow_multiple=True)
cli2 = ray.init("ray://<head_node_host_cluster_2>:10001", allow_multiple=True)

# Data is put into the default cluster.
obj = ray.put("obj")

with cli1:
    obj1 = ray.put("obj1")

with cli2:
    obj2 = ray.put("obj2")

with cli1:
    assert ray.get(obj1) == "obj1"
    try:
        ray.get(obj2)  # Cross-cluster ops not allowed.
    except:
        print("Failed to get object which doesn't belong to this cluster")

with cli2:
    assert ray.get(obj2) == "obj2"
    try:
        ray.get(obj1)  # Cross-cluster ops not allowed.
    except:
        print("Failed to get object which doesn't belong to this cluster")
assert "obj" == ray.get(obj)
cli1.disconnect()
cli2.disconnect()
"""

DO_WORK_CHECK = 'print("do_work(2) =", ray.get(do_work.remote(2)))\n'


@pytest.fixture(scope="module")
def address(ray_head) -> str:
    if not ray_head.client_address:
        pytest.fail("these tests need the head's Ray Client address: set RAYNB_TEST_RAY_CLIENT")
    return ray_head.client_address


def placed(example: str, address: str) -> str:
    """The example with its placeholder clusters made the test head ('localhost' keeps its
    host and takes the head's port)."""
    port = address.rsplit(":", 1)[1]
    example = example.replace("ray://localhost:10001", f"ray://localhost:{port}")
    return re.sub(r"ray://[^\"/]+:10001", address, example)


def drive(folder: Path, code: str, address: str) -> str:
    """Run ``code`` as a driver script in ``folder``, with the environment its user has for the
    head at ``address`` (its token file, on a head raynb started); its stdout."""
    script = folder / "driver.py"
    script.write_text(code)
    done = run_driver([script.name], cwd=folder, timeout=600, env=user_driver_env(address))
    assert done.returncode == 0, f"the driver failed:\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.mark.parametrize("example", [INTRO, PORT_FORWARDED, STEP_3], ids=["intro", "localhost", "step-3"])
def test_connect_and_run_a_task(example: str, address: str, tmp_path: Path) -> None:
    assert "do_work(2) = 4" in drive(tmp_path, placed(example, address) + DO_WORK_CHECK, address)


@pytest.fixture
def lone_head() -> Iterator[str]:
    """The Ray Client address of a head of its own, with no worker node beside it.

    Worker nodes that the suite starts on this machine share the head's session folder, so
    runtime_resources too: two runtime-env agents then build the same pip environment in one
    folder at once and one sees the other's half-written packages. Nodes of a real cluster
    are separate machines, so the example runs where that cannot happen."""
    from raynb import cluster

    head = cluster.start_local_head(num_cpus=1, object_store_memory=100 * 1024**2)
    try:
        assert head.client_address
        yield head.client_address
    finally:
        cluster.stop_local_head(head)


def test_client_arguments_namespace_working_dir_and_pip(lone_head: str, tmp_path: Path) -> None:
    address = lone_head
    project = tmp_path / "files" / "my_project"
    project.mkdir(parents=True)
    (project / "data.txt").write_text(f"read by a relative path on the cluster {uuid.uuid4()}\n")
    check = textwrap.dedent(
        """
        import json, os
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        head = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"])
        @ray.remote(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False))
        def inside():
            import toolz, requests  # toolz is not in the driver's environment: pip put it there
            return {"namespace": ray.get_runtime_context().namespace, "data": open("data.txt").read(),
                    "cwd": os.getcwd(), "toolz": toolz.__file__}
        print(json.dumps({"driver_namespace": ray.get_runtime_context().namespace, **ray.get(inside.remote())}))
        """
    )
    with pytest.raises(ImportError):
        import toolz  # noqa: F401
    seen = json.loads(drive(tmp_path, placed(CLIENT_ARGUMENTS, address) + check, address).splitlines()[-1])
    assert seen["driver_namespace"] == seen["namespace"] == "my_namespace"
    assert seen["data"] == (project / "data.txt").read_text()
    assert re.search(r"runtime_resources/.*_ray_pkg_[0-9a-f]+$", seen["cwd"])  # the "Uploads" section
    assert "runtime_resources/pip/" in seen["toolz"]


def test_connect_to_multiple_clusters(address: str, tmp_path: Path) -> None:
    out = drive(tmp_path, placed(MULTIPLE_CLUSTERS, address), address)
    assert out.splitlines().count("Failed to get object which doesn't belong to this cluster") == 2


def test_raynb_beside_a_ray_client_driver(address: str, dashboard_url: str, tmp_path: Path) -> None:
    """After ``ray.init("ray://...")``, raynb's dashboard client sees what the driver made."""
    code = textwrap.dedent(
        f"""
        import json, ray
        from raynb.client import RayClient

        ray.init({address!r}, namespace="raynb_beside")

        @ray.remote(num_cpus=0)
        class Counter:
            def ping(self):
                return "pong"

        counter = Counter.options(name="raynb_beside_counter").remote()
        assert ray.get(counter.ping.remote()) == "pong"
        job_id = ray.get_runtime_context().get_job_id()
        with RayClient({dashboard_url!r}) as dashboard:
            job = dashboard.get_job(job_id)
            actors = dashboard.list_actors(filters={{"job_id": job_id}})
        print(json.dumps({{"job_id": job_id, "type": job["type"], "status": job["status"],
                          "actors": [[a["name"], a["state"], a["ray_namespace"]] for a in actors]}}))
        """
    )
    seen = json.loads(drive(tmp_path, code, address).splitlines()[-1])
    assert seen["type"] == "DRIVER" and seen["status"] == "RUNNING"
    assert seen["actors"] == [["raynb_beside_counter", "ALIVE", "raynb_beside"]]
    with RayClient(dashboard_url) as dashboard:  # and from here, once the driver is gone
        assert dashboard.get_job(seen["job_id"])["type"] == "DRIVER"  # ends when Ray's client server does
        assert [a.name for a in dashboard.list_actors(filters={"job_id": seen["job_id"]})] == [
            "raynb_beside_counter"
        ]
