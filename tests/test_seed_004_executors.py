"""Seed 004 (Ray Execution): the examples of RayActorExecutor, RayJobExecutor, RayJobsApiExecutor
and the common configuration, each as the document writes it, on the real test head.

Changed from the document: the imports, '/path/to/plugin' and '/plugin' (a plugin folder of the
document's layout made here), 'http://localhost:8265' and 'http://ray-head:8265' (the test
dashboard). The document's GPUs are real to Ray: a node that declares two joins the head for
this module (Ray only counts GPUs). Examples that only build an executor are run as far as they
go (built, options checked). Deviations, each with its reason in raynb's docstrings:
- Credential injection (SYNAPSE_HOST, SYNAPSE_ACCESS_TOKEN) is Synapse's; raynb injects no
  credentials of its own: ``env=`` passes any (values never shown).
- pip's default options do not add ``--upgrade`` (it re-downloads what the cluster has), and
  uv's ``--system`` is left out with a warning (it installs outside Ray's environment).
"""

from __future__ import annotations

import asyncio
import io
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from conftest import join_worker

from raynb import cluster
from raynb.errors import ExecutionError
from raynb.executors import RayActorExecutor, RayJobExecutor, RayJobsApiExecutor, RayTaskExecutor

PLUGIN_CODE = '''
import time
from pydantic import BaseModel
from raynb.actions import Action


class TrainParams(BaseModel):
    epochs: int = 1
    dataset: int | None = None


class TrainAction(Action[TrainParams]):
    def execute(self):
        import ray

        for epoch in range(self.params.epochs):
            print(f"epoch {epoch}", flush=True)
            self.progress(epoch + 1, self.params.epochs, "training")
            time.sleep(0.01)
        gpus = ray.get_gpu_ids() if ray.is_initialized() else []
        return {"epochs": self.params.epochs, "dataset": self.params.dataset, "gpus": len(gpus)}


class InferParams(BaseModel):
    batch_size: int


class InferAction(Action[InferParams]):
    def execute(self):
        return {"batch_size": self.params.batch_size}


class PreprocessParams(BaseModel):
    input: str


class PreprocessAction(Action[PreprocessParams]):
    def execute(self):
        import os
        return {"input": self.params.input, "pid": os.getpid()}


class ExportParams(BaseModel):
    format: str


class ExportAction(Action[ExportParams]):
    def execute(self):
        import os
        return {"format": self.params.format, "pid": os.getpid()}


class WheelAction(Action):
    def execute(self):
        import custom_package
        return custom_package.VALUE


class FailingAction(Action):
    def execute(self):
        print("about to fail", flush=True)
        raise RuntimeError("out of memory (simulated)")
'''


