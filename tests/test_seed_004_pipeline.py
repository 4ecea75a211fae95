"""Seed document 004, RayPipelineExecutor section: each example as the document writes it, on the
real test head and a real pipeline service. Only imports, placeholder URLs and the plugin folder
differ (``working_dir`` is a folder with the plugin's actions; ``http://localhost:8100`` is the
test's service)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from pipeline_helpers import ServiceProcess, wait_until
from ray_helpers import run_driver

from raynb.errors import ExecutionError
from raynb.executors import PipelineDefinition, RayPipelineExecutor
from raynb.pipeline.models import ActionStatus, RunStatus

PLUGIN = '''
import time
from pathlib import Path
from pydantic import BaseModel
from raynb.actions import Action

OOM_FLAG = {oom!r}  # while this file exists, TrainAction runs out of memory

class DownloadParams(BaseModel):
    dataset: int

class DownloadAction(Action[DownloadParams]):
    def execute(self):
        self.progress(1, 1, "downloaded")
        return {{"images": self.params.dataset * 10}}

class ConvertParams(BaseModel):
    images: int

class ConvertAction(Action[ConvertParams]):
    def execute(self):
        return {{"labels": self.params.images}}

class TrainParams(BaseModel):
    labels: int
    epochs: int = 1
    seconds_per_epoch: float = 0.0

class TrainAction(Action[TrainParams]):
    def execute(self):
        if Path(OOM_FLAG).exists():
            raise MemoryError("CUDA out of memory")
        for epoch in range(1, self.params.epochs + 1):
            self.progress(epoch, self.params.epochs, f"epoch {{epoch}}")
            time.sleep(self.params.seconds_per_epoch)
        return {{"weights": f"w{{self.params.labels}}x{{self.params.epochs}}"}}

class ExportParams(BaseModel):
    weights: str

class ExportAction(Action[ExportParams]):
    def execute(self):
        return {{"model": self.params.weights + ".onnx"}}
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory):
    """The plugin folder (``working_dir``), importable here as ``seed004_plugin``."""
    folder = tmp_path_factory.mktemp("seed004-plugin")
    (folder / "seed004_plugin.py").write_text(PLUGIN.format(oom=str(folder.parent / "seed004-oom")))
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(folder))
    yield str(folder)
    patch.undo()


@pytest.fixture
def oom(plugin: str):
    """Makes TrainAction fail until the returned function (the fix) is called."""
    flag = Path(plugin).parent / "seed004-oom"
    flag.touch()
    yield lambda: flag.unlink(missing_ok=True)
    flag.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory):
    service = ServiceProcess(tmp_path_factory.mktemp("seed004-svc") / "pipelines.db").start()
    yield service.url
    service.stop()


@pytest.fixture(scope="module")
def executor(connected: None, plugin: str, service_url: str):
    """The Quick Start's executor (a tenth of a CPU per run actor, for the shared test head)."""
    executor = RayPipelineExecutor(ray_address="auto", working_dir=plugin, pipeline_service_url=service_url,
                                   num_cpus=0.1)
    yield executor
    executor.close()


@pytest.fixture
def pipeline(plugin: str) -> PipelineDefinition:
    from seed004_plugin import ConvertAction, DownloadAction, ExportAction, TrainAction

    return PipelineDefinition(
        name="YOLO Training Pipeline",
        actions=[DownloadAction, ConvertAction, TrainAction, ExportAction],
        description="End-to-end training workflow",
    )


params = {"dataset": 123, "epochs": 100}


def test_quick_start(connected: None, plugin: str, service_url: str) -> None:
    from seed004_plugin import ConvertAction, DownloadAction, ExportAction, TrainAction

    executor = RayPipelineExecutor(
        ray_address='auto',
        working_dir=plugin,
        pipeline_service_url=service_url,
    )

    pipeline = PipelineDefinition(
        name='YOLO Training Pipeline',
        actions=[DownloadAction, ConvertAction, TrainAction, ExportAction],
        description='End-to-end training workflow',
    )

    # Submit pipeline (non-blocking)
    run_id = executor.submit(pipeline, {'dataset': 123, 'epochs': 100})

    # Wait for completion
    progress = executor.wait(run_id, timeout_seconds=7200)
    result = executor.get_result(run_id)

    assert progress.status == RunStatus.COMPLETED and progress.overall_progress == 1.0
    assert result == {"dataset": 123, "epochs": 100, "images": 1230, "labels": 1230, "weights": "w1230x100",
                      "model": "w1230x100.onnx"}
    executor.close()


