"""Every error raynb raises, in one tree; catch the base to catch them all::

    RaynbError
    ├── RayClientError                 the dashboard client (alias ClientError); status_code
    │   │                              (alias status), one-line message
    │   ├── BadRequestError            400  bad id or argument, unknown protocol, refused request
    │   ├── AuthError                  401/403  missing or wrong token
    │   ├── NotFoundError              404  no such job, node, task, actor or application
    │   ├── RayTimeoutError            408  the dashboard did not answer in time (a TimeoutError)
    │   ├── StreamLimitError           429  a log stream passed one of its StreamLimits
    │   ├── ServerError                500  the dashboard failed, or a library is missing
    │   └── UnavailableError           503  dashboard unreachable, or the connection closed
    └── ExecutorError                  the executors
        ├── ValidationError            params rejected in the notebook (a ValueError); nothing reached Ray
        ├── ExecutorConfigError        an executor option that cannot work (a ValueError); nothing started
        ├── ExecutionError             the action failed, or its actor/job died or was stopped
        │   └── ExecutionTimeoutError  waiting ran out (also a TimeoutError)
        └── PipelineResumeError        a pipeline run cannot be resumed (a ValueError)

Every message is one line. None contains a token, a cookie or an Authorization header
(:func:`redact`), nor the value of an env var given to an executor (:func:`mask`).
This module imports nothing heavy: workers that run actions load it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "AuthError",
    "BadRequestError",
    "ClientError",
    "ExecutionError",
    "ExecutionTimeoutError",
    "ExecutorConfigError",
    "ExecutorError",
    "NotFoundError",
    "PipelineResumeError",
    "RayClientError",
    "RaynbError",
    "RayTimeoutError",
    "ServerError",
    "StreamLimitError",
    "UnavailableError",
    "ValidationError",
    "error_for_status",
    "mask",
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
MIN_SECRET_LENGTH = 4  # shorter values ("1", "on") are too common to mask


def register_secret(value: str | None) -> None:
    """Remember a secret value (a token) so no message ever shows it."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` on one line, with tokens, cookies and auth headers masked."""
    text = " ".join(str(text).split())
    for secret in _secrets:
        text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text[:500]


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every given secret value replaced by ``***`` (lines kept)."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class RaynbError(Exception):
    """Base of every raynb error."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error raised in a cell: one red line, no traceback."""
        said = "Ray error " if isinstance(self, RayClientError) and self.source == "Ray" else ""
        line = _one_line(f"✖ {said}{self}", 1000)
        return [f"\x1b[31m{line}\x1b[0m"]


class RayClientError(RaynbError):
    """Base of every client error; ``status_code`` follows HTTP's meaning."""

    status_code: int = 500
    source: str = "Ray"  # who answered: "Ray" (the dashboard) or "pipeline service"

    def __init__(self, message: str, *, status_code: int | None = None, source: str | None = None) -> None:
        if status_code is not None:
            self.status_code = status_code
        if source is not None:
            self.source = source
        self.message = redact(message)
        super().__init__(self.message)

    @property
    def status(self) -> int:
        """``status_code`` under the name the seed documents also use (``e.status``)."""
        return self.status_code

    def __str__(self) -> str:
        return f"[{self.status_code}] {self.message}"


ClientError = RayClientError  # the seed documents' name for the client's base error


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


class ExecutorError(RaynbError):
    """Base of the executor errors."""


class ValidationError(ExecutorError, ValueError):
    """The params do not fit the action's model; ``errors`` lists ``(field, reason)``."""

    def __init__(self, action: str, errors: Sequence[tuple[str, str]]) -> None:
        self.action = action
        self.errors = list(errors)
        detail = "; ".join(f"{field}: {reason}" for field, reason in self.errors)
        super().__init__(_one_line(f"invalid params for {action}: {detail}", 500))


class ExecutionError(ExecutorError):
    """The action failed on Ray.

    ``error_type`` and ``message`` are the remote exception's (or Ray's reason, e.g.
    ``ActorDiedError``); ``traceback`` is a summary of the remote traceback and ``log_tail``
    the job's last log lines (Jobs API). Both are also attached as notes, so a notebook
    traceback shows them below the one-line message.
    """

    def __init__(
        self,
        job_id: str,
        error_type: str,
        message: str,
        *,
        traceback: str = "",
        log_tail: Sequence[str] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        secrets = list(secrets)
        self.job_id = job_id
        self.error_type = error_type
        self.message = mask(str(message), secrets)
        self.traceback = mask(traceback, secrets)
        self.log_tail = [mask(line, secrets) for line in log_tail]
        super().__init__(f"{job_id} failed: {self.summary}")
        if self.traceback:
            self.add_note(f"remote traceback (most recent call last):\n{self.traceback}")
        if self.log_tail:
            self.add_note("last log lines:\n" + "\n".join(self.log_tail))

    @property
    def summary(self) -> str:
        """``<type>: <message>`` on one short line."""
        return _one_line(f"{self.error_type}: {self.message}")

    def _render_traceback_(self) -> list[str]:
        """The one red line, then the remote traceback's last frame (``traceback`` has them all)."""
        lines = self.traceback.splitlines()
        starts = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
        return super()._render_traceback_() + (lines[starts[-1]:] if starts else [])


class ExecutionTimeoutError(ExecutionError, TimeoutError):
    """Waiting for a job ran out of time; the job keeps running unless ``cancelled``.

    An :class:`ExecutionError` too, as the seed documents have it: ``except ExecutionError``
    around a ``wait`` catches a failure and a timeout alike.
    """

    def __init__(self, job_id: str, timeout: float, status: str, *, cancelled: bool = False) -> None:
        self.timeout = timeout
        self.status = status
        self.cancelled = cancelled
        outcome = "it was cancelled" if cancelled else "it keeps running: wait again, or cancel/stop it"
        message = f"did not finish within {timeout:g}s (status {status}); {outcome}"
        super().__init__(job_id, "TimeoutError", message)

    def __str__(self) -> str:
        return f"{self.job_id} {self.message}"


class ExecutorConfigError(ExecutorError, ValueError):
    """An executor option that cannot work (a bad value, a missing folder, a cluster other than
    the one this process already drives); nothing was started."""


class PipelineResumeError(ExecutorError, ValueError):
    """``resume_from`` names a run that has not ended, or whose completed actions no longer fit
    the pipeline (changed names or order); nothing was started."""


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


def error_for_status(
    status: int, detail: str, what: str, *, advice: Mapping[int, str] = _ADVICE, source: str | None = None
) -> RayClientError:
    """Build the error for an HTTP ``status`` answered to ``what`` (e.g. 'GET /api/jobs/').

    ``advice``: what to do, by status; ``source``: who answered, when not the Ray dashboard.
    """
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
    if status in advice:
        parts.append(advice[status])
    message = ": ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else "")
    return cls(message, status_code=code, source=source)
