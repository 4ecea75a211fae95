"""Where the dashboard is and how to authenticate to it (no I/O beyond reading a token file)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadRequestError, register_secret
from ..state import head_token

DEFAULT_ADDRESS = "http://127.0.0.1:8265"


def resolve_address(address: str | None = None) -> str:
    """Dashboard URL: argument > RAY_API_SERVER_ADDRESS > RAY_ADDRESS (if http/https) > default.

    A missing scheme gets ``http://``; a trailing slash is dropped.
    """
    candidates = [address, os.environ.get("RAY_API_SERVER_ADDRESS")]
    ray_address = os.environ.get("RAY_ADDRESS", "")
    if ray_address.startswith(("http://", "https://")):
        candidates.append(ray_address)
    chosen = next((c.strip() for c in candidates if c and c.strip()), DEFAULT_ADDRESS)
    if chosen.startswith("ray://"):
        raise BadRequestError(
            f"{chosen} is a Ray Client address; the dashboard client needs the dashboard "
            "URL, e.g. http://127.0.0.1:8265"
        )
    if "://" not in chosen:
        chosen = "http://" + chosen
    if not chosen.startswith(("http://", "https://")):
        raise BadRequestError(f"unsupported address {chosen!r}: use http://host:port")
    return chosen.rstrip("/")


def resolve_token(token: str | None = None, address: str | None = None) -> str | None:
    """Ray auth token: argument > the token of a local head raynb started at ``address`` >
    RAY_AUTH_TOKEN > RAY_AUTH_TOKEN_PATH > ~/.ray/auth_token. ``token=""`` means none."""
    if token is None:
        token = head_token(address) or os.environ.get("RAY_AUTH_TOKEN") or None
    if token is None:
        for path in (os.environ.get("RAY_AUTH_TOKEN_PATH"), Path.home() / ".ray" / "auth_token"):
            if path and Path(path).is_file():
                token = Path(path).read_text().strip() or None
                break
    if token:
        token = token.strip()
        register_secret(token)
    return token or None
