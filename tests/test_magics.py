"""The %ray_* magics in a real IPython shell against the real Ray head."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal

from raynb.client import JobStatus, RayClient

EVIL = "<img src=x onerror=alert(1)>"


def run(shell: InteractiveShell, line: str, cell: str | None = None):
    """Run a magic; return its displayed outputs (updates included), stdout and result."""
    name, _, rest = line.partition(" ")
    with capture_output() as cap:
        if cell is None:
            result = shell.run_line_magic(name, rest)
        else:
            result = shell.run_cell_magic(name, rest, cell)
    return cap.outputs, cap.stdout, result


def last_bundle(outputs) -> dict:
    assert outputs, "the magic displayed nothing"
    return outputs[-1].data


def test_load_ext_does_not_import_ray() -> None:
    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'raynb')\n"
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_generated_help(shell: InteractiveShell) -> None:
    for name in ("ray_jobs", "ray_logs", "ray_job", "ray_connect", "ray_tasks", "ray_serve"):
        doc = shell.find_magic(name).__doc__
        assert f"%{name}" in doc and "--" in doc  # magic_arguments' usage and options


def test_connect_card_and_status(shell: InteractiveShell, dashboard_url: str) -> None:
    outputs, _, result = run(shell, f"ray_connect {dashboard_url}")
    assert result is None
    bundle = last_bundle(outputs)
    assert dashboard_url in bundle["text/html"] and "CPU" in bundle["text/plain"]
    outputs, _, _ = run(shell, "ray_status --out st")
    assert "CPU" in last_bundle(outputs)["text/plain"]
    assert shell.user_ns["st"].nodes_alive >= 1


def test_cell_job_streams_and_ends_with_status(shell: InteractiveShell, client: RayClient) -> None:
    cell = "import sys\nfor i in range(5):\n    print('cell line', i)\nprint('" + EVIL + "')\n"
    outputs, _, result = run(shell, "ray_job --env GREETING=hi --out jid", cell)
    assert result is None
    job_id = shell.user_ns["jid"]
    final = last_bundle(outputs)
    assert "cell line 4" in final["text/plain"] and "SUCCEEDED" in final["text/plain"]
    assert EVIL not in final["text/html"] and "&lt;img src=x onerror=alert(1)&gt;" in final["text/html"]
    assert all(o.update for o in outputs[1:])  # one output area, updated in place
    assert client.get_job(job_id).runtime_env["env_vars"] == {"GREETING": "hi"}


def test_failed_cell_job_shows_exit_code_and_message(shell: InteractiveShell) -> None:
    outputs, _, _ = run(shell, "ray_job", "raise SystemExit(3)\n")
    text = last_bundle(outputs)["text/plain"]
    assert "FAILED (exit code 3)" in text


def test_no_wait_then_stop(shell: InteractiveShell, client: RayClient) -> None:
    outputs, _, _ = run(shell, "ray_job --no-wait --out jid", "import time\ntime.sleep(300)\n")
    job_id = shell.user_ns["jid"]
    assert job_id in last_bundle(outputs)["text/plain"]
    wait_for_status(client, job_id, {JobStatus.RUNNING})
    _, stdout, result = run(shell, f"ray_stop {job_id}")
    assert result is None and f"Stopped {job_id}: STOPPED" in stdout
    assert client.get_job_status(job_id) == JobStatus.STOPPED
    _, stdout, _ = run(shell, f"ray_stop {job_id}")
    assert "is not running (STOPPED)" in stdout


def test_jobs_table_job_card_logs_and_delete(shell: InteractiveShell, client: RayClient) -> None:
    job_id = client.submit_job(py_entrypoint(f"print('alpha'); print('beta'); print({EVIL!r})")).submission_id
    wait_terminal(client, job_id)
    outputs, _, _ = run(shell, "ray_jobs --status succeeded --limit 1000 --out jobs")
    bundle = last_bundle(outputs)
    assert job_id in bundle["text/plain"] and job_id in bundle["text/html"]
    assert all(j.status == JobStatus.SUCCEEDED for j in shell.user_ns["jobs"])
    assert EVIL not in bundle["text/html"]
    outputs, _, _ = run(shell, f"ray_job {job_id} --out job")
    assert shell.user_ns["job"].id == job_id and "SUCCEEDED" in last_bundle(outputs)["text/plain"]
    outputs, _, _ = run(shell, f"ray_logs {job_id} --grep ^be --out log")
    text = last_bundle(outputs)["text/plain"]
    assert "beta" in text and "alpha" not in text and "alpha" in shell.user_ns["log"]
    outputs, _, _ = run(shell, f"ray_logs {job_id}")
    assert EVIL not in last_bundle(outputs)["text/html"]
    _, stdout, _ = run(shell, f"ray_delete {job_id}")
    assert "Deleted" in stdout


def test_follow_rate_is_bounded_and_lines_are_bounded(shell: InteractiveShell, client: RayClient) -> None:
    code = "import sys\nw = sys.stdout.write\nfor i in range(100_000):\n    w(f'fast {i}\\n')\n"
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    start = time.monotonic()
    outputs, _, _ = run(shell, f"ray_logs {job_id} --follow --tail 50")
    elapsed = time.monotonic() - start
    updates = [o for o in outputs if o.update]
    # One update per 50 ms at most, plus the first display and the final one.
    assert len(updates) <= elapsed / 0.05 + 2
    text = last_bundle(outputs)["text/plain"]
    assert "fast 99999" in text and "earlier lines hidden" in text and "SUCCEEDED" in text
    assert len(text.splitlines()) <= 50 + 2


def test_interrupt_stops_following_not_the_job(shell: InteractiveShell, client: RayClient) -> None:
    job_id = client.submit_job(py_entrypoint("import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)")).submission_id
    wait_for_status(client, job_id, {JobStatus.RUNNING})
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        outputs, _, result = run(shell, f"ray_logs {job_id} --follow")
    finally:
        timer.cancel()
    text = last_bundle(outputs)["text/plain"]
    assert result is None and "keeps running" in text and f"%ray_stop {job_id}" in text
    assert "tick" in text
    assert client.get_job_status(job_id) == JobStatus.RUNNING
    client.stop_job(job_id)


def test_background_follow_leaves_the_kernel_free(shell: InteractiveShell, client: RayClient) -> None:
    job_id = client.submit_job(py_entrypoint("import time\nfor i in range(10):\n    print('bg', i, flush=True)\n    time.sleep(0.3)")).submission_id
    started = time.monotonic()
    outputs, _, result = run(shell, f"ray_logs {job_id} --follow --background")
    assert result is None and time.monotonic() - started < 2.5
    follower = shell._raynb_session.followers[job_id]
    follower.thread.join(timeout=120)
    text = follower.view.render().text
    assert "bg 9" in text and "SUCCEEDED" in text


def test_cluster_listings(shell: InteractiveShell) -> None:
    outputs, _, _ = run(shell, "ray_nodes --out nodes")
    assert shell.user_ns["nodes"][0].node_id[:8] in last_bundle(outputs)["text/plain"]
    outputs, _, _ = run(shell, "ray_tasks --filter state=FINISHED --limit 5 --out tasks")
    assert len(shell.user_ns["tasks"]) <= 5 and "text/html" in last_bundle(outputs)
    outputs, _, _ = run(shell, "ray_actors --filter state=DEAD --out actors")
    assert "text/plain" in last_bundle(outputs)
    outputs, _, _ = run(shell, "ray_serve list --out apps")
    assert "text/html" in last_bundle(outputs)


@pytest.mark.parametrize(
    "line",
    ["ray_job ../etc", "ray_logs a/b", "ray_jobs --status NOPE", "ray_logs x --tail 0",
     "ray_logs x --grep (", "ray_tasks --filter state~1", "ray_jobs --out 1bad", "ray_serve get",
     "ray_logs x --background", "ray_job"],
)
def test_user_mistakes_are_usage_errors(shell: InteractiveShell, line: str) -> None:
    with pytest.raises(UsageError):
        run(shell, line)


def test_client_errors_are_one_red_line(shell: InteractiveShell) -> None:
    for line in ("ray_job raysubmit_nope", "ray_stop raysubmit_nope", "ray_logs raysubmit_nope --follow",
                 "ray_serve get nope"):
        outputs, _, result = run(shell, line)
        bundle = last_bundle(outputs)
        assert result is None and "raynb-error" in bundle["text/html"] and "404" in bundle["text/plain"]
        assert "\n" not in bundle["text/plain"] and "Traceback" not in bundle["text/plain"]


def test_unreachable_dashboard_is_one_red_line() -> None:
    ip = InteractiveShell.instance()
    with capture_output() as cap:
        ip.run_line_magic("ray_connect", "http://127.0.0.1:9")
    bundle = cap.outputs[-1].data
    assert "503" in bundle["text/plain"] and "ray start --head" in bundle["text/plain"]
