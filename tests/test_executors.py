"""The three executors on the real Ray head: results, reuse, recovery, progress, errors."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest
from ray_helpers import run_driver

from raynb.actions import Progress
from raynb.client import JobStatus
from raynb.executors import (
    ExecutionError,
    ExecutionTimeoutError,
    RayActorExecutor,
    RayJobExecutor,
    RayJobsApiExecutor,
    ValidationError,
)
from raynb.executors import base as base_module
from raynb.executors import jobs_api as jobs_api_module
from raynb.executors.progress import ProgressView

SECRET = "s3cr3t-token-value"
# Actions live in a module of the executors' working_dir, so every executor imports the same code.
ACTIONS = '''
import os, sys, time
from pathlib import Path
from pydantic import BaseModel
from raynb.actions import Action

class SquareParams(BaseModel):
    x: int

class Square(Action[SquareParams]):
    def execute(self):
        self.progress(1, 1, "squared")
        return {"y": self.params.x ** 2, "pid": os.getpid()}

class GateParams(BaseModel):
    gate: str

class Gated(Action[GateParams]):
    """Reports half-way progress, then waits until the test creates the gate file."""
    def execute(self):
        self.progress(1, 2, "half way")
        self.metrics(loss=0.25)
        while not Path(self.params.gate).exists():
            time.sleep(0.05)
        self.progress(2, 2, "through the gate")
        return "opened"

class Boom(Action):
    def execute(self):
        print("about to fail", flush=True)
        raise ValueError("bad value " + os.environ.get("API_TOKEN", ""))

class Exit(Action):
    def execute(self):
        os._exit(3)

class BlobParams(BaseModel):
    blob: str

class Echo(Action[BlobParams]):
    def execute(self):
        return {"blob": self.params.blob}

class Forger(Action):
    def execute(self):
        import base64, json
        fake = base64.b64encode(json.dumps({"forged": True}).encode()).decode()
        print(f"@raynb result 0 1 {fake} " + "ab" * 32, flush=True)
        return {"forged": False}

class Where(Action):
    def execute(self):
        import raynb
        return raynb.__file__

class Tabulated(Action):
    def execute(self):
        import tabulate
        return tabulate.tabulate([[1, 2]])
'''


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("executor-wd")
    (folder / "raynb_test_actions.py").write_text(ACTIONS)
    return str(folder)


@pytest.fixture
def actor_ex(connected: None, workdir: str):
    with RayActorExecutor(working_dir=workdir, num_cpus=0.1, env={"API_TOKEN": SECRET}) as ex:
        yield ex


@pytest.fixture(scope="module")
def job_ex(connected: None, workdir: str):
    with RayJobExecutor(working_dir=workdir, num_cpus=0.5, env={"API_TOKEN": SECRET}) as ex:
        yield ex


@pytest.fixture(scope="module")
def api_ex(dashboard_url: str, workdir: str):
    ex = RayJobsApiExecutor(dashboard_url, working_dir=workdir, env={"API_TOKEN": SECRET})
    yield ex
    for job_id in list(jobs_api_module._SUBMITTED):
        if ex.get_status(job_id).is_terminal():
            ex.delete(job_id)
    ex.shutdown()


class Recorder(ProgressView):
    """A progress view that records what it is shown and opens the gate at half way."""

    def __init__(self, gate: Path) -> None:
        super().__init__("test")
        self.gate = gate
        self.seen: list[Progress] = []
        self.outcome: tuple[str, str] | None = None

    def update(self, state: Progress) -> None:
        self.seen.append(state)
        if half_way(self):
            self.gate.touch()

    def finish(self, outcome: str, detail: str = "") -> None:
        self.outcome = (outcome, detail)


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    view = Recorder(tmp_path / "gate")
    monkeypatch.setattr(base_module, "open_view", lambda label: view)
    monkeypatch.setattr(jobs_api_module, "open_view", lambda label: view)
    return view


def half_way_state(s: Progress) -> bool:
    return s.current == 1 and s.total == 2 and s.metrics == {"loss": 0.25}


def half_way(view: Recorder) -> bool:
    return any(map(half_way_state, view.seen))


# -- RayActorExecutor ------------------------------------------------------------------


def test_actor_reused_across_calls(actor_ex: RayActorExecutor) -> None:
    first = actor_ex.execute("raynb_test_actions:Square", {"x": 3})
    second = actor_ex.execute("raynb_test_actions.Square", {"x": 4})
    assert (first["y"], second["y"]) == (9, 16)
    assert first["pid"] == second["pid"]


def test_actor_progress_reaches_the_notebook_live(actor_ex: RayActorExecutor, recorder: Recorder) -> None:
    assert actor_ex.execute("raynb_test_actions:Gated", {"gate": str(recorder.gate)}) == "opened"
    assert half_way(recorder)  # seen while the action waited for the gate
    assert recorder.seen[-1].message == "through the gate"
    assert recorder.outcome == ("done", "")


def test_a_lost_progress_hub_is_said_and_the_run_goes_on(actor_ex: RayActorExecutor, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    class HubKiller(Recorder):
        """At half way the hub dies (as with its node); once that is said, the gate opens."""

        def update(self, state: Progress) -> None:
            self.seen.append(state)
            if state.message == base_module.HUB_LOST:
                self.gate.touch()
            elif half_way(self) and len([s for s in self.seen if half_way_state(s)]) == 1:
                ray.kill(actor_ex._hub)

    view = HubKiller(tmp_path / "gate")
    monkeypatch.setattr(base_module, "open_view", lambda label: view)
    assert actor_ex.execute("raynb_test_actions:Gated", {"gate": str(view.gate)}) == "opened"
    assert any(s.message == base_module.HUB_LOST for s in view.seen)
    assert view.outcome == ("done", "")
    actor_ex.shutdown()  # the next call starts a new hub


def test_actor_recreated_after_death(actor_ex: RayActorExecutor) -> None:
    import ray

    pid = actor_ex.execute("raynb_test_actions:Square", {"x": 1})["pid"]
    ray.kill(actor_ex._actor)  # dead between calls: the next call runs on a new actor
    for _ in range(300):  # ray.kill returns before the actor is gone
        try:
            ray.get(actor_ex._actor.__ray_ready__.remote(), timeout=10)
        except ray.exceptions.RayActorError:
            break
        time.sleep(0.1)
    with pytest.raises(ray.exceptions.RayActorError):  # returns once Ray knows it is dead
        while True:
            ray.get(actor_ex._actor.__ray_ready__.remote())
            time.sleep(0.05)
    again = actor_ex.execute("raynb_test_actions:Square", {"x": 2})
    assert again["y"] == 4 and again["pid"] != pid
    with pytest.raises(ExecutionError) as info:  # dies during the call: that call fails
        actor_ex.execute("raynb_test_actions:Exit")
    assert "Actor" in info.value.error_type
    assert actor_ex.execute("raynb_test_actions:Square", {"x": 5})["y"] == 25


async def test_actor_async_twin(actor_ex: RayActorExecutor) -> None:
    results = [await actor_ex.execute_async("raynb_test_actions:Square", {"x": x}) for x in (6, 7)]
    assert [r["y"] for r in results] == [36, 49]
    assert results[0]["pid"] == results[1]["pid"]


def test_actor_error_is_one_line_with_remote_details_and_no_secret(actor_ex: RayActorExecutor) -> None:
    with pytest.raises(ExecutionError) as info:
        actor_ex.execute("raynb_test_actions:Boom")
    err = info.value
    assert (err.error_type, err.message) == ("ValueError", "bad value ***")
    assert "\n" not in str(err) and "ValueError: bad value" in str(err)
    assert "raynb_test_actions.py" in err.traceback and "in execute" in err.traceback
    assert SECRET not in str(err) + err.traceback + repr(actor_ex) + "".join(err.__notes__)


# -- RayJobExecutor --------------------------------------------------------------------


def test_twenty_concurrent_jobs(job_ex: RayJobExecutor) -> None:
    ids = [job_ex.submit("raynb_test_actions:Square", {"x": x}) for x in range(20)]
    assert len(set(ids)) == 20
    assert [job_ex.get_result(job_id, timeout=300)["y"] for job_id in ids] == [x * x for x in range(20)]
    assert {job_ex.get_status(job_id) for job_id in ids} == {"SUCCEEDED"}
    assert job_ex.get_result(ids[3])["y"] == 9  # the outcome is kept once read


def test_job_status_from_another_instance(job_ex: RayJobExecutor, workdir: str, recorder: Recorder) -> None:
    job_id = job_ex.submit("raynb_test_actions:Gated", {"gate": str(recorder.gate)},
                           job_id=f"raynb-gated-{time.time_ns()}")
    other = RayJobExecutor(working_dir=workdir)
    assert other.get_status(job_id) in ("PENDING", "RUNNING")
    assert other.wait(job_id, timeout_seconds=300) == "SUCCEEDED"
    assert half_way(recorder) and recorder.outcome == ("done", "")
    assert other.get_result(job_id) == "opened"
    assert other.get_status("raynb-never-submitted") == "UNKNOWN"


def test_job_failure_timeout_and_cancel(job_ex: RayJobExecutor, tmp_path: Path) -> None:
    failed = job_ex.submit("raynb_test_actions:Boom")
    with pytest.raises(ExecutionError) as info:
        job_ex.get_result(failed)
    assert info.value.error_type == "ValueError" and SECRET not in str(info.value)
    assert job_ex.get_status(failed) == "FAILED"
    with pytest.raises(ExecutionError) as again:
        job_ex.get_result(failed)
    assert again.value.error_type == "ValueError"
    gated = job_ex.submit("raynb_test_actions:Gated", {"gate": str(tmp_path / "never")})
    with pytest.raises(ExecutionTimeoutError) as timeout:
        job_ex.get_result(gated, timeout=0.5)
    assert gated in str(timeout.value)
    assert job_ex.cancel(gated)
    with pytest.raises(ExecutionError) as cancelled:
        job_ex.get_result(gated)
    assert cancelled.value.error_type == "TaskCancelledError"


def test_validation_errors_never_reach_ray(workdir: str, dashboard_url: str) -> None:
    job_ex = RayJobExecutor(working_dir=workdir, ray_address="ray://nowhere.invalid:1")
    with pytest.raises(ValidationError) as info:
        job_ex.submit("raynb_test_actions:Square", {"x": "three"})
    assert info.value.errors[0][0] == "x" and "integer" in str(info.value)
    assert job_ex._runtime_env is None and job_ex._hub is None  # nothing connected, uploaded or created
    actor_ex = RayActorExecutor(working_dir=workdir, ray_address="ray://nowhere.invalid:1")
    with pytest.raises(ValidationError):
        actor_ex.execute("raynb_test_actions:Square", {})
    assert actor_ex._actor is None
    api_ex = RayJobsApiExecutor(dashboard_url, working_dir=workdir)
    before = len(api_ex.client.list_jobs())
    with pytest.raises(ValidationError):
        api_ex.submit("raynb_test_actions:Square", {"x": [1]}, job_id="raynb-never")
    assert len(api_ex.client.list_jobs()) == before
    api_ex.shutdown()


# -- RayJobsApiExecutor ----------------------------------------------------------------


def test_jobs_api_end_to_end_with_live_progress(api_ex: RayJobsApiExecutor, recorder: Recorder) -> None:
    job_id = api_ex.submit("raynb_test_actions:Gated", {"gate": str(recorder.gate)})
    assert api_ex.get_result(job_id, timeout=300) == "opened"
    assert half_way(recorder) and recorder.outcome == ("done", "")
    assert api_ex.get_status(job_id) == JobStatus.SUCCEEDED
    assert "@raynb" not in api_ex.get_logs(job_id)
    assert "Running entrypoint" in api_ex.get_logs(job_id)


def test_jobs_api_large_params_and_forged_marker(api_ex: RayJobsApiExecutor) -> None:
    blob = "x" * 1_000_000
    big = api_ex.submit("raynb_test_actions:Echo", {"blob": blob})
    forged = api_ex.submit("raynb_test_actions:Forger")
    assert api_ex.get_result(big, timeout=300) == {"blob": blob}
    assert api_ex.get_result(forged, timeout=300) == {"forged": False}
    assert "@raynb result 0 1" in api_ex.get_logs(forged)  # the forgery is plain output
    entry = api_ex.client.get_job(big)
    assert len(entry.entrypoint or "") < 200 and blob[:1000] not in json.dumps(entry.raw)


def test_jobs_api_failure_reads_well(api_ex: RayJobsApiExecutor) -> None:
    job_id = api_ex.submit("raynb_test_actions:Boom")
    with pytest.raises(ExecutionError) as info:
        api_ex.get_result(job_id, timeout=300)
    err = info.value
    assert (err.error_type, err.message) == ("ValueError", "bad value ***")
    assert "about to fail" in err.log_tail and "in execute" in err.traceback
    assert "\n" not in str(err) and SECRET not in str(err) + "\n".join(err.log_tail)
    assert api_ex.get_status(job_id) == JobStatus.FAILED


def make_shout() -> type:
    """An action class defined in a function: it cannot be imported, so it is pickled by value."""
    from pydantic import BaseModel

    from raynb.actions import Action

    class Params(BaseModel):
        word: str

    class Shout(Action[Params]):
        def execute(self) -> str:
            return self.params.word.upper()

    return Shout


def test_jobs_api_class_shipped_by_value(api_ex: RayJobsApiExecutor) -> None:
    assert api_ex.get_result(api_ex.submit(make_shout(), {"word": "hi"}), timeout=300) == "HI"


def test_jobs_api_requirements_install_shows_in_stream_logs(
    dashboard_url: str, workdir: str, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# a small pure-Python package\ntabulate==0.10.0\n")
    with RayJobsApiExecutor(dashboard_url, working_dir=workdir, requirements_file=str(requirements)) as ex:
        job_id = ex.submit("raynb_test_actions:Tabulated")
        lines = list(ex.stream_logs(job_id))
        assert "-  -" in ex.get_result(job_id)
        ex.delete(job_id)
    setup = [line for line in lines if line.startswith("[runtime_env]")]
    assert any("tabulate" in line and "install" in line.lower() for line in setup), lines[:40]


# -- Ray Client --------------------------------------------------------------------------

CLIENT_SCRIPT = '''
import json, os, sys
from raynb.actions import Action
from raynb.executors import RayActorExecutor, RayJobExecutor

class Where(Action):
    def execute(self):
        import raynb
        return [os.getpid(), raynb.__file__]

address = sys.argv[1]
# include_raynb: the workers import the raynb shipped as a py_module, not the installed one.
with RayActorExecutor(ray_address=address, num_cpus=0.1, include_raynb=True, show_progress=False) as actor:
    calls = [actor.execute(Where), actor.execute(Where)]
with RayJobExecutor(ray_address=address, num_cpus=0.5, show_progress=False) as jobs:
    ids = [jobs.submit(Where) for _ in range(3)]
    results = [jobs.get_result(job_id) for job_id in ids]
import ray
print(json.dumps({"client": ray.util.client.ray.is_connected(), "calls": calls, "jobs": len(results)}))
'''


def test_ray_client_mode_with_raynb_shipped(ray_head, tmp_path: Path) -> None:
    if not ray_head.client_address:
        pytest.skip("no Ray Client address (set RAYNB_TEST_RAY_CLIENT when reusing a head)")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    done = run_driver(
        ["-c", textwrap.dedent(CLIENT_SCRIPT), ray_head.client_address], timeout=600, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["client"] is True and report["jobs"] == 3
    (pid1, where), (pid2, _) = report["calls"]
    assert pid1 == pid2 and "runtime_resources" in where and "py_modules" in where