@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_progress_streaming(executor: RayPipelineExecutor, pipeline, request, outcome: str, capsys) -> None:
    if outcome == "failed":
        request.getfixturevalue("oom")

    run_id = executor.submit(pipeline, params)

    for progress in executor.stream_progress(run_id):
        print(f'Action: {progress.current_action}')
        print(f'Status: {progress.status}')
        print(f'Progress: {progress.overall_progress:.1%}')

        if progress.status == RunStatus.COMPLETED:
            print('Pipeline completed!')
            break
        elif progress.status == RunStatus.FAILED:
            print(f'Pipeline failed: {progress.error}')
            break

    out = capsys.readouterr().out.splitlines()
    if outcome == "completed":
        assert out[-4:] == ["Action: None", "Status: COMPLETED", "Progress: 100.0%", "Pipeline completed!"]
        assert "Action: DownloadAction" in out
    else:
        assert out[-4:] == ["Action: TrainAction", "Status: FAILED", "Progress: 50.0%",
                            "Pipeline failed: MemoryError: CUDA out of memory"]


def test_resume_from_checkpoint(executor: RayPipelineExecutor, pipeline, oom) -> None:
    # First run - fails at action index 2 (TrainAction)
    run_id_1 = executor.submit(pipeline, params)
    # ... TrainAction fails due to OOM ...
    with pytest.raises(ExecutionError, match="CUDA out of memory"):
        executor.wait(run_id_1)
    oom()  # the cause is fixed

    # Resume from checkpoint - skips completed actions
    run_id_2 = executor.submit(
        pipeline,
        params,
        resume_from=run_id_1,  # Resumes from TrainAction
    )

    # Actions 0 (Download) and 1 (Convert) are marked as SKIPPED
    # Execution continues from action 2 (TrainAction)
    final = executor.wait(run_id_2)
    assert [a.status for a in final.actions] == [ActionStatus.SKIPPED, ActionStatus.SKIPPED,
                                                 ActionStatus.COMPLETED, ActionStatus.COMPLETED]
    assert executor.get_result(run_id_2)["model"] == "w1230x100.onnx"


def test_simple_list_syntax(executor: RayPipelineExecutor, plugin: str) -> None:
    from seed004_plugin import ConvertAction, DownloadAction, TrainAction

    # Use a list directly instead of PipelineDefinition
    run_id = executor.submit(
        [DownloadAction, ConvertAction, TrainAction],
        params={'dataset': 123},
        name='quick-pipeline',
    )

    assert executor.get_result(run_id)["weights"] == "w1230x1"
    assert executor.get_progress(run_id).name == "quick-pipeline"


REMOTE_CLUSTER = '''
import sys
sys.path.insert(0, sys.argv[4])  # the plugin folder
from seed004_plugin import ConvertAction, DownloadAction, TrainAction
from raynb.executors import RayPipelineExecutor

executor = RayPipelineExecutor(
    ray_address=sys.argv[1],  # 'ray://cluster:10001'
    pipeline_service_url=sys.argv[2],  # 'http://localhost:8100': Local SDK uses this
    actor_pipeline_service_url=sys.argv[3],  # 'http://internal-api:8100': Ray actor uses this
    working_dir=sys.argv[4],
    num_cpus=0.1,
)
run_id = executor.submit([DownloadAction, ConvertAction, TrainAction], {"dataset": 2}, name="remote")
print("run:", run_id, executor.get_result(run_id)["weights"])
executor.close()
'''


