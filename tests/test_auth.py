"""Token auth against a real token-protected Ray head (RAY_AUTH_MODE=token)."""

from __future__ import annotations

import secrets

import pytest

from raynb import cluster
from raynb.client import AuthError, RayClient

TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    head = cluster.start_local_head(
        num_cpus=1,
        object_store_memory=100 * 1024**2,
        env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN},
    )
    try:
        yield head.dashboard_url
    finally:
        cluster.stop_local_head(head)


@pytest.fixture(autouse=True)
def no_ambient_token(monkeypatch, tmp_path):
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token either


def test_missing_token_is_401_and_says_what_to_do(token_head: str) -> None:
    with RayClient(token_head) as c, pytest.raises(AuthError) as err:
        c.list_jobs()
    assert err.value.status_code == 401 and "RAY_AUTH_TOKEN" in str(err.value)


def test_wrong_token_is_403_and_never_shown(token_head: str) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    with RayClient(token_head, token=wrong) as c, pytest.raises(AuthError) as err:
        c.list_jobs()
    assert err.value.status_code == 403
    assert wrong not in str(err.value) and TOKEN not in str(err.value)


def test_token_from_argument_env_and_file(token_head: str, monkeypatch, tmp_path) -> None:
    with RayClient(token_head, token=TOKEN) as c:
        assert c.get_version().ray_version
    monkeypatch.setenv("RAY_AUTH_TOKEN", TOKEN)
    with RayClient(token_head) as c:
        assert c.list_jobs().total >= 0
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token_file))
    with RayClient(token_head) as c:
        assert c.list_nodes().total >= 1


def test_the_local_head_token_goes_to_its_addresses_only(ray_head, monkeypatch) -> None:
    """The session's head was started by raynb: it has token auth, raynb's client finds the token
    for its addresses (any spelling of loopback) and sends it nowhere else."""
    import httpx

    from raynb import state
    from raynb.client import resolve_token
    from raynb.server.connection import Connection

    if not state.is_local_head(ray_head.dashboard_url):
        pytest.skip("a reused head (RAYNB_TEST_DASHBOARD) was not started by raynb")
    token = state.token_file().read_text().strip()
    assert state.token_file().stat().st_mode & 0o777 == 0o600
    assert httpx.get(f"{ray_head.dashboard_url}/api/jobs/", trust_env=False).status_code == 401
    port = ray_head.dashboard_url.rsplit(":", 1)[1]
    for address in (ray_head.dashboard_url, f"http://localhost:{port}", ray_head.gcs_address, ray_head.client_address):
        assert resolve_token(None, address) == token
    assert resolve_token(None, "http://10.1.2.3:8265") is None and resolve_token(None, "http://127.0.0.1:1") is None
    assert Connection(ray_head.dashboard_url, "%ray_connect").token is None  # the client resolves it
    assert Connection("http://10.1.2.3:8265", "%ray_connect").token == ""
    with RayClient(ray_head.dashboard_url) as c:
        assert c.list_jobs().total >= 0
