"""RayPipelineExecutor on the real Ray head with a real pipeline service process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from faultproxy import FaultProxy
from pipeline_helpers import ServiceProcess, driver_run_ids, free_port, wait_until, write_actions
from ray_helpers import run_driver

from conftest import private_state_dir

from raynb.client import RayClient
from raynb.errors import ExecutionError, PipelineResumeError, ValidationError
from raynb.executors import PipelineDefinition, RayPipelineExecutor
from raynb.pipeline.embedded import find_embedded
from raynb.pipeline.models import ActionStatus, RunStatus
from raynb.pipeline.watch import DIED, NAMESPACE, OUTAGE, actor_name, death_of
from raynb.widgets.pipeline import PipelineProgressWidget

SECRET = "pipeline-s3cret-env"
FULL = PipelineDefinition("full", ["pl_test_actions:Fetch", "pl_test_actions:Double", "pl_test_actions:Finish"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_actions(tmp_path_factory.mktemp("pipeline-wd"))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    proc = ServiceProcess(tmp_path_factory.mktemp("pipeline-svc") / "pipelines.db").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def ex(connected: None, service: ServiceProcess, workdir: Path):
    with RayPipelineExecutor(working_dir=str(workdir), pipeline_service_url=service.url, num_cpus=0.1,
                             env={"API_TOKEN": SECRET}) as executor:
        yield executor


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {"counter": str(tmp_path / "counter"), "flag": str(tmp_path / "flag"), "gate": str(tmp_path / "gate")}


def runs_of(path: str) -> int:
    return len(Path(path).read_text().splitlines()) if Path(path).exists() else 0


def test_full_run_accumulates_params_and_checkpoints_each_action(ex: RayPipelineExecutor, files) -> None:
    run_id = ex.submit(FULL, {"x": 1, "counter": files["counter"], "flag": files["flag"]}, name="full run")
    snapshots = list(ex.stream_progress(run_id, timeout=300))
    assert snapshots[-1].status is RunStatus.COMPLETED and ex.get_status(run_id).is_terminal()
    assert any(s.actions[1].message == "half" for s in snapshots)  # live progress came through
    final = ex.get_progress(run_id)
    assert (final.name, final.pipeline, final.overall_progress) == ("full run", "full", 1.0)
    assert [a.status for a in final.actions] == [ActionStatus.COMPLETED] * 3
    assert all(a.started_at <= a.finished_at for a in final.actions)
    expected = {"x": 1, "counter": files["counter"], "flag": files["flag"], "a": 2, "b": 4, "c": 4}
    assert ex.get_result(run_id) == expected
    checkpoints = ex.get_checkpoints(run_id)
    assert [(c.action_index, c.action_name) for c in checkpoints] == [(0, "Fetch"), (1, "Double"), (2, "Finish")]
    assert [c.params_snapshot.get("b") for c in checkpoints] == [None, 4, 4]
    assert checkpoints[1].result == {"b": 4} and checkpoints[-1].params_snapshot == expected
    logs = ex.get_logs(run_id)
    assert [(line.action_name, line.message) for line in logs] == [("Fetch", "fetched"), ("Double", "doubling 2")]
    assert [line.message for line in ex.get_logs(run_id, "Double")] == ["doubling 2"]
    assert run_id in [r.run_id for r in ex.list_runs(limit=5)]


def test_failing_action_fails_the_run_with_its_error(ex: RayPipelineExecutor, files) -> None:
    Path(files["flag"]).touch()
    run_id = ex.submit(FULL, {"x": 1, "counter": files["counter"], "flag": files["flag"]})
    with pytest.raises(ExecutionError) as waited:
        ex.wait(run_id, timeout_seconds=300)
    assert (waited.value.job_id, waited.value.error_type, waited.value.message) == (
        run_id, "RuntimeError", "flag is set ***")
    final = ex.get_progress(run_id)
    assert [a.status for a in final.actions] == [ActionStatus.COMPLETED, ActionStatus.COMPLETED, ActionStatus.FAILED]
    assert final.actions[2].error == final.error == "RuntimeError: flag is set ***"
    assert (final.current_action, final.current_action_index) == ("Finish", 2)
    with pytest.raises(ExecutionError) as info:
        ex.get_result(run_id)
    assert (info.value.error_type, info.value.message) == ("RuntimeError", "flag is set ***")
    assert SECRET not in str(info.value)
    assert len(ex.get_checkpoints(run_id)) == 2


def test_cancel_stops_the_ray_work(ex: RayPipelineExecutor, files, client: RayClient) -> None:
    run_id = ex.submit(["pl_test_actions:Gate"], {"gate": files["gate"]}, name="cancelled")
    for snapshot in ex.stream_progress(run_id, timeout=300):
        if snapshot.actions[0].progress == 0.5:
            break  # the action is running, waiting at the gate
    with RayPipelineExecutor(pipeline_service_url=ex.service.url) as other:  # finds the actor by name
        assert other.cancel(run_id) is True
    assert ex.get_status(run_id) is RunStatus.CANCELLED
    final = ex.get_progress(run_id)
    assert final.actions[0].status is ActionStatus.FAILED and final.actions[0].error == "cancelled"

    def dead_actor():
        actors = client.list_actors(filters={"name": actor_name(run_id)}, detail=True)
        return actors and all(a.state == "DEAD" for a in actors) and actors
    wait_until(dead_actor, "the run's actor is dead")
    assert ex.get_status(run_id) is RunStatus.CANCELLED and ex.cancel(run_id) is False


async def test_stream_progress_async(ex: RayPipelineExecutor) -> None:
    run_id = ex.submit(["pl_test_actions:Double"], {"a": 5})
    statuses = [s.status async for s in ex.stream_progress_async(run_id, timeout=300)]
    assert statuses[0] is RunStatus.PENDING and statuses[-1] is RunStatus.COMPLETED
    assert ex.get_result(run_id) == {"a": 5, "b": 10}


def test_resume_skips_completed_actions_and_finishes(ex: RayPipelineExecutor, files) -> None:
    Path(files["flag"]).touch()
    failed = ex.submit(FULL, {"x": 1, "counter": files["counter"], "flag": files["flag"]})
    with pytest.raises(ExecutionError):
        ex.wait(failed, timeout_seconds=300)
    Path(files["flag"]).unlink()
    resumed = ex.resume(failed, {"mult": 10})  # given params override restored ones
    final = ex.wait(resumed, timeout_seconds=300)
    assert final.status is RunStatus.COMPLETED and final == ex.get_progress(resumed)
    assert final.resumed_from == failed
    assert [a.status for a in final.actions] == [ActionStatus.SKIPPED, ActionStatus.SKIPPED, ActionStatus.COMPLETED]
    assert runs_of(files["counter"]) == 1  # Fetch ran once, in the first run
    assert ex.get_result(resumed)["c"] == 40
    checkpoints = ex.get_checkpoints(resumed)
    assert [(c.action_index, c.status) for c in checkpoints] == [
        (0, ActionStatus.SKIPPED), (1, ActionStatus.SKIPPED), (2, ActionStatus.COMPLETED)]


def test_resume_refused_when_the_definition_changed(ex: RayPipelineExecutor, files) -> None:
    Path(files["flag"]).touch()
    failed = ex.submit(FULL, {"x": 1, "counter": files["counter"], "flag": files["flag"]})
    with pytest.raises(ExecutionError):
        ex.wait(failed, timeout_seconds=300)
    before = len(ex.list_runs(limit=1000))
    reordered = PipelineDefinition("full", ["pl_test_actions:Double", "pl_test_actions:Fetch", "pl_test_actions:Finish"])
    with pytest.raises(PipelineResumeError, match=r"no longer match .*submit without resume_from") as info:
        ex.submit(reordered, resume_from=failed)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    gated = ex.submit(["pl_test_actions:Gate"], {"gate": files["gate"]})
    wait_until(lambda: ex.get_status(gated) is RunStatus.RUNNING, "the gated run runs")
    with pytest.raises(PipelineResumeError, match="still RUNNING"):
        ex.submit(["pl_test_actions:Gate"], resume_from=gated)
    ex.cancel(gated)
    assert len(ex.list_runs(limit=1000)) == before + 1  # only the gated run was started


def test_bad_params_raise_before_anything_runs(ex: RayPipelineExecutor, files) -> None:
    before = len(ex.list_runs(limit=1000))
    with pytest.raises(ValidationError, match="x"):
        ex.submit(FULL, {"x": "not a number", "counter": files["counter"], "flag": files["flag"]})
    with pytest.raises(ValueError, match="one or more actions"):
        ex.submit([])
    assert len(ex.list_runs(limit=1000)) == before and runs_of(files["counter"]) == 0


def test_service_killed_mid_run_loses_no_checkpoint(connected: None, workdir: Path, files, tmp_path: Path) -> None:
    """SIGKILL the service while action 2 runs; restart it on the same database: the run's
    reports resume, both checkpoints are there, and resuming the failed run completes."""
    service = ServiceProcess(tmp_path / "killed.db").start()
    pipeline = PipelineDefinition("killed", ["pl_test_actions:Fetch", "pl_test_actions:Gate",
                                             "pl_test_actions:Double", "pl_test_actions:Finish"])
    Path(files["flag"]).touch()
    try:
        with RayPipelineExecutor(working_dir=str(workdir), pipeline_service_url=service.url, num_cpus=0.1) as ex:
            run_id = ex.submit(pipeline, {"x": 1, **files})
            wait_until(lambda: ex.get_progress(run_id).actions[1].progress == 0.5, "the gate is reached")
            service.kill()
            service.start()  # same port, same database
            assert [c.action_name for c in ex.get_checkpoints(run_id)] == ["Fetch"]
            Path(files["gate"]).touch()
            with pytest.raises(ExecutionError, match="flag is set"):
                ex.wait(run_id, timeout_seconds=300)
            assert [c.action_name for c in ex.get_checkpoints(run_id)] == ["Fetch", "Gate", "Double"]
            Path(files["flag"]).unlink()
            resumed = ex.submit(pipeline, resume_from=run_id)
            assert ex.wait(resumed, timeout_seconds=300).status is RunStatus.COMPLETED
            assert ex.get_result(resumed)["c"] == 4 and runs_of(files["counter"]) == 1
    finally:
        service.stop()


ORPHAN_SCRIPT = """
import sys, time
from raynb.executors import RayPipelineExecutor
service, workdir, gate = sys.argv[1:]
ex = RayPipelineExecutor(working_dir=workdir, pipeline_service_url=service, num_cpus=0.1, show_progress=False)
run_ids = [ex.submit(["pl_test_actions:Double", "pl_test_actions:Gate"], {"a": a, "gate": gate}) for a in (1, 2)]
while any(ex.get_progress(run_id).current_action_index != 1 for run_id in run_ids):
    time.sleep(0.1)