def test_pipeline_service_url_configuration(ray_head, plugin: str, service_url: str, tmp_path: Path) -> None:
    """Through ray://: this process reaches the service through one address (a proxy here), the
    run's actor through another; the proxy sees this process's calls and none of the actor's."""
    import os

    if not ray_head.client_address:
        pytest.skip("no Ray Client address (set RAYNB_TEST_RAY_CLIENT when reusing a head)")
    host, port = service_url.removeprefix("http://").split(":")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    with FaultProxy(host, int(port)) as local:
        done = run_driver(["-c", REMOTE_CLUSTER, ray_head.client_address, local.url, service_url, plugin],
                          timeout=600, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        run_id, weights = next(ln for ln in done.stdout.splitlines() if ln.startswith("run:")).split()[1:]
        assert weights == "w20x1"
        assert any(r.startswith("POST /runs ") for r in local.requests)  # the SDK created the run here
        reports = [r for r in local.requests if r.split()[1].startswith(
            (f"/runs/{run_id}/actions", f"/runs/{run_id}/checkpoints", f"/runs/{run_id}/logs"))]
        assert reports == []  # the actor reported to the other address


def test_close(connected: None, plugin: str, service_url: str, pipeline) -> None:
    executor = RayPipelineExecutor(working_dir=plugin, pipeline_service_url=service_url, num_cpus=0.1)
    run_id = executor.submit(pipeline, {"dataset": 1, "epochs": 1000, "seconds_per_epoch": 0.1})
    wait_until(lambda: executor.get_progress(run_id).current_action == "TrainAction", "training started")

    # RayPipelineExecutor - close the client
    executor.close()

    assert executor.get_status(run_id) == RunStatus.CANCELLED  # its runs going on were cancelled


def test_get_status_and_get_progress(executor: RayPipelineExecutor, pipeline) -> None:
    run_id = executor.submit(pipeline, params)
    status = executor.get_status(run_id)
    progress = executor.get_progress(run_id)

    assert isinstance(status, RunStatus) and status in (RunStatus.PENDING, RunStatus.RUNNING)
    assert progress.run_id == run_id and [a.name for a in progress.actions][0] == "DownloadAction"
    executor.wait(run_id)
    assert executor.get_status(run_id) == RunStatus.COMPLETED
    progress = executor.get_progress(run_id)
    assert (progress.current_action, progress.overall_progress) == (None, 1.0)
    assert {a.status for a in progress.actions} == {ActionStatus.COMPLETED}


def test_progress_monitoring(executor: RayPipelineExecutor, pipeline, capsys) -> None:
    run_id = executor.submit(pipeline, params)

    # Polling approach
    while True:
        progress = executor.get_progress(run_id)
        print(f'{progress.current_action}: {progress.overall_progress:.1%}')
        if progress.status.is_terminal():
            break
        time.sleep(5)

    # SSE streaming (more efficient)
    for progress in executor.stream_progress(run_id):
        print(f'{progress.current_action}: {progress.overall_progress:.1%}')

    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["None: 100.0%", "None: 100.0%"]  # the last poll, then the stream of the ended run


async def test_stream_progress_async(executor: RayPipelineExecutor, pipeline) -> None:
    run_id = executor.submit(pipeline, params)
    statuses = []

    async for progress in executor.stream_progress_async(run_id):
        statuses.append(progress.status)

    assert statuses[-1] == RunStatus.COMPLETED and RunStatus.RUNNING in statuses


def test_cancel(executor: RayPipelineExecutor, pipeline) -> None:
    run_id = executor.submit(pipeline, {"dataset": 1, "epochs": 1000, "seconds_per_epoch": 0.1})
    for progress in executor.stream_progress(run_id):
        if progress.current_action == "TrainAction":
            break

    executor.cancel(run_id)

    assert executor.get_status(run_id) == RunStatus.CANCELLED
    with pytest.raises(ExecutionError) as info:
        executor.wait(run_id)
    assert info.value.error_type == "Cancelled"


def test_use_checkpoints_for_long_pipelines(executor: RayPipelineExecutor, pipeline, oom) -> None:
    run_id = executor.submit(pipeline, params)
    resumed = None

    # If pipeline fails, resume from checkpoint
    try:
        progress = executor.wait(run_id)
    except ExecutionError:
        oom()  # the cause is fixed
        # Retry from last checkpoint
        new_run_id = executor.submit(pipeline, params, resume_from=run_id)
        resumed = executor.wait(new_run_id)

    assert resumed is not None and resumed.status == RunStatus.COMPLETED
    assert resumed.resumed_from == run_id


def test_handle_errors_gracefully(executor: RayPipelineExecutor, pipeline, oom, capsys) -> None:
    job_id = executor.submit(pipeline, params)

    try:
        result = executor.get_result(job_id, timeout=3600)
    except ExecutionError as e:
        print(f'Job failed: {e}')
        logs = executor.get_logs(job_id)  # Get logs for debugging

    assert capsys.readouterr().out == f"Job failed: {job_id} failed: MemoryError: CUDA out of memory\n"
    assert any("MemoryError" in line.message for line in logs)  # the action's traceback
