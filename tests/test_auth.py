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