print("run ids:", *run_ids, flush=True)
time.sleep(600)
"""


def actor_alive(client: RayClient, run_id: str) -> bool:
    """The run's actor is listed by Ray and not DEAD (ray.get_actor can fail on a dying actor)."""
    actors = client.list_actors(filters={"name": actor_name(run_id), "ray_namespace": NAMESPACE})
    return any(actor.state != "DEAD" for actor in actors)


def test_run_whose_driver_died_fails_and_can_be_resumed(
    ex: RayPipelineExecutor, service, workdir: Path, files, client: RayClient
) -> None:
    """A kernel that dies mid-run takes the run's actor with it: the run is failed, not RUNNING forever."""
    driver = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, service.url, str(workdir), files["gate"]],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run_ids = driver_run_ids(driver)
    finally:
        driver.kill()
        driver.wait()
    assert len(run_ids) == 2, "the driver did not get its runs to the second action"
    run_id, waited = run_ids
    wait_until(lambda: not any(actor_alive(client, r) for r in run_ids), "the runs' actors died with their driver")
    assert {ex.service.get_run(r).status for r in run_ids} == {RunStatus.RUNNING}  # what the service holds

    with pytest.raises(ExecutionError) as info:  # not an hour of waiting
        ex.wait(waited, timeout_seconds=120)
    assert info.value.error_type == "ActorDiedError" and "resume_from" in info.value.message
    widget = PipelineProgressWidget(ex, run_id)  # as a new kernel shows the run: it ends FAILED
    wait_until(lambda: widget.progress.get("status") == "FAILED", "the widget showed the run FAILED")
    widget.close()
    failed = ex.get_progress(run_id)
    assert failed.status is RunStatus.FAILED and "actor is gone" in failed.error
    assert [a.status for a in failed.actions][0] is ActionStatus.COMPLETED

    Path(files["gate"]).touch()
    resumed = ex.submit(["pl_test_actions:Double", "pl_test_actions:Gate"], resume_from=run_id)
    assert ex.get_result(resumed, timeout=300) == {"a": 1, "gate": files["gate"], "b": 2, "gated": True}
    assert [a.status for a in ex.get_progress(resumed).actions] == [ActionStatus.SKIPPED, ActionStatus.COMPLETED]


