"""Every teaching notebook runs top to bottom, headless, against the test head, with no error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from raynb.ansi import strip_ansi

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
FINAL_WORD = {"03_pipelines.ipynb": "COMPLETED"}  # what a notebook's outputs show when it worked


def problems(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            if out.output_type == "error" or "raynb-error" in html:
                found.append(f"cell {index}: {out.get('ename') or out.get('data', {}).get('text/plain')}")
            elif out.output_type == "stream" and out.name == "stderr" and "Traceback" in out.text:
                found.append(f"cell {index}: traceback on stderr")
    return found


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_clean(path: Path, dashboard_url: str, monkeypatch) -> None:
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    assert problems(nb) == []
    texts = "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                      for c in nb.cells for o in c.get("outputs", []))
    assert FINAL_WORD.get(path.name, "SUCCEEDED") in texts


FAILING_ACTION = """\
from pydantic import BaseModel
from raynb.actions import Action
from raynb.executors import RayJobsApiExecutor

class Params(BaseModel):
    b: float

class Divide(Action[Params]):
    def execute(self) -> float:
        return 1 / self.params.b

api = RayJobsApiExecutor(num_cpus=0.1)
api.get_result(api.submit(Divide, {"b": 0}))
"""


def errors_shown(cell: nbformat.NotebookNode) -> list[list[str]]:
    """The error outputs of a cell, each as the lines the notebook shows (ANSI removed)."""
    return [strip_ansi("\n".join(o.traceback)).splitlines() for o in cell.outputs if o.output_type == "error"]


def test_a_failed_cell_stops_run_all_with_one_line(dashboard_url: str, monkeypatch) -> None:
    """Through nbclient, as papermill runs a notebook: a failed magic or a raynb error from user
    code fails its cell, shown as one line (a remote failure adds its last frame); cells tagged
    raises-exception go on, and the first untagged failure ends the run."""
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
    allowed = {"tags": ["raises-exception"]}
    nb = new_notebook(cells=[
        new_code_cell("%load_ext raynb\n%ray_connect"),
        new_code_cell("%ray_job raysubmit_nope", metadata=allowed),
        new_code_cell(FAILING_ACTION, metadata=allowed),
        new_code_cell("%%ray_job --no-widget --no-raise\nraise SystemExit(2)\n"),
        new_code_cell("%%ray_job --no-widget\nprint('bye')\nraise SystemExit(3)\n"),
        new_code_cell("print('after the failure')"),
    ])
    with pytest.raises(CellExecutionError) as caught:
        NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    assert caught.value.ename == "ExecutionError"
    setup, missing, action, no_raise, failed, after = nb.cells
    assert errors_shown(setup) == errors_shown(no_raise) == []
    [[line]] = errors_shown(missing)
    assert line.startswith("✖ Ray error [404] GET /api/jobs/raysubmit_nope answered 404")
    [[line, frame, *source]] = errors_shown(action)  # the frame's source line, when the worker has the file
    assert line.endswith("failed: ZeroDivisionError: float division by zero")
    assert frame.startswith('  File "') and frame.endswith(", in execute") and len(source) <= 1
    [[line]] = errors_shown(failed)
    assert line.endswith("failed: JOB_ENTRYPOINT_COMMAND_ERROR: Job entrypoint command failed with exit code 3")
    shown = failed.outputs[-2].data["text/plain"]  # the log, then the status line, then the error
    assert "bye" in shown.splitlines() and "FAILED (exit code 3)" in shown.splitlines()[-1]
    assert after.get("execution_count") is None and after.outputs == []
