"""Configuration and request building shared by the client; no I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import BadRequestError
from .address import resolve_address, resolve_token
from .logs import StreamLimits

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+=-]{0,254}")
_HEX_ID = re.compile(r"[0-9a-fA-F]{8,128}")
_FILTER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|=)\s*(.*?)\s*")
MAX_LIST_LIMIT = 10_000

Filters = Mapping[str, Any] | Iterable[str | tuple[str, str, Any]] | None


def check_id(value: Any, what: str = "job id", *, hex_only: bool = False, source: str | None = None) -> str:
    """Return ``value`` if it is safe to put in a URL path or query, else raise 400."""
    pattern = _HEX_ID if hex_only else _ID
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        shown = repr(value)[:80]
        rule = "hex digits" if hex_only else "letters, digits and _ . : @ + = -"
        raise BadRequestError(f"invalid {what} {shown}: use {rule}, no '/' or '..'", source=source)
    return value


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequestError(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {limit!r}")
    return limit


def filter_params(filters: Filters) -> list[tuple[str, str]]:
    """State-API query pairs for filters given as a dict, 'key=value' strings or triples."""
    if not filters:
        return []
    if isinstance(filters, Mapping):
        triples = [(k, "=", v) for k, v in filters.items()]
    else:
        triples = []
        for item in filters:
            if isinstance(item, str):
                match = _FILTER.fullmatch(item)
                if not match:
                    raise BadRequestError(f"bad filter {item!r}: write key=value or key!=value")
                triples.append(match.groups())
            else:
                triples.append(tuple(item))
    params: list[tuple[str, str]] = []
    for key, op, value in triples:
        if op not in ("=", "!="):
            raise BadRequestError(f"bad filter operator {op!r}: use = or !=")
        if isinstance(value, bool):
            value = str(value).lower()
        params += [("filter_keys", str(key)), ("filter_predicates", op), ("filter_values", str(value))]
    return params


class BaseClient:
    """Holds address, auth, headers, timeout, TLS and stream limits; builds URLs and headers."""

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
        limits: StreamLimits | None = None,
    ) -> None:
        self.address = resolve_address(address)
        self.timeout = float(timeout)
        self.verify = verify
        self.limits = limits or StreamLimits()
        self._headers = dict(headers or {})
        token = resolve_token(token)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    @property
    def ws_address(self) -> str:
        return "ws" + self.address[len("http") :]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"