def test_reports_that_never_arrive_fail_the_run_with_advice(connected: None, service, workdir: Path) -> None:
    """The actors report to an address nobody answers: the action still runs, and when the run
    returns the executor fails it with a message saying what to set."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    with RayPipelineExecutor(working_dir=str(workdir), pipeline_service_url=service.url,
                             actor_pipeline_service_url=nowhere, num_cpus=0.1) as lost:
        run_id = lost.submit(["pl_test_actions:Double"], {"a": 1})
        with pytest.raises(ExecutionError) as info:
            lost.wait(run_id, timeout_seconds=300)
    assert info.value.error_type == "UnavailableError"
    assert info.value.message.startswith(f"the run's reports did not reach {nowhere} from Ray: set actor_pipeline_")


SECOND_KERNEL = """
import sys
from raynb.executors import RayPipelineExecutor
print(RayPipelineExecutor(pipeline_service_url=sys.argv[1]).get_status(sys.argv[2]))
"""


def test_embedded_service_has_a_token_only_its_user_gets(
    connected: None, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    """Nothing answers at the URL: one service is started in this process, with a random token
    that the executor and the run's actor use and nothing shows; a request without it gets
    401; another executor here and a second process of this user find it and its token."""
    monkeypatch.setenv("RAYNB_PIPELINE_DB", str(tmp_path / "embedded.db"))
    private_state_dir(monkeypatch, tmp_path / "state")
    url = f"http://localhost:{free_port()}"
    with RayPipelineExecutor(working_dir=str(workdir), pipeline_service_url=url, num_cpus=0.1) as ex:
        run_id = ex.submit(["pl_test_actions:Double"], {"a": 3})
        assert ex.get_result(run_id, timeout=300) == {"a": 3, "b": 6}  # the actor reported with the token
        embedded = find_embedded(url)
        shown = [repr(ex), repr(ex.service), repr(embedded), *map(str, ex.get_logs(run_id))]
    assert httpx.get(f"{embedded.url}/runs").status_code == 401
    assert httpx.get(f"{embedded.url}/runs", headers={"Authorization": "Bearer guess"}).status_code == 401
    with RayPipelineExecutor(pipeline_service_url=url) as again:
        assert again.get_status(run_id) is RunStatus.COMPLETED
    second = subprocess.run([sys.executable, "-c", SECOND_KERNEL, url, run_id],
                            capture_output=True, text=True, timeout=300, check=False)
    assert second.stdout.strip() == "COMPLETED", second.stderr[-2000:]
    said = capfd.readouterr().err
    assert said.count("no pipeline service answered at") == 1 and "embedded.db" in said
    assert (tmp_path / "embedded.db").exists()
    assert embedded.token not in "".join([said, second.stderr, *shown])
    records = list((tmp_path / "state" / "pipeline-services").iterdir())
    assert [r.stat().st_mode & 0o777 for r in records] == [0o600]


def test_wait_polls_when_the_event_stream_cannot_be_used(connected: None, service, workdir: Path) -> None:
    """A proxy before the service refuses its SSE route: wait reads the run every poll_interval
    instead and still returns the final progress."""
    with FaultProxy("127.0.0.1", service.port) as proxy, RayPipelineExecutor(
        working_dir=str(workdir), pipeline_service_url=proxy.url, actor_pipeline_service_url=service.url,
        num_cpus=0.1,
    ) as polled:  # fmt: skip
        proxy.refuse(b"/events", times=1000)
        run_id = polled.submit(["pl_test_actions:Double"], {"a": 2})
        final = polled.wait(run_id, timeout_seconds=300, poll_interval=0.2)
    assert final.status is RunStatus.COMPLETED and final.actions[0].status is ActionStatus.COMPLETED
    assert any(f"GET /runs/{run_id}/events" in line for line in proxy.requests)


def test_actor_death_is_told_from_a_temporary_outage(connected: None) -> None:
    """Ray's own exceptions: ActorUnavailableError keeps the run going, ActorDiedError (here one
    that really happened) fails it, anything else fails it under its type."""
    import ray
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    assert death_of(ActorUnavailableError("RpcError: Unavailable rpc_code: 14", None)) is None
    assert death_of(ActorDiedError()) == DIED

    @ray.remote(num_cpus=0)
    class Short:
        def crash(self) -> None:
            os._exit(1)

    with pytest.raises(ActorDiedError) as died:
        ray.get(Short.remote().crash.remote())
    assert death_of(died.value) == DIED and DIED.startswith("ActorDiedError: ")
    assert death_of(ValueError("x")) == "ValueError: the run's Ray actor failed"


OUTAGE_SCRIPT = """
import sys, time
from raynb.executors import RayPipelineExecutor
address, service, workdir, *gates = sys.argv[1:]
ex = RayPipelineExecutor(ray_address=address, working_dir=workdir, pipeline_service_url=service,
                         num_cpus=0.1, include_raynb=False, show_progress=False)
