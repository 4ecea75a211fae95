"""Every error raised by the Ray dashboard client.

One tree; catch the base to catch them all::

    RayClientError                 status_code; one-line message that says what to do
    ├── BadRequestError            400  bad id or argument, unknown protocol, refused request
    ├── AuthError                  401/403  missing or wrong token
    ├── NotFoundError              404  no such job, node, task, actor or application
    ├── RayTimeoutError            408  the dashboard did not answer in time (also a TimeoutError)
    ├── StreamLimitError           429  a log stream passed one of its StreamLimits
    ├── ServerError                500  the dashboard failed, or a library is missing on the cluster
    └── UnavailableError           503  dashboard unreachable, or the connection closed

Messages never contain a token, a cookie or an Authorization header: every message
passes through :func:`redact` before the exception is built.
"""

from __future__ import annotations

import re

__all__ = [
    "AuthError",
    "BadRequestError",
    "NotFoundError",
    "RayClientError",
    "RayTimeoutError",
    "ServerError",
    "StreamLimitError",
    "UnavailableError",
    "error_for_status",
    "redact",
    "register_secret",
]

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer\s+)?[^\s,;'\"]+"),
    re.compile(r"(?i)(bearer\s+)[^\s,;'\"]+"),
    re.compile(r"(?i)((?:set-)?cookie\s*[:=]\s*)[^\r\n'\"]+"),
    re.compile(r"(?i)((?:token|password|secret|api[_-]?key)\s*[:=]\s*)[^\s,;&'\"]+"),
]
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (a token) so no message ever shows it."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` on one line, with tokens, cookies and auth headers masked."""
    text = " ".join(str(text).split())
    for secret in _secrets:
        text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text[:500]


class RayClientError(Exception):
    """Base of every client error; ``status_code`` follows HTTP's meaning."""

    status_code: int = 500

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.message = redact(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"[{self.status_code}] {self.message}"


class BadRequestError(RayClientError):
    """The request was malformed or refused (400)."""

    status_code = 400


class AuthError(RayClientError):
    """The dashboard wants a token, or refused the one given (401/403)."""

    status_code = 401


class NotFoundError(RayClientError):
    """The named job, node, task, actor or application does not exist (404)."""

    status_code = 404


class RayTimeoutError(RayClientError, TimeoutError):
    """The dashboard did not answer in time (408)."""

    status_code = 408


class StreamLimitError(RayClientError):
    """A log stream passed one of its limits after delivering what fit (429)."""

    status_code = 429


class ServerError(RayClientError):
    """The dashboard failed, or a library is missing on the cluster (500)."""

    status_code = 500


class UnavailableError(RayClientError):
    """The dashboard cannot be reached, or closed the connection (503)."""

    status_code = 503


_BY_STATUS: dict[int, type[RayClientError]] = {
    400: BadRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: RayTimeoutError,
    429: UnavailableError,  # the dashboard is busy; our own stream limits raise StreamLimitError
    503: UnavailableError,
}

_RAISED = re.compile(r"^(\w+(?:Error|Exception)): (.+)$")
_ADVICE = {
    401: "the dashboard needs a token: set RAY_AUTH_TOKEN or pass token=",
    403: "the dashboard refused the token: check RAY_AUTH_TOKEN or the token= argument",
    404: "check the id (list them with the client's list methods)",
    429: "the dashboard is busy: retry in a moment",
    501: "install it on the cluster, e.g. pip install 'ray[serve]'",
}


def error_for_status(status: int, detail: str, what: str) -> RayClientError:
    """Build the error for an HTTP ``status`` answered to ``what`` (e.g. 'GET /api/jobs/')."""
    lines = [ln.strip() for ln in str(detail).splitlines() if ln.strip()]
    first_line = lines[0] if lines else ""
    raised = [m for ln in lines if (m := _RAISED.match(ln))]
    if raised:  # a Python traceback: its last exception says what went wrong
        kind, first_line = raised[-1].groups()
        if status == 500 and kind == "ValueError":  # Ray's way of refusing bad input
            status = 400
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else BadRequestError)
    code = 500 if status == 501 else status
    parts = [f"{what} answered {status}"]
    if first_line:
        parts.append(first_line[:300])
    if status in _ADVICE:
        parts.append(_ADVICE[status])
    return cls(": ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else ""), status_code=code)
