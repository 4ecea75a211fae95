"""The %ray_* magics in a real IPython shell against the real Ray head."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from ray_helpers import py_entrypoint, wait_for_status, wait_terminal

from raynb.ansi import strip_ansi
from raynb.client import JobStatus, NotFoundError, RayClient, UnavailableError
from raynb.errors import ExecutionError

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


def run_cell(shell: InteractiveShell, source: str):
    """Run a cell as the notebook does; return its displayed outputs, what IPython printed for
    its error (stdout: tracebacks, stderr: usage errors, ANSI removed) and the ExecutionResult."""
    with capture_output() as cap:
        result = shell.run_cell(source)
    return cap.outputs, strip_ansi(cap.stdout + cap.stderr), result


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
        assert "option_strings" not in doc  # a lone % in a help text breaks argparse's formatting
    doc = " ".join(shell.find_magic("ray_job").__doc__.split())
    assert "--resources JSON, --entrypoint-resources JSON" in doc and "job_id %ray_job ID: show one job" in doc
    assert "--no-raise %%ray_job: a job that ends FAILED or STOPPED does not fail the cell" in doc


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


def test_failed_cell_job_fails_the_cell_with_one_line(shell: InteractiveShell) -> None:
    outputs, shown, result = run_cell(shell, "%%ray_job --out jid\nprint('bye')\nraise SystemExit(3)\n")
    job_id = shell.user_ns["jid"]
    assert isinstance(result.error_in_exec, ExecutionError) and result.error_in_exec.job_id == job_id
    reason = "Job entrypoint command failed with exit code 3"
    assert shown == f"✖ {job_id} failed: JOB_ENTRYPOINT_COMMAND_ERROR: {reason}\n"
    *log, status = last_bundle(outputs)["text/plain"].splitlines()  # the log was shown first
    assert log.count("bye") == 1 and status.startswith(f"✖ {job_id} FAILED (exit code 3) in ")
    assert status.endswith(f": {reason}")  # Ray's first sentence, not the log it embeds again


def test_no_raise_shows_the_failure_and_returns(shell: InteractiveShell) -> None:
    outputs, shown, result = run_cell(shell, "%%ray_job --no-raise\nraise SystemExit(4)\n")
    assert result.success and shown == ""
    assert "FAILED (exit code 4)" in last_bundle(outputs)["text/plain"].splitlines()[-1]


def test_stopped_cell_job_fails_the_cell(shell: InteractiveShell, dashboard_url: str) -> None:
    stop_myself = (  # the job stops itself through the Jobs API, then waits to be stopped
        "import json, os, time, urllib.request\n"
        "me = json.loads(os.environ['RAY_JOB_CONFIG_JSON_ENV_VAR'])['metadata']['job_submission_id']\n"
        "print('stopping', flush=True)\n"
        "token = os.environ.get('RAY_AUTH_TOKEN_PATH')  # a head raynb started has token auth\n"
        "auth = {'Authorization': 'Bearer ' + open(token).read().strip()} if token else {}\n"
        "urllib.request.urlopen(urllib.request.Request(f\"{os.environ['DASH']}/api/jobs/{me}/stop\", method='POST',"
        " headers=auth))\n"
        "time.sleep(300)\n"
    )
    outputs, shown, result = run_cell(shell, f"%%ray_job --env DASH={dashboard_url} --out jid\n{stop_myself}")
    job_id = shell.user_ns["jid"]
    assert isinstance(result.error_in_exec, ExecutionError)
    assert shown == f"✖ {job_id} failed: JobStopped: the job was stopped\n"
    assert "STOPPED" in last_bundle(outputs)["text/plain"].splitlines()[-1]


def test_no_wait_then_stop(shell: InteractiveShell, client: RayClient) -> None:
    outputs, _, _ = run(shell, "ray_job --no-wait --out jid", "import time\ntime.sleep(300)\n")
    job_id = shell.user_ns["jid"]
    assert job_id in last_bundle(outputs)["text/plain"]
    wait_for_status(client, job_id, {JobStatus.RUNNING})
    _, stdout, result = run(shell, f"ray_stop {job_id}")
    assert result is None and f"Stopped {job_id}: STOPPED" in stdout
    assert client.get_job_status(job_id) == JobStatus.STOPPED
    _, shown, result = run_cell(shell, f"%ray_stop {job_id}")  # stopping an ended job is a 400
    assert isinstance(result.error_in_exec, UsageError)
    assert shown == f"UsageError: job {job_id} is already in terminal state STOPPED: there is nothing to stop\n"


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


def test_follow_tail_opens_at_the_last_lines_then_goes_live(shell: InteractiveShell, client: RayClient, tmp_path) -> None:
    go = tmp_path / "go"
    code = (
        "import os, sys, time\nfor i in range(5000):\n    sys.stdout.write(f'row {i:04d}\\n')\nsys.stdout.flush()\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
        "for i in range(5):\n    print(f'live {i}', flush=True)\n"
    )
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    deadline = time.monotonic() + 120
    while "row 4999" not in client.get_job_logs(job_id):
        assert time.monotonic() < deadline, "the job did not print its 5000 lines"
        time.sleep(0.2)
    run(shell, f"ray_logs {job_id} --follow --tail 30 --background")
    follower = shell._raynb_session.followers[job_id]
    deadline = time.monotonic() + 60
    while len(follower.view.lines) < 30:
        assert time.monotonic() < deadline, "the last 30 lines did not come"
        time.sleep(0.05)
    assert list(follower.view.lines) == [f"row {i:04d}" for i in range(4970, 5000)]  # not a replay
    go.touch()
    follower.thread.join(timeout=120)
    assert list(follower.view.lines) == [f"row {i:04d}" for i in range(4975, 5000)] + [f"live {i}" for i in range(5)]
    text = follower.view.render().text
    assert text.startswith("… earlier lines hidden") and "SUCCEEDED" in text


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


def test_cell_job_with_resources_runs_on_that_node(shell: InteractiveShell, client: RayClient, worker_node) -> None:
    cell = "for i in range(50):\n    print('on the worker', i)\n"
    outputs, _, _ = run(shell, f"ray_job --resources '{{\"{worker_node.resource}\": 1}}' --out jid", cell)
    job = client.get_job(shell.user_ns["jid"])
    assert job.status == JobStatus.SUCCEEDED and job.driver_node_id == worker_node.node_id
    *log, status = last_bundle(outputs)["text/plain"].splitlines()
    assert log == client.get_job_logs(job.id).splitlines() and status.startswith(f"✔ {job.id} SUCCEEDED")
    assert [line for line in log if "on the worker" in line] == [f"on the worker {i}" for i in range(50)]


@pytest.mark.parametrize(
    ("value", "says"),
    [("'{\"CPU\": 1}'", "give CPU with --num-cpus"), ("'{\"memory\": 1}'", "--memory"),
     ("'{\"worker_node\": 0}'", "positive number"), ("'{\"worker_node\": true}'", "positive number"),
     ("'{\"worker_node\": \"1\"}'", "positive number"), ("'[1]'", "JSON object"), ("'{}'", "JSON object"),
     ("{worker_node:1}", "JSON object"), ("'{\" \": 1}'", "cannot be empty")],
)
@pytest.mark.parametrize("option", ["--resources", "--entrypoint-resources"])
def test_bad_resources_are_usage_errors_before_submission(
    shell: InteractiveShell, client: RayClient, option: str, value: str, says: str
) -> None:
    marker = uuid.uuid4().hex
    with pytest.raises(UsageError, match=says) as caught:
        run(shell, f"ray_job {option} {value} --env MARK={marker}", "print('never')\n")
    assert "\n" not in str(caught.value)
    assert not any(marker in json.dumps(j.runtime_env or {}) for j in client.list_jobs())


def test_listings_say_truthfully_what_is_missing(shell: InteractiveShell, client: RayClient) -> None:
    task, cls = f"raynb_probe_{uuid.uuid4().hex[:8]}", f"RaynbProbe{uuid.uuid4().hex[:8]}"
    code = (
        "import ray\nray.init()\n"
        f"Probe = ray.remote(type({cls!r}, (), {{'ping': lambda self: 1}}))\n"
        "actors = [Probe.remote() for _ in range(2)]\nray.get([a.ping.remote() for a in actors])\n"
        f"ray.get([ray.remote(lambda: 1).options(name={task!r}).remote() for _ in range(7)])\n"
    )
    job_id = client.submit_job(py_entrypoint(code)).submission_id
    assert wait_terminal(client, job_id) == JobStatus.SUCCEEDED
    deadline = time.monotonic() + 60  # Ray reports task events a moment after they happen
    while len(client.list_tasks(filters=[f"name={task}", "state=FINISHED"], limit=100)) < 7:
        assert time.monotonic() < deadline, "the probe's tasks did not show up"
        time.sleep(0.5)
    outputs, _, _ = run(shell, f"ray_tasks --filter name={task} --filter state=FINISHED --limit 3")
    assert last_bundle(outputs)["text/plain"].splitlines()[-1] == (
        "showing 3 of 7 matching tasks: raise the limit to see more")
    outputs, _, _ = run(shell, f"ray_tasks --filter name={task} --limit 7")
    assert "showing" not in last_bundle(outputs)["text/plain"]
    outputs, _, _ = run(shell, f"ray_actors --filter class_name={cls} --limit 1 --out actors")
    assert shell.user_ns["actors"].total > 2  # rows before the filter: not what a footer may count
    assert last_bundle(outputs)["text/plain"].splitlines()[-1] == (
        "showing 1 of 2 matching actors: raise the limit to see more")


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


def test_client_errors_fail_the_cell_with_one_red_line(shell: InteractiveShell, dashboard_url: str) -> None:
    user_code = f"from raynb.client import RayClient\nRayClient({dashboard_url!r}).get_job('raysubmit_nope')"
    for line in ("%ray_job raysubmit_nope", "%ray_stop raysubmit_nope", "%ray_logs raysubmit_nope --follow",
                 "%ray_serve get nope", user_code):
        with capture_output() as cap:
            result = shell.run_cell(line)
        assert isinstance(result.error_in_exec, NotFoundError), line
        assert cap.stdout.startswith("\x1b[31m✖ ") and cap.stdout.endswith("\x1b[0m\n")  # red
        assert strip_ansi(cap.stdout).count("\n") == 1 and "404" in cap.stdout and "Traceback" not in cap.stdout


def test_remote_failure_shows_one_line_and_the_last_remote_frame(shell: InteractiveShell) -> None:
    code = (
        "from raynb.errors import ExecutionError\n"
        "raise ExecutionError('raysubmit_x', 'ZeroDivisionError', 'division by zero', traceback="
        "'  File \"job.py\", line 3, in execute\\n    return half(a)\\n"
        "  File \"job.py\", line 7, in half\\n    return a / 0')"
    )
    _, shown, result = run_cell(shell, code)
    assert isinstance(result.error_in_exec, ExecutionError)
    assert shown.splitlines() == ["✖ raysubmit_x failed: ZeroDivisionError: division by zero",
                                  '  File "job.py", line 7, in half', "    return a / 0"]


def test_unreachable_dashboard_fails_the_cell_with_one_line(shell: InteractiveShell, dashboard_url: str) -> None:
    _, shown, result = run_cell(shell, "%ray_connect http://127.0.0.1:9")
    assert isinstance(result.error_in_exec, UnavailableError)
    assert shown.count("\n") == 1 and "503" in shown and "ray start --head" in shown
    with capture_output():
        shell.run_line_magic("ray_connect", dashboard_url)
