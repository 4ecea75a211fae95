"""The widgets in a real JupyterLab, in headless Chromium, against the real Ray head."""

from __future__ import annotations

import re
import time

from lab_helpers import (
    OUTPUT,
    job_cells,
    open_and_run,
    set_theme,
    wait_status,
    write_notebook,
)

from raynb.client import JobStatus, RayClient

EVIL = "<img src=x onerror=alert(1)><script>window.__pwned = 1</script>"
LINE = '[data-testid="raynb-log-line"]'


def test_logview_shows_lines_live_and_markup_as_text(lab, page, client: RayClient) -> None:
    url, root = lab
    code = (
        "import time\n"
        f"print({EVIL!r}, flush=True)\n"
        "for i in range(40):\n"
        "    print(f'live-{i:03d}', flush=True)\n"
        "    time.sleep(0.25)\n"
    )
    name = write_notebook(root, "logview.ipynb", [*job_cells(code), "from raynb.widgets import LogView\nLogView(job_id)"])
    open_and_run(page, url, name)
    page.locator(LINE, has_text="live-005").wait_for(timeout=120_000)
    job_id = page.evaluate("() => document.querySelector('[data-testid=raynb-job-id]').textContent").strip()
    assert client.get_job_status(job_id) == JobStatus.RUNNING  # lines arrive while the job prints
    page.locator('[data-testid="raynb-final"]', has_text="SUCCEEDED").wait_for(timeout=120_000)
    assert page.locator(LINE, has_text="live-039").count() == 1
    # Early lines scrolled out of the virtual list: the filter box brings the markup line back.
    page.locator('[data-testid="raynb-filter"]').fill("onerror")
    exact = re.compile("^" + re.escape(EVIL) + "$")
    page.locator(LINE).filter(has_text=exact).wait_for(timeout=30_000)  # shown as text
    assert page.locator('[data-testid="raynb-log"] img, [data-testid="raynb-log"] script').count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []


def test_jobs_table_stop_button_stops_the_job(lab, page, client: RayClient, dashboard_url: str) -> None:
    url, root = lab
    job_id = client.submit_job("sleep 300", metadata={"test": "jobs-table"}).submission_id
    wait_status(client, job_id, {JobStatus.RUNNING})
    name = write_notebook(root, "jobs.ipynb", ["from raynb.widgets import JobsTable\nJobsTable()"])
    open_and_run(page, url, name)
    row = page.locator(f'[data-testid="raynb-job-row"][data-job-id="{job_id}"]')
    row.wait_for(timeout=120_000)
    row.locator('[data-testid="raynb-stop"]').click()
    page.locator('[data-testid="raynb-notice"]', has_text=job_id).wait_for(timeout=60_000)
    assert wait_status(client, job_id, {JobStatus.STOPPED, JobStatus.FAILED}) == JobStatus.STOPPED
    row.get_by_text("STOPPED", exact=True).wait_for(timeout=60_000)  # the table catches up by itself


def test_cluster_panel_shows_the_head_cpus(lab, page, client: RayClient) -> None:
    url, root = lab
    total = client.get_cluster_status().resources["CPU"].total
    name = write_notebook(root, "cluster.ipynb", ["from raynb.widgets import ClusterPanel\nClusterPanel()"])
    open_and_run(page, url, name)
    page.locator('[data-testid="raynb-total-CPU"]', has_text=f"/ {total:g}").wait_for(timeout=120_000)
    head = next(n for n in client.list_nodes() if n.is_head_node)
    page.locator(f'[data-testid="raynb-node-row"][data-node-id="{head.node_id}"]').wait_for(timeout=60_000)


def test_dashboard_in_the_dark_theme(lab, page, client: RayClient) -> None:
    url, root = lab
    set_theme(url, dark=True)
    try:
        cells = [*job_cells("print('\\x1b[32mgreen\\x1b[0m and \\x1b[31mred\\x1b[0m')"),
                 "%load_ext raynb\n%ray_dashboard", "from raynb.widgets import LogView\nLogView(job_id)"]
        name = write_notebook(root, "dark.ipynb", cells)
        open_and_run(page, url, name)
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
        page.locator('[data-testid="raynb-total-CPU"]').first.wait_for(timeout=120_000)
        page.locator('[data-testid="raynb-final"]', has_text="SUCCEEDED").wait_for(timeout=120_000)
        time.sleep(1)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "dashboard-dark.png"), full_page=True)
        # Readable: the log text color is light on the dark background.
        color = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=raynb-log-line]')).color"
        )
        r, g, b = (int(v) for v in color[color.index("(") + 1 : color.index(")")].split(",")[:3])
        assert (r + g + b) / 3 > 128, color
    finally:
        set_theme(url, dark=False)
