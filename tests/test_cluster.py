"""raynb.cluster against real Ray: start a private head, reuse it, run a job, stop it cleanly.

Each test starts at most one head at a time (a head takes ~8 s and ~1 GB).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ray_helpers import run_driver, user_driver_env

from raynb import cluster

DEV_DASHBOARD = "http://127.0.0.1:8265"  # a developer's head may run here; we must leave it alone


def answers(url: str) -> bool:
    """True if a dashboard answers at ``url`` (a head with token auth answers 401 without it)."""
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code in (200, 401)
    except httpx.HTTPError:
        return False


def processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, start time, command line) of live processes."""
    table = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and stat[0] != "Z":
            table[int(entry.name)] = (int(stat[1]), stat[19], cmdline)
    return table


def using(temp_dir: str) -> set[int]:
    return {pid for pid, (_, _, cmd) in processes().items() if temp_dir in cmd}


def process_tree(root: int) -> dict[int, str]:
    """pid -> start time of ``root`` and all its descendants."""
    table = processes()
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        tree[pid] = table[pid][1]
        stack.extend(p for p, (ppid, _, _) in table.items() if ppid == pid)
    return tree


def survivors(tree: dict[int, str]) -> set[int]:
    table = processes()
    return {pid for pid, start in tree.items() if pid in table and table[pid][1] == start}


def ray_heads() -> set[int]:
    """Pids of every `ray start --head --block` on the machine."""
    return {
        pid for pid, (_, _, cmd) in processes().items() if " start --head --block " in cmd
    }


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAYNB_STATE_DIR", str(tmp_path))
    return tmp_path


def test_import_does_not_import_ray():
    code = "import sys, raynb.cluster; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def run_python(code: str, *args: str, logs: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter (like a second kernel); return its stdout.

    On failure the message carries the ends of Ray's client server logs under ``logs``.
    """
    done = run_driver(["-c", code, *args], timeout=180, env=env)
    if done.returncode:
        found = sorted(Path(logs).glob("session_*/logs/ray_client_server*")) if logs else []
        tails = "".join(f"\n--- {p.name}:\n{p.read_text(errors='replace')[-1500:]}" for p in found)
        raise AssertionError(f"exit {done.returncode}: {done.stderr[-3000:]}{tails}")
    return done.stdout


def test_start_submit_reuse_stop(state_dir: Path):
    dev_up = answers(f"{DEV_DASHBOARD}/api/version")
    head = cluster.start_local_head(num_cpus=1)
    try:
        # It runs with Ray's token auth: nobody without raynb's token (mode 0600) submits a job.
        token_file = Path(head.token_file)
        assert token_file.parent == state_dir and token_file.stat().st_mode & 0o777 == 0o600
        entrypoint = f"{shlex.quote(sys.executable)} -c 'print(6 * 7)'"
        refused = httpx.post(f"{head.dashboard_url}/api/jobs/", json={"entrypoint": entrypoint}, trust_env=False)
        assert refused.status_code == 401
        auth = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        # Submitting right after start works: start_local_head waited for the job agent.
        resp = httpx.post(
            f"{head.dashboard_url}/api/jobs/", json={"entrypoint": entrypoint}, timeout=30, trust_env=False,
            headers=auth,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text
        job = f"{head.dashboard_url}/api/jobs/{resp.json()['submission_id']}"

        assert head.started_here and head.pid in using(head.temp_dir)
        assert head.dashboard_url != DEV_DASHBOARD
        assert httpx.get(f"{head.dashboard_url}/api/version", trust_env=False, headers=auth).json()["ray_version"]
        state = json.loads((state_dir / "local_head.json").read_text())
        assert state["pid"] == head.pid and state["dashboard_url"] == head.dashboard_url

        heads_before = ray_heads()
        assert cluster.ensure_local_head() == head
        # A second kernel reuses the head through the state file, and leaves it running on exit.
        other = json.loads(run_python(
            "import json, dataclasses, raynb.cluster as c;"
            "print(json.dumps(dataclasses.asdict(c.ensure_local_head())))"
        ).splitlines()[-1])  # fmt: skip
        assert other["dashboard_url"] == head.dashboard_url
        assert other["started_here"] is False and other["pid"] is None
        assert ray_heads() == heads_before
        assert answers(f"{head.dashboard_url}/api/version")

        # Drivers connect through both advertised addresses, each a fresh process naming the token file.
        driver = "import sys, ray; ray.init(address=sys.argv[1]); print(ray.get(ray.remote(lambda: 6 * 7).remote()))"
        for address in (head.client_address, head.gcs_address):
            out = run_python(driver, address, logs=head.temp_dir, env=user_driver_env(address))
            assert out.split()[-1] == "42"

        deadline = time.monotonic() + 120
        while (status := httpx.get(job, trust_env=False, headers=auth).json()["status"]) in ("PENDING", "RUNNING"):
            assert time.monotonic() < deadline, f"job still {status}"
            time.sleep(0.5)
        assert status == "SUCCEEDED"
        assert "42" in httpx.get(f"{job}/logs", trust_env=False, headers=auth).json()["logs"]
        tree = process_tree(head.pid)  # includes workers, which rename themselves ray::...
    finally:
        t0 = time.monotonic()
        stopped = cluster.stop_local_head(head)
        print(f"stop took {time.monotonic() - t0:.1f}s")
    assert stopped
    assert not survivors(tree)
    assert not using(head.temp_dir)
    assert not answers(f"{head.dashboard_url}/api/version")
    assert not (state_dir / "local_head.json").exists()
    assert not Path(head.temp_dir).exists()
    assert cluster.stop_local_head(head) is False
    if dev_up:
        assert answers(f"{DEV_DASHBOARD}/api/version"), "the developer's head was stopped"


def test_head_is_stopped_when_its_process_exits(state_dir: Path):
    head = json.loads(run_python(
        "import json, dataclasses, raynb.cluster as c;"
        "print(json.dumps(dataclasses.asdict(c.start_local_head(num_cpus=1))))"
    ).splitlines()[-1])  # fmt: skip
    assert head["started_here"]
    assert not using(head["temp_dir"])
    assert not answers(f"{head['dashboard_url']}/api/version")
    assert not (state_dir / "local_head.json").exists()


def test_stop_kills_unresponsive_head(state_dir: Path):
    head = cluster.start_local_head(num_cpus=1)
    tree = process_tree(head.pid)
    os.kill(head.pid, signal.SIGSTOP)  # `ray start` can no longer handle SIGTERM
    assert cluster.stop_local_head(head, timeout=2)
    assert not survivors(tree)
    assert not using(head.temp_dir)
    assert not answers(f"{head.dashboard_url}/api/version")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": 1}, r"not ready in 1s"),  # killed mid-startup
        ({"object_store_memory": 1024}, r"exited \(1\)"),  # Ray rejects the setting
    ],
)
def test_failed_start_points_at_log_and_cleans_up(state_dir: Path, kwargs: dict, error: str):
    with pytest.raises(RuntimeError, match=error + r"; see /\S+/raynb-head\.log$") as info:
        cluster.start_local_head(num_cpus=1, **kwargs)
    log = Path(re.search(r"see (\S+)$", str(info.value)).group(1))
    try:
        assert log.exists()
        assert not using(str(log.parent))
        assert not (state_dir / "local_head.json").exists()
    finally:
        shutil.rmtree(log.parent, ignore_errors=True)
