"""The pipeline progress widget in a real JupyterLab: live rows, Cancel and Resume that act on Ray."""

from __future__ import annotations

import time

import httpx
from lab_helpers import open_and_run, write_notebook
from pipeline_helpers import free_port

from raynb.client import RayClient

SETUP = """
import time
from pathlib import Path
from pydantic import BaseModel
from raynb.actions import Action
from raynb.executors import PipelineDefinition, RayPipelineExecutor

class P(BaseModel):
    flag: str = ""
    steps: int = 5

class Fetch(Action[P]):
    def execute(self):
        self.progress(1, 1, "fetched")
        return {"fetched": True}

class Crunch(Action[P]):
    def execute(self):
        for i in range(self.params.steps):
            self.progress(i + 1, self.params.steps, f"step {i + 1}")
            self.log(f"crunch {i + 1}")
            time.sleep(0.3)
        return {"crunched": True}

class Flaky(Action[P]):
    def execute(self):
        if not Path(self.params.flag).exists():
            raise RuntimeError("the flag file is missing")
        return {"flaky": "ok"}

ex = RayPipelineExecutor(pipeline_service_url="http://127.0.0.1:%d", num_cpus=0.25)
"""

ROW = '[data-testid="raynb-pl-row"]'


def _text(page, testid: str) -> str:
    return page.locator(f'[data-testid="{testid}"]').first.inner_text().strip()


def _wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_rows_update_live_and_cancel_stops_the_ray_actor(lab, page, client: RayClient) -> None:
    url, root = lab
    cells = [SETUP % free_port(), 'run_id = ex.submit(PipelineDefinition("crunch", [Fetch, Crunch]), {"steps": 400})']
    open_and_run(page, url, write_notebook(root, "pipeline_cancel.ipynb", cells))
    crunch = page.locator(ROW).nth(1)
    crunch.get_by_text("RUNNING", exact=True).wait_for(timeout=180_000)
    first = crunch.locator(".raynb-bar-label").inner_text()
    _wait_for(lambda: crunch.locator(".raynb-bar-label").inner_text() != first, "the progress bar to move")
    page.locator(ROW).first.get_by_text("COMPLETED", exact=True).wait_for(timeout=10_000)
    page.locator('[data-testid="raynb-pl-logs"]', has_text="crunch 2").wait_for(timeout=30_000)
    run_id = _text(page, "raynb-pl-run")

    page.locator('[data-testid="raynb-pl-cancel"]').click()
    page.locator('[data-testid="raynb-pl-status"]', has_text="CANCELLED").wait_for(timeout=60_000)
    assert page.dialogs == [f"Cancel pipeline run {run_id}?"]

    def actor_dead() -> bool:
        actors = [a for a in client.list_actors(limit=10_000) if run_id in (a.name or "")]
        return bool(actors) and all(a.state == "DEAD" for a in actors)

    _wait_for(actor_dead, f"the Ray actor of {run_id} to be gone", timeout=60)
    label = crunch.locator(".raynb-bar-label").inner_text()
    time.sleep(1.5)
    assert crunch.locator(".raynb-bar-label").inner_text() == label  # nothing runs any more


def test_failed_run_resumes_from_the_widget_skipping_done_actions(lab, page) -> None:
    url, root = lab
    flag = root / "flag-pipeline-ui"
    cells = [SETUP % free_port(),
             f'run_id = ex.submit(PipelineDefinition("flaky", [Fetch, Flaky]), {{"flag": {str(flag)!r}}})']
    open_and_run(page, url, write_notebook(root, "pipeline_resume.ipynb", cells))
    page.locator('[data-testid="raynb-pl-status"]', has_text="FAILED").wait_for(timeout=180_000)
    page.locator(ROW).nth(1).get_by_text("the flag file is missing").wait_for(timeout=10_000)
    first_run = _text(page, "raynb-pl-run")
    assert page.locator('[data-testid="raynb-pl-cancel"]').is_hidden()

    flag.write_text("fixed")  # the learner fixes the cause, then resumes
    page.locator('[data-testid="raynb-pl-resume"]').click()
    page.locator('[data-testid="raynb-pl-status"]', has_text="COMPLETED").wait_for(timeout=180_000)
    assert _text(page, "raynb-pl-run") != first_run
    assert page.locator(ROW).nth(0).get_by_text("SKIPPED", exact=True).is_visible()
    assert page.locator(ROW).nth(1).get_by_text("COMPLETED", exact=True).is_visible()
    assert f"resumed from {first_run}" in page.locator(".raynb-pipeline").inner_text()

    # The saved notebook keeps the final state as the widget's static snapshot.
    page.keyboard.press("Control+s")

    def saved_snapshot() -> str:
        nb = httpx.get(f"{url}/api/contents/pipeline_resume.ipynb", timeout=30, trust_env=False).json()
        return "\n".join(o.get("data", {}).get("text/plain", "") for o in nb["content"]["cells"][1]["outputs"])

    _wait_for(lambda: "COMPLETED" in saved_snapshot(), "the saved notebook to hold the final state", timeout=60)
    snapshot = saved_snapshot()
    assert "SKIPPED" in snapshot and f"resumed from {first_run}" in snapshot
