"""Helpers for the browser tests: notebooks to run in JupyterLab, theme, Ray job cells."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from raynb.client import JobStatus, RayClient

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(url: str, root: Path) -> Iterator[str]:
    """A JupyterLab (127.0.0.1, free port, no token) whose kernels talk to ``url``."""
    port = _free_port()
    env = {**os.environ, "RAY_API_SERVER_ADDRESS": url,
           "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces")}  # fmt: skip
    news = root / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "notified about Jupyter news?" toast
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.allow_root=True",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    lab_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{lab_url}/api/status", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {root / 'lab.log'}")
            time.sleep(0.5)
        yield lab_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
