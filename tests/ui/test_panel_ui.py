"""The Ray side panel in a real JupyterLab (headless Chromium), on the real Ray head, no kernel."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
from lab_helpers import OUTPUT, open_and_run, wait_status, write_notebook
from ray_helpers import py_entrypoint, stop_if_running

from raynb.client import JobStatus, RayClient

SIDEBAR = "#raynb-sidebar"
LINE = '[data-testid="raynb-log-line"]'
TICKER = "import itertools, time\nfor i in itertools.count():\n    print(f'tick {i}', flush=True)\n    time.sleep(0.2)"


def _kernels(url: str) -> list[dict]:
    response = httpx.get(f"{url}/api/kernels", timeout=30, trust_env=False)
    response.raise_for_status()
    return response.json()


def _set(url: str, plugin: str, values: dict) -> None:
    """Settings of a JupyterLab plugin, through JupyterLab's settings API."""
    response = httpx.put(f"{url}/lab/api/settings/{plugin}", json={"raw": json.dumps(values)},
                         timeout=30, trust_env=False)  # fmt: skip
    response.raise_for_status()


def _set_address(url: str, address: str) -> None:
    _set(url, "raynb:plugin", {"address": address})  # the panel's "Ray dashboard address"


def _open_sidebar(page) -> None:
    tab = page.locator('.jp-SideBar [title="Ray cluster and jobs"]')
    tab.wait_for(timeout=90_000)
    if not page.locator(SIDEBAR).is_visible():
        tab.click()
    page.locator(SIDEBAR).wait_for(state="visible", timeout=60_000)


def _job_row(page, job_id: str):
    return page.locator(f'{SIDEBAR} [data-testid="raynb-job"][data-job-id="{job_id}"]')


def test_side_panel_without_a_kernel(lab, page, client: RayClient, dashboard_url: str) -> None:
    url, _ = lab
    for kernel in _kernels(url):  # other browser tests leave kernels behind
        httpx.delete(f"{url}/api/kernels/{kernel['id']}", timeout=60, trust_env=False).raise_for_status()
    job_id = client.submit_job(py_entrypoint(TICKER)).submission_id
    try:
        wait_status(client, job_id, {JobStatus.RUNNING})
        _set(url, "@jupyterlab/apputils-extension:notification", {"fetchNews": "false"})  # no news toast

        page.goto(f"{url}/lab?reset")
        _open_sidebar(page)
        sidebar = page.locator(SIDEBAR)
        sidebar.locator('[data-testid="raynb-address"]', has_text=dashboard_url).wait_for(timeout=60_000)
        sidebar.locator('[data-testid="raynb-node"]', has_text="head").wait_for(timeout=60_000)
        _job_row(page, job_id).get_by_text("RUNNING", exact=True).wait_for(timeout=60_000)
        assert _kernels(url) == []  # all of it came through the server extension

        _job_row(page, job_id).click()  # its log streams into a main-area tab
        tab = page.locator(f"#raynb-job-log-{job_id}")
        tab.locator('[data-testid="raynb-log-line"]', has_text="tick 10").wait_for(timeout=60_000)
        assert client.get_job_status(job_id) == JobStatus.RUNNING  # lines arrive while it runs
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "side-panel.png"))

        _job_row(page, job_id).locator('[data-testid="raynb-stop"]').click()
        page.locator(".jp-Dialog").get_by_role("button", name="Stop job").click()
        assert wait_status(client, job_id, {JobStatus.STOPPED, JobStatus.FAILED}) == JobStatus.STOPPED
        _job_row(page, job_id).get_by_text("STOPPED", exact=True).wait_for(timeout=60_000)
        tab.locator('[data-testid="raynb-final"]', has_text="STOPPED").wait_for(timeout=60_000)
        assert _kernels(url) == []
    finally:
        stop_if_running(client, job_id)  # only matters if the test failed


