"""What runs a pipeline run on Ray: :class:`PipelineActor` runs the actions in order and
reports to the pipeline service. Imports only the standard library and raynb's actions
(no httpx, no Starlette), so it runs wherever the action executors run.

Reports go through :class:`Sender`: a daemon thread posting them in order (a queued progress
report is replaced by a newer one of the same action). A failed post is retried briefly,
then again every second while the run goes on, so a service restart loses nothing; the
action never waits for, or fails because of, a report. A 409 answer (the run was cancelled
or failed elsewhere) drops the report and stops the run before its next action.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..actions import Reporter, load_action
from ..executors.worker import ActionFailed, describe_error, run_action

__all__ = ["PipelineActor", "Sender", "params_for", "remote_pipeline_actor"]

ATTEMPTS = 3
RETRY_IDLE_S = 1.0
FLUSH_S = 20.0  # at the end of a run, wait this long at most for unsent reports


class Sender:
    """Posts JSON reports to the service in order, from a daemon thread."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        self.ended = False  # the service said the run has ended (cancelled, failed elsewhere)
        self._queue: deque[tuple[str, bytes, str | None]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        threading.Thread(target=self._loop, name="raynb-pipeline-sender", daemon=True).start()

    def post(self, path: str, body: Any, coalesce: str | None = None) -> None:
        """Queue a report (encoded now); a queued one with the same ``coalesce`` key is replaced."""
        item = (path, json.dumps(body).encode(), coalesce)
        with self._cond:
            if coalesce is not None and len(self._queue) > 1 and self._queue[-1][2] == coalesce:
                self._queue[-1] = item  # [0] may be in flight
            else:
                self._queue.append(item)
            self._cond.notify()

    def flush(self, timeout: float = FLUSH_S) -> bool:
        """Wait until every queued report was delivered (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    return False
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                path, data, _ = self._queue[0]
                self._busy = True
            delivered = self._deliver(path, data)
            with self._cond:
                if delivered:
                    self._queue.popleft()
                self._busy = False
                self._cond.notify_all()
            if not delivered:
                time.sleep(RETRY_IDLE_S)

    def _deliver(self, path: str, data: bytes) -> bool:
        """True once the service took the report or refused it for good (4xx)."""
        for attempt in range(ATTEMPTS):
            request = urllib.request.Request(self.url + path, data=data, headers=self.headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5):
                    return True
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500:
                    self.ended = self.ended or exc.code == 409
                    return True
            except (OSError, ValueError):
                pass
            time.sleep(0.1 * 3**attempt)
        return False


def params_for(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """The accumulated params an action receives: the fields its model declares (all of them
    if the model allows extra fields)."""
    model = cls.params_model()
    if model.model_config.get("extra") == "allow":
        return dict(params)
    return {k: v for k, v in params.items() if k in model.model_fields}


class _LogTee(io.TextIOBase):
    """Copies an action's printed lines to the run log, and to the original stream."""

    def __init__(self, stream: Any, emit: Any) -> None:
        self.stream, self.emit, self.partial = stream, emit, ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.emit(line)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class PipelineActor:
    """One per run: runs the run's actions in order, from ``start``, and reports each step."""

    def run(self, call: str, pickled_classes: bytes) -> str:
        """Run the call (JSON: run_id, service_url, token, actions, start, params, secret_names).
        ``pickled_classes`` (cloudpickle, unpickled here, where the working_dir is importable)
        holds the class of each action given as a class, None for entrypoint strings.
        Returns ``{"status", "params", "unsent"}`` as JSON (``unsent``: some reports never reached
        the service); failures are reported, not raised."""
        c = json.loads(call)
        run, sender, params = c["run_id"], Sender(c["service_url"], c.get("token")), dict(c["params"])
        try:
            from ray import cloudpickle

            classes: Sequence[type | None] = cloudpickle.loads(pickled_classes)
        except Exception as exc:  # e.g. the module of a class is not importable here
            failure = describe_error(exc, c["secret_names"])
            error = f"{failure['type']}: {failure['message']}"
            sender.post(f"/runs/{run}/actions/{c['start']}", {"status": "FAILED", "error": error})
            sender.flush()
            return json.dumps({"status": "FAILED", "params": params})
        status = "COMPLETED"
        for index in range(c["start"], len(c["actions"])):
            if sender.ended:
                status = "CANCELLED"
                break
            if not self._step(sender, run, index, classes[index] or c["actions"][index], params, c["secret_names"]):
                status = "FAILED"
                break
        delivered = sender.flush()
        return json.dumps({"status": status, "params": params, "unsent": not delivered})

    def _step(self, sender: Sender, run: str, index: int, action: Any, params: dict[str, Any],
              secret_names: list[str]) -> bool:
        """Run one action; merge its dict result into ``params``; False if it failed."""
        path = f"/runs/{run}/actions/{index}"
        sender.post(path, {"status": "RUNNING", "progress": 0.0})

        def send(state: dict[str, Any]) -> None:
            total = state.get("total")
            report: dict[str, Any] = {"message": state.get("message"), "metrics": state.get("metrics") or {}}
            if total:
                report["progress"] = max(0.0, min(1.0, state["current"] / total))
            sender.post(path, report, coalesce=path)

        def log(level: str, message: str) -> None:
            sender.post(f"/runs/{run}/logs", {"action_index": index, "level": level, "messages": [message]})

        reporter = Reporter(send=send, on_log=log)
        tee = _LogTee(sys.stdout, lambda line: log("stdout", line))
        try:
            with contextlib.redirect_stdout(tee):
                cls = load_action(action)
                result_json, final = run_action(cls, params_for(cls, params), reporter, secret_names)
        except ActionFailed as failed:
            error = f"{failed.error['type']}: {failed.error['message']}"
            if failed.error.get("traceback"):
                log("error", failed.error["traceback"])
            sender.post(path, {"status": "FAILED", "error": error})
            return False
        except Exception as exc:  # the class could not be loaded
            failure = describe_error(exc, secret_names)
            sender.post(path, {"status": "FAILED", "error": f"{failure['type']}: {failure['message']}"})
            return False
        send(final)
        result = json.loads(result_json)
        if isinstance(result, dict):
            params.update(result)
        sender.post(f"/runs/{run}/checkpoints", {"action_index": index, "params_snapshot": params, "result": result})
        return True


@cache
def remote_pipeline_actor() -> Any:
    """:class:`PipelineActor` wrapped by ``ray.remote`` (one worker process per run)."""
    import ray

    return ray.remote(max_restarts=0, max_concurrency=1)(PipelineActor)
