"""Errors raised by the executors; every message is one line on ``str()``.

    ExecutorError
    ├── ValidationError (ValueError)         params rejected in the notebook; nothing reached Ray
    ├── ExecutionError                       the action failed, or its actor/job died or was stopped
    └── ExecutionTimeoutError (TimeoutError) waiting ran out (the actor executor cancels the call)

Env var values given to an executor are secrets: :func:`mask` replaces them in every
message, traceback and log line before an error is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["ExecutionError", "ExecutionTimeoutError", "ExecutorError", "ValidationError", "mask"]

MIN_SECRET_LENGTH = 4  # shorter values ("1", "on") are too common to mask


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class ExecutorError(Exception):
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


class ExecutionTimeoutError(ExecutorError, TimeoutError):
    """Waiting for a job ran out of time; the job keeps running unless ``cancelled``."""

    def __init__(self, job_id: str, timeout: float, status: str, *, cancelled: bool = False) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.status = status
        self.cancelled = cancelled
        outcome = "it was cancelled" if cancelled else "it keeps running: wait again, or cancel/stop it"
        super().__init__(f"{job_id} did not finish within {timeout:g}s (status {status}); {outcome}")