def test_log_tab_opens_at_the_end_and_loads_earlier_lines_when_scrolled_up(lab, page, client: RayClient) -> None:
    url, _ = lab
    code = (
        "import itertools, sys, time\nfor i in range(5000):\n    sys.stdout.write(f'row {i:04d}\\n')\n"
        "sys.stdout.flush()\nfor i in itertools.count():\n    print(f'tick {i}', flush=True)\n    time.sleep(0.5)"
    )
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    try:
        deadline = time.monotonic() + 120
        while "tick 0" not in client.get_job_logs(job_id):
            assert time.monotonic() < deadline, "the job did not print its rows"
            time.sleep(0.3)
        page.goto(f"{url}/lab?reset")
        _open_sidebar(page)
        _job_row(page, job_id).click()
        tab = page.locator(f"#raynb-job-log-{job_id}")
        count = tab.locator(".raynb-logpanel .raynb-count")
        tab.locator(LINE, has_text="row 4999").wait_for(timeout=60_000)
        assert re.fullmatch(r"1,0\d\d lines", count.inner_text())  # the last 1,000 (and the ticks since)
        tab.locator(LINE, has_text="tick 3").wait_for(timeout=60_000)  # then live

        log, earlier = tab.locator('[data-testid="raynb-log"]'), tab.locator('[data-testid="raynb-earlier"]')
        assert "scroll up" in earlier.inner_text()
        page.screenshot(path=str(OUTPUT / "side-panel-log-end.png"))
        for _ in range(10):  # each scroll to the top loads the 1,000 lines before
            if earlier.is_hidden():
                break
            held = count.inner_text()
            log.hover()
            page.mouse.wheel(0, -10_000_000)
            page.wait_for_function(
                "([el, held]) => el.textContent !== held", arg=[count.element_handle(), held], timeout=60_000
            )
        assert earlier.is_hidden()  # the log's first line is held
        page.mouse.wheel(0, -10_000_000)
        tab.locator(LINE, has_text="row 0000").wait_for(timeout=30_000)
        tab.locator(LINE, has_text="Running entrypoint").wait_for(timeout=30_000)  # Ray's first lines
        page.screenshot(path=str(OUTPUT / "side-panel-earlier-lines.png"))
        held = int(count.inner_text().split()[0].replace(",", ""))
        assert held >= 5000 and held < 5000 + 60  # every row once, Ray's lines, the ticks
    finally:
        stop_if_running(client, job_id)


def test_side_panel_follows_ray_connect_and_outlives_the_kernel(lab, page, client: RayClient, dashboard_url: str) -> None:
    url, root = lab
    name = write_notebook(root, "connect.ipynb", [f"%load_ext raynb\n%ray_connect {dashboard_url}"])
    open_and_run(page, url, name)
    page.locator(".raynb-cluster-card, .jp-OutputArea-output").first.wait_for(timeout=120_000)
    _open_sidebar(page)
    page.locator(f'{SIDEBAR} [data-testid="raynb-source"]', has_text="last %ray_connect").wait_for(timeout=60_000)

    sessions = httpx.get(f"{url}/api/sessions", timeout=30, trust_env=False).json()
    kernel = next(s["kernel"] for s in sessions if s["path"] == name)
    httpx.post(f"{url}/api/kernels/{kernel['id']}/restart", timeout=120, trust_env=False).raise_for_status()
    first = client.submit_job(py_entrypoint("print('after restart')")).submission_id
    _job_row(page, first).get_by_text("SUCCEEDED", exact=True).wait_for(timeout=120_000)

    httpx.delete(f"{url}/api/kernels/{kernel['id']}", timeout=60, trust_env=False).raise_for_status()
    assert kernel["id"] not in [k["id"] for k in _kernels(url)]
    second = client.submit_job(py_entrypoint("print('after shutdown')")).submission_id
    _job_row(page, second).get_by_text("SUCCEEDED", exact=True).wait_for(timeout=120_000)


def test_side_panel_says_when_the_dashboard_is_unreachable(lab, page, dashboard_url: str) -> None:
    url, _ = lab
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    _set_address(url, closed)
    try:
        page.goto(f"{url}/lab?reset")
        _open_sidebar(page)
        down = page.locator(f'{SIDEBAR} [data-testid="raynb-down"]')
        down.filter(has_text=f"Ray dashboard unreachable at {closed} — retrying in").wait_for(timeout=60_000)
        page.screenshot(path=str(OUTPUT / "side-panel-unreachable.png"))
        _set_address(url, dashboard_url)
        page.goto(f"{url}/lab?reset")
        _open_sidebar(page)
        page.locator(f'{SIDEBAR} [data-testid="raynb-source"]', has_text="JupyterLab settings").wait_for(timeout=60_000)
        assert down.is_hidden()
    finally:
        _set_address(url, "")