print("run ids:", *[ex.submit(["pl_test_actions:Gate"], {"gate": gate}) for gate in gates], flush=True)
time.sleep(600)
"""
# Ray's own fault injection: this driver's first two task pushes fail in flight (the actor still
# gets and runs them), so Ray answers both calls with ActorUnavailableError.
PUSH_FAILS_IN_FLIGHT = '{"CoreWorkerService.grpc_client.PushTask": {"num_failures": 2, "in_flight_failure_prob": 100}}'


def test_actor_unavailable_is_not_death(ray_head, ex: RayPipelineExecutor, service, workdir: Path,
                                        tmp_path: Path, client: RayClient) -> None:
    """Ray calls both runs' actors temporarily unavailable while they run: the runs go on; one
    completes and its actor is then freed; the other's actor is killed, and the run fails once
    Ray lists that actor DEAD."""
    import ray

    if not ray_head.gcs_address:
        pytest.skip("no GCS address (set RAYNB_TEST_GCS when reusing a head)")
    gates = [str(tmp_path / "kept"), str(tmp_path / "doomed")]
    driver = subprocess.Popen(
        [sys.executable, "-c", OUTAGE_SCRIPT, ray_head.gcs_address, service.url, str(workdir), *gates],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "RAY_testing_rpc_failure": PUSH_FAILS_IN_FLIGHT},
    )  # fmt: skip
    try:
        run_ids = driver_run_ids(driver)
        assert len(run_ids) == 2, "the driver did not start its runs"
        kept, doomed = run_ids

        def told(run_id: str) -> bool:
            noted = any(line.message == OUTAGE for line in ex.get_logs(run_id))
            return noted or ex.service.get_run(run_id).status.is_terminal()

        wait_until(lambda: all(map(told, run_ids)), "Ray called both actors unavailable")
        assert [ex.service.get_run(r).status for r in run_ids] == [RunStatus.RUNNING] * 2

        Path(gates[0]).touch()
        assert ex.wait(kept, timeout_seconds=300).actions[0].status is ActionStatus.COMPLETED
        wait_until(lambda: not actor_alive(client, kept), "the completed run's actor was freed")

        ray.kill(ray.get_actor(actor_name(doomed), namespace=NAMESPACE))
        wait_until(lambda: ex.service.get_run(doomed).status.is_terminal(), "the doomed run ended")
        assert ex.service.get_run(doomed).error == DIED
    finally:
        driver.kill()
        driver.wait()


CLIENT_SCRIPT = '''
import json, sys
sys.path.insert(0, sys.argv[3])  # the working_dir: its classes are sent as classes
from pl_test_actions import Double
from raynb.actions import Action
from raynb.executors import RayPipelineExecutor

class Where(Action):
    def execute(self):
        import raynb
        return {"where": raynb.__file__}

address, service = sys.argv[1], sys.argv[2]
with RayPipelineExecutor(ray_address=address, working_dir=sys.argv[3], pipeline_service_url=service,
                         num_cpus=0.1, include_raynb=True) as ex:
    run_id = ex.submit([Double, Where, "pl_test_actions:Double"], {"a": 2})
    print("result:", json.dumps(ex.get_result(run_id, timeout=300)))
'''


def test_ray_client_mode(ray_head, service: ServiceProcess, workdir: Path, tmp_path: Path) -> None:
    """Through ray://: classes from the working_dir and from __main__, raynb shipped to the worker."""
    import json
    import os

    if not ray_head.client_address:
        pytest.skip("no Ray Client address (set RAYNB_TEST_RAY_CLIENT when reusing a head)")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    done = run_driver(
        ["-c", CLIENT_SCRIPT, ray_head.client_address, service.url, str(workdir)],
        timeout=600, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(ln for ln in done.stdout.splitlines() if ln.startswith("result:"))[7:])
    assert result["b"] == 4 and "runtime_resources" in result["where"]
