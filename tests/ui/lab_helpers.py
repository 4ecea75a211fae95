"""Helpers for the browser tests: notebooks to run in JupyterLab, theme, Ray job cells."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from raynb.client import JobStatus, RayClient

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    return name


def open_and_run(page, lab_url: str, name: str) -> None:
    """Open a notebook in JupyterLab and run all its cells (Run > Run All Cells)."""
    page.goto(f"{lab_url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:  # JupyterLab may ask which kernel to start
        select.wait_for(timeout=5_000)
        select.click()
    except PlaywrightTimeout:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def set_theme(lab_url: str, dark: bool) -> None:
    """Choose JupyterLab's theme through its settings API (pages opened later use it)."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    response = httpx.put(
        f"{lab_url}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        json={"raw": json.dumps({"theme": theme})}, timeout=30, trust_env=False,
    )
    response.raise_for_status()


def job_cells(code: str) -> list[str]:
    """Notebook cells that submit ``code`` as a job on the test head and keep its id."""
    return [
        "import shlex, sys\nfrom raynb.client import RayClient\nray = RayClient()\n"
        f"CODE = {code!r}\n"
        "job_id = ray.submit_job(sys.executable + ' -u -c ' + shlex.quote(CODE)).submission_id\n"
        "job_id"
    ]


def wait_status(client: RayClient, job_id: str, statuses: set[JobStatus], timeout: float = 120) -> JobStatus:
    deadline = time.monotonic() + timeout
    while (status := client.get_job_status(job_id)) not in statuses:
        if time.monotonic() > deadline:
            raise AssertionError(f"{job_id} still {status}")
        time.sleep(0.3)
    return status
