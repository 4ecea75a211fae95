"""%ray_pipeline in a real IPython shell, on the real Ray head and a real pipeline service."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from pipeline_helpers import ServiceProcess, free_port

from conftest import private_state_dir

from raynb.errors import ExecutionError, NotFoundError
from raynb.executors import PipelineDefinition, RayPipelineExecutor

ACTIONS = '''
from pathlib import Path
from pydantic import BaseModel
from raynb.actions import Action

class StepParams(BaseModel):
    flag: str

class Prepare(Action[StepParams]):
    def execute(self):
        return {"prepared": 1}

class Check(Action[StepParams]):
    def execute(self):
        if not Path(self.params.flag).exists():
            raise RuntimeError("no flag yet")
        return {"checked": 1}
'''


@pytest.fixture(scope="module")
def ex(shell: InteractiveShell, connected: None, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("magic-wd")
    (workdir / "pl_magic_actions.py").write_text(ACTIONS)
    service = ServiceProcess(tmp_path_factory.mktemp("magic-svc") / "pipelines.db").start()
    executor = RayPipelineExecutor(working_dir=str(workdir), pipeline_service_url=service.url, num_cpus=0.1)
    shell.user_ns["pipelines"] = executor
    yield executor
    shell.user_ns.pop("pipelines", None)
    executor.close()
    service.stop()


def run(shell: InteractiveShell, line: str) -> tuple[str, str]:
    with capture_output() as cap:
        shell.run_line_magic("ray_pipeline", line)
    return "\n".join(o.data.get("text/plain", "") for o in cap.outputs), cap.stdout


def test_runs_show_resume_and_cancel(shell: InteractiveShell, ex: RayPipelineExecutor, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    pipeline = PipelineDefinition("checked", ["pl_magic_actions:Prepare", "pl_magic_actions:Check"])
    failed = ex.submit(pipeline, {"flag": str(flag)})
    with pytest.raises(ExecutionError, match="no flag yet"):
        ex.wait(failed, 300)

    shown, _ = run(shell, "runs")
    assert failed in shown and "FAILED" in shown
    card, _ = run(shell, f"show {failed}")
    assert "Prepare" in card and "COMPLETED" in card and "no flag yet" in card

    flag.write_text("set")
    _, said = run(shell, f"resume {failed} --out resumed")
    resumed = shell.user_ns["resumed"]
    assert said.strip() == f"Resumed {failed} as {resumed}."
    assert [a.status.value for a in ex.wait(resumed, 300).actions] == ["SKIPPED", "COMPLETED"]

    _, said = run(shell, f"cancel {resumed}")
    assert said.strip() == f"{resumed} had already ended."


def test_mistakes_read_as_one_line(shell: InteractiveShell, ex: RayPipelineExecutor) -> None:
    with pytest.raises(UsageError, match="needs a run id"):
        shell.run_line_magic("ray_pipeline", "show")
    with pytest.raises(UsageError, match="--limit"):
        shell.run_line_magic("ray_pipeline", "runs --limit 0")
    with pytest.raises(NotFoundError) as info:  # the cell fails, shown as one red line
        shell.run_line_magic("ray_pipeline", "show raynb-no-such-run")
    [shown] = info.value._render_traceback_()
    assert "✖ [404] pipeline service" in shown and "\n" not in shown
    assert "Ray error" not in shown and "%ray_pipeline runs lists them" in shown
    with pytest.raises(UsageError, match=r"invalid run id '\.\./runs'"):  # never sent to the service
        shell.run_line_magic("ray_pipeline", "show ../runs")
    with pytest.raises(UsageError, match="did not submit it"):  # its definition is unknown here
        shell.run_line_magic("ray_pipeline", "resume raynb-no-such-run")


def test_reaches_an_embedded_service_of_this_kernel(
    shell: InteractiveShell, ex: RayPipelineExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service this kernel started for a URL (it has a random token): %ray_pipeline --service
    URL lists and shows its runs through an executor of its own."""
    private_state_dir(monkeypatch, tmp_path / "state")
    url = f"http://127.0.0.1:{free_port()}"
    with RayPipelineExecutor(working_dir=ex.config.working_dir, pipeline_service_url=url, num_cpus=0.1) as own:
        run_id = own.submit(["pl_magic_actions:Prepare"], {"flag": str(tmp_path / "flag")})
        own.wait(run_id, 300)
        shown, _ = run(shell, f"runs --service {url}")
        assert run_id in shown and "COMPLETED" in shown
        card, _ = run(shell, f"show {run_id} --service {url}")
        assert "Prepare" in card and "COMPLETED" in card
