"""Configuration and request building shared by the client; no I/O here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ..errors import BadRequestError
from .address import resolve_address, resolve_token
from .limits import StreamLimits

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+=-]{0,254}")
_HEX_ID = re.compile(r"[0-9a-fA-F]+")
_FILTER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|=)\s*(.*?)\s*")
MAX_LIST_LIMIT = 10_000

Filters = Mapping[str, Any] | Iterable[str | tuple[str, str, Any]] | None


def check_id(value: Any, what: str = "job id", *, source: str | None = None) -> str:
    """Return ``value`` if it is safe to put in a URL path or query, else raise 400."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or ".." in value:
        shown = repr(value)[:80]
        raise BadRequestError(
            f"invalid {what} {shown}: use letters, digits and _ . : @ + = -, no '/' or '..'", source=source
        )
    return value


# Ray's ids are fixed-size binary ids shown as hex (ray._raylet.*ID.size() * 2 digits).
HEX_ID_LENGTHS = {"node id": 56, "worker id": 56, "task id": 48, "placement group id": 36,
                  "actor id": 32, "job id": 8}


def check_ray_id(value: Any, what: str) -> str:
    """``value`` if it is a well-formed Ray id of kind ``what`` (e.g. 'node id'), else 400."""
    digits = HEX_ID_LENGTHS[what]
    if not isinstance(value, str) or len(value) != digits or not _HEX_ID.fullmatch(value):
        plural = what.rsplit(" ", 1)[0] + "s"
        raise BadRequestError(
            f"invalid {what} {repr(value)[:80]}: a {what} is {digits} hex digits (list the {plural} to see them)"
        )
    return value.lower()


def check_timeout(value: Any, what: str = "timeout") -> float:
    """``value`` as seconds if it is a positive finite number, else 400."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        shown = repr(value) if isinstance(value, int | float) else f"a {type(value).__name__}"  # never echo text
        raise BadRequestError(f"{what} must be a positive number of seconds, got {shown}")
    return float(value)


def http_timeout(timeout: Any) -> httpx.Timeout:
    """A timeout given as seconds, or as the seed documents' dict (``connect``, ``read``, and
    ``write``/``pool``; the ones left out take ``read``'s value, or 30 s)."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, Mapping):
        unknown = set(timeout) - {"connect", "read", "write", "pool"}
        if unknown:
            raise BadRequestError(f"timeout keys are connect, read, write, pool; not {sorted(unknown)}")
        given = {k: check_timeout(v, f"timeout[{k!r}]") for k, v in timeout.items()}
        default = given.get("read", 30.0)
        return httpx.Timeout(default, **given)
    return httpx.Timeout(check_timeout(timeout))


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequestError(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {limit!r}")
    return limit


Filter = tuple[str, str, str]

# Filters Ray applies at its data source, before it cuts the rows (Ray 2.60,
# util/state/state_manager.py); the others it applies to the rows the source returned.
_SOURCE_FILTERS = {
    "tasks": ({"actor_id", "job_id", "task_id", "name", "state"}, ("=", "!=")),
    "actors": ({"actor_id", "job_id", "state"}, ("=",)),
    "nodes": ({"node_id", "state", "node_name"}, ("=",)),
}
_ID_FILTERS = {"node_id": "node id", "task_id": "task id", "actor_id": "actor id", "job_id": "job id",
               "worker_id": "worker id", "placement_group_id": "placement group id"}


def parse_filters(filters: Filters) -> list[Filter]:
    """``(key, op, value)`` triples for filters given as a dict, 'key=value' strings or triples;
    a bad operator or a malformed id value is a 400 before any request."""
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
    parsed = []
    for key, op, value in triples:
        if op not in ("=", "!="):
            raise BadRequestError(f"bad filter operator {op!r}: use = or !=")
        if isinstance(value, bool):
            value = str(value).lower()
        if key in _ID_FILTERS:
            value = check_ray_id(str(value), _ID_FILTERS[key])
        parsed.append((str(key), op, str(value)))
    return parsed


def filter_query(triples: list[Filter]) -> list[tuple[str, str]]:
    """The state API's query pairs for parsed filters."""
    params: list[tuple[str, str]] = []
    for key, op, value in triples:
        params += [("filter_keys", key), ("filter_predicates", op), ("filter_values", value)]
    return params


def late_filters(resource: str, triples: list[Filter]) -> tuple[str, ...]:
    """The filters Ray applies only after its data source cut the rows of ``resource``."""
    keys, ops = _SOURCE_FILTERS.get(resource, (set(), ()))
    return tuple(f"{k}{op}{v}" for k, op, v in triples if k not in keys or op not in ops)


class ClientConfig:
    """Holds address, auth, headers, timeout, TLS and stream limits; builds URLs and headers.

    ``base_url`` (or ``address``): the dashboard, resolved by :func:`resolve_address`.
    ``timeout``: seconds, or a dict ``{"connect": 5, "read": 30}``. ``stream_limits`` bound
    each log stream; like ``timeout`` it is a setting that can be assigned later, and the
    next call uses it. ``node_agents`` maps a node id or IP to the URL its dashboard agent is
    reached at (a forwarded port), for log reads by byte range where the node's own address is
    not reachable. Assigning any other public attribute is an error, so a misspelt setting
    never passes silently.
    """

    SETTINGS = ("stream_limits", "timeout", "node_agents")

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | Mapping[str, float] = 30.0,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
        stream_limits: StreamLimits | None = None,
        address: str | None = None,
    ) -> None:
        if base_url is not None and address is not None and base_url != address:
            raise BadRequestError("give the dashboard once: base_url or address, not both")
        self.address = resolve_address(base_url if base_url is not None else address)
        self.verify = verify
        self._headers = dict(headers or {})
        token = resolve_token(token, self.address)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.stream_limits = stream_limits or StreamLimits()
        self.node_agents: dict[str, str] = {}
        self._ready = True

    def __setattr__(self, name: str, value: Any) -> None:
        fixed = name in ("address", "verify")
        if name == "timeout":
            self._http_timeout = http_timeout(value)
            value = self._http_timeout.read or self._http_timeout.connect or 30.0
            if "_http" in self.__dict__:
                self._http.timeout = self._http_timeout
        elif name == "stream_limits" and not isinstance(value, StreamLimits):
            raise BadRequestError(f"stream_limits must be a StreamLimits, not {type(value).__name__}")
        elif fixed and self.__dict__.get("_ready") or not (fixed or name.startswith("_") or name in self.SETTINGS):
            what = "is fixed when the client is made" if fixed else "is not a setting"
            raise AttributeError(
                f"{type(self).__name__}.{name} {what}; its settings are {', '.join(self.SETTINGS)}"
            )
        object.__setattr__(self, name, value)

    @property
    def base_url(self) -> str:
        """The dashboard URL (the seed documents' name for :attr:`address`)."""
        return self.address

    @property
    def ws_address(self) -> str:
        return "ws" + self.address[len("http") :]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"