def _wheel() -> bytes:
    """custom_package-1.0.0-py3-none-any.whl, a real (tiny) wheel."""
    files = {
        "custom_package/__init__.py": "VALUE = 'from the wheel'\n",
        "custom_package-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: custom-package\nVersion: 1.0.0\n",
        "custom_package-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "custom_package-1.0.0.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in {**files, "custom_package-1.0.0.dist-info/RECORD": record}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory):
    """The document's plugin layout (config.yaml, plugin/train.py), importable here as there."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "config.yaml").write_text("name: seed-004\n")
    (root / "plugin").mkdir()
    (root / "plugin" / "__init__.py").write_text("")
    (root / "plugin" / "train.py").write_text(textwrap.dedent(PLUGIN_CODE))
    sys.path.insert(0, str(root))
    yield str(root)
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m == "plugin" or m.startswith("plugin.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def gpu_node(ray_head):
    node = join_worker(ray_head, "gpu_node", num_cpus=4, num_gpus=2)
    yield node
    cluster.stop_local_worker(node.worker)


@pytest.fixture(scope="module")
def actions(plugin: str, connected: None, gpu_node):
    from plugin import train

    return train


def test_actor_quick_start(actions, plugin: str) -> None:
    TrainAction, InferAction = actions.TrainAction, actions.InferAction  # noqa: N806
    executor = RayActorExecutor(
        ray_address='auto',
        working_dir=plugin,
        num_gpus=1,
    )

    # Execute action
    result = executor.execute(TrainAction, {'epochs': 10})

    # Reuse the same actor for subsequent executions (fast)
    result2 = executor.execute(InferAction, {'batch_size': 32})

    # Clean up when done
    executor.shutdown()
    assert result == {"epochs": 10, "dataset": None, "gpus": 1} and result2 == {"batch_size": 32}


def test_actor_reuse_pattern(actions, plugin: str) -> None:
    PreprocessAction, TrainAction, ExportAction = actions.PreprocessAction, actions.TrainAction, actions.ExportAction  # noqa: N806
    executor = RayActorExecutor(working_dir=plugin)

    # Same actor handles all executions - no re-initialization
    result1 = executor.execute(PreprocessAction, {'input': 'data.csv'})
    result2 = executor.execute(TrainAction, {'epochs': 100})
    result3 = executor.execute(ExportAction, {'format': 'onnx'})

    # Always shutdown when done
    executor.shutdown()
    assert result1["pid"] == result3["pid"] and result2["epochs"] == 100 and result3["format"] == "onnx"


def test_execute_ignores_extra_keywords_and_the_older_name(actions, plugin: str) -> None:
    assert RayTaskExecutor is RayActorExecutor  # "an alias for RayActorExecutor (backwards compatibility)"
    with RayTaskExecutor(working_dir=plugin, num_cpus=0.1) as executor:
        assert executor.execute(actions.InferAction, {'batch_size': 1}, run_name="ignored") == {"batch_size": 1}


def test_job_executor_quick_start(actions, plugin: str) -> None:
    TrainAction = actions.TrainAction  # noqa: N806
    executor = RayJobExecutor(
        ray_address='auto',
        working_dir=plugin,
    )

    # Submit job (non-blocking)
    job_id = executor.submit(TrainAction, {'epochs': 100})

    # Wait for completion
    status = executor.wait(job_id, timeout_seconds=3600)

    # Get result
    result = executor.get_result(job_id)
    assert status == 'SUCCEEDED' and result["epochs"] == 100


def test_multiple_concurrent_jobs(actions, plugin: str) -> None:
    TrainAction = actions.TrainAction  # noqa: N806
    executor = RayJobExecutor(working_dir=plugin, num_gpus=1)

    # Submit multiple jobs in parallel
    job_ids = []
    for dataset in [1, 2, 3, 4, 5]:
        job_id = executor.submit(TrainAction, {'dataset': dataset})
        job_ids.append(job_id)

    # Collect results
    results = {}
    for job_id in job_ids:
        executor.wait(job_id)
        results[job_id] = executor.get_result(job_id)
    assert [results[j]["dataset"] for j in job_ids] == [1, 2, 3, 4, 5]
    assert all(r["gpus"] == 1 for r in results.values())


def test_status_polling(actions, plugin: str, capsys: pytest.CaptureFixture[str]) -> None:
    TrainAction = actions.TrainAction  # noqa: N806
    executor = RayJobExecutor(working_dir=plugin)
    job_id = executor.submit(TrainAction, {'epochs': 100})

    while True:
        status = executor.get_status(job_id)
        print(f'Status: {status}')
        if status in ('SUCCEEDED', 'FAILED'):
            break
        time.sleep(5)

    if status == 'SUCCEEDED':
        result = executor.get_result(job_id)
    assert result["epochs"] == 100 and capsys.readouterr().out.splitlines()[-1] == "Status: SUCCEEDED"


def test_job_wait_raises_execution_error_on_failure_and_timeout(actions, plugin: str) -> None:
    executor = RayJobExecutor(working_dir=plugin, num_cpus=0.1)
    with pytest.raises(ExecutionError, match="RuntimeError: out of memory"):
        executor.wait(executor.submit(actions.FailingAction, {}))
    slow = executor.submit(actions.TrainAction, {'epochs': 3000})
    with pytest.raises(ExecutionError) as timed_out:  # "ExecutionError: If job fails or times out."
        executor.wait(slow, timeout_seconds=0.5)
    assert isinstance(timed_out.value, TimeoutError) and executor.get_status(slow) == 'RUNNING'
    assert executor.wait(slow) == 'SUCCEEDED'
    assert executor.get_status("raynb-no-such-job-0") == 'UNKNOWN'


def test_jobs_api_quick_start(actions, plugin: str, dashboard_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    TrainAction = actions.TrainAction  # noqa: N806
    executor = RayJobsApiExecutor(
        dashboard_address=dashboard_url,
        working_dir=plugin,
        num_gpus=1,
    )

    # Submit job
    job_id = executor.submit(TrainAction, {'epochs': 100})

    # Stream logs in real-time (includes runtime env setup)
    for log_line in executor.stream_logs(job_id):
        print(log_line, end='')

    # Get result
    result = executor.get_result(job_id)
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith("epoch ")] == [f"epoch {i}" for i in range(100)]
    assert result["epochs"] == 100


def test_jobs_api_async_log_streaming(actions, plugin: str, dashboard_url: str, capsys) -> None:
    TrainAction = actions.TrainAction  # noqa: N806

    async def run_with_logs():
        executor = RayJobsApiExecutor(
            dashboard_address=dashboard_url,
            working_dir=plugin,
        )

        job_id = executor.submit(TrainAction, {'epochs': 100})

        async for log_line in executor.stream_logs_async(job_id):
            print(log_line, end='')

        return executor.get_result(job_id)

    result = asyncio.run(run_with_logs())
    assert result["epochs"] == 100
    assert sum(line.startswith("epoch ") for line in capsys.readouterr().out.splitlines()) == 100


def test_jobs_api_methods(actions, plugin: str, dashboard_url: str) -> None:
    executor = RayJobsApiExecutor(dashboard_address=dashboard_url, working_dir=plugin)
    job_id = executor.submit(actions.TrainAction, {'epochs': 3})
    assert executor.wait(job_id, timeout_seconds=300, poll_interval=1.0) == 'SUCCEEDED'
    assert executor.get_status(job_id) == 'SUCCEEDED'
    assert "epoch 2" in executor.get_logs(job_id)
    assert executor.stop(job_id) is False  # it had ended: nothing to stop
    assert executor.delete(job_id) is True
    running = executor.submit(actions.TrainAction, {'epochs': 100_000})
    while executor.get_status(running) != 'RUNNING':
        time.sleep(0.2)
    assert executor.stop(running) is True
    assert executor.wait(running) == 'STOPPED'


def test_handle_errors_gracefully(actions, plugin: str, dashboard_url: str, capsys) -> None:
    executor = RayJobsApiExecutor(dashboard_address=dashboard_url, working_dir=plugin, show_progress=False)
    job_id = executor.submit(actions.FailingAction, {})
    try:
        result = executor.get_result(job_id, timeout=3600)
    except ExecutionError as e:
        print(f'Job failed: {e}')
        logs = executor.get_logs(job_id)  # Get logs for debugging
    assert "result" not in locals() and "about to fail" in logs
    said = capsys.readouterr().out.splitlines()
    assert said == [f"Job failed: {job_id} failed: RuntimeError: out of memory (simulated)"]


def test_resource_configuration_is_built_as_written(plugin: str) -> None:
    executor = RayJobsApiExecutor(
        dashboard_address='http://ray-head:8265',
        working_dir=plugin,
        num_cpus=4,
        num_gpus=2,
        memory=16 * 1024 * 1024 * 1024,  # 16GB
        package_manager='uv',
    )
    assert executor.config.ray_resources() == {"num_cpus": 4, "num_gpus": 2, "memory": 16 * 1024**3}
    # Always specify resources for production workloads
    explicit = RayJobsApiExecutor(num_cpus=4, num_gpus=1, memory=8 * 1024 * 1024 * 1024)  # 8GB
    assert explicit.config.demand() == {"CPU": 4.0, "GPU": 1.0, "memory": 8.0 * 1024**3}
    allocation = RayActorExecutor(num_cpus=4, num_gpus=1)
    assert allocation.config.ray_resources() == {"num_cpus": 4, "num_gpus": 1}


def test_common_configuration_is_built_as_written(plugin: str) -> None:
    custom = RayActorExecutor(
        runtime_env={
            'pip': {'packages': ['torch==2.0.0', 'ultralytics']},
            'env_vars': {'CUDA_VISIBLE_DEVICES': '0,1'},
        },
    )
    assert custom.config.build_runtime_env()["pip"]["packages"] == ['torch==2.0.0', 'ultralytics']
    with pytest.warns(UserWarning, match="--system is left out"):
        uv = RayJobExecutor(
            working_dir=plugin,
            package_manager='uv',
            package_manager_options=['--no-cache', '--system'],
        )
        assert uv.config.build_runtime_env().get("uv") is None  # no requirements here: nothing to install
        (Path(plugin) / "requirements.txt").write_text("tabulate\n")
        try:
            env = RayJobExecutor(working_dir=plugin, package_manager='uv',
                                 package_manager_options=['--no-cache', '--system']).config.build_runtime_env()
        finally:
            (Path(plugin) / "requirements.txt").unlink()
    assert env["uv"]["uv_pip_install_options"] == ["--no-cache"]  # once: uv refuses it twice
    local = RayActorExecutor(ray_address='auto')
    remote = RayActorExecutor(ray_address='ray://cluster-head:10001')
    assert (local.config.ray_address, remote.config.ray_address) == ('auto', 'ray://cluster-head:10001')


def test_working_directory_with_wheels(actions, plugin: str) -> None:
    wheels = Path(plugin) / "wheels"
    wheels.mkdir()
    (wheels / "custom_package-1.0.0-py3-none-any.whl").write_bytes(_wheel())
    try:
        executor = RayActorExecutor(
            working_dir=plugin,
            wheels_dir='wheels',  # Wheels auto-included in runtime_env
        )
        with executor:
            assert executor.execute(actions.WheelAction, {}, timeout=900) == "from the wheel"
    finally:
        for wheel in wheels.iterdir():
            wheel.unlink()
        wheels.rmdir()
