"""SQLite store of the pipeline service: runs, per-action progress, checkpoints,
run logs and each run's event log, in one file in WAL mode.

Every change is one transaction that also appends the run's events (``progress`` with the new
snapshot, ``log`` per line) under the next sequence number, so an SSE client that reconnects
with ``Last-Event-ID`` gets exactly what it missed, across service restarts too. After each
commit ``on_change(run_id)`` is called: the app wakes that run's streams (no polling).

When a run ends, its earlier ``progress`` events are dropped: a stream opened after the end
gets the log events it missed and the final snapshot, and the file does not grow with every
progress report of finished runs.

Errors: :class:`UnknownRun` (404), :class:`Conflict` (409: the run has ended or exists).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .models import (
    ActionProgress,
    ActionReport,
    ActionStatus,
    Checkpoint,
    CheckpointReport,
    LogLine,
    LogReport,
    PipelineProgress,
    RunCreate,
    RunStatus,
)  # fmt: skip

__all__ = ["Conflict", "Store", "UnknownRun"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, name TEXT NOT NULL, pipeline TEXT NOT NULL,
    description TEXT, status TEXT NOT NULL, params TEXT NOT NULL, result TEXT, error TEXT,
    resumed_from TEXT, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS actions (run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
    status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, message TEXT, metrics TEXT NOT NULL DEFAULT '{}',
    started_at REAL, finished_at REAL, error TEXT, PRIMARY KEY (run_id, idx));
CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
    action_name TEXT NOT NULL, action_index INTEGER NOT NULL, status TEXT NOT NULL,
    params_snapshot TEXT NOT NULL, result TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
    action_index INTEGER, action_name TEXT, level TEXT NOT NULL, message TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE INDEX IF NOT EXISTS checkpoints_run ON checkpoints (run_id, action_index);
CREATE INDEX IF NOT EXISTS logs_run ON logs (run_id, id);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
"""


class UnknownRun(KeyError):
    """No run has this id."""

    def __str__(self) -> str:
        return f"pipeline run {self.args[0]!r} does not exist"


class Conflict(Exception):
    """The change does not fit the run's state (it has ended, or already exists)."""


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class Store:
    """The service's database; safe to use from several threads (one connection, one lock)."""

    def __init__(self, path: str | Path, on_change: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.on_change = on_change
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crashed process loses no commit
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading ---------------------------------------------------------------------------

    def get_run(self, run_id: str) -> PipelineProgress:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise UnknownRun(run_id)
            rows = self._db.execute("SELECT * FROM actions WHERE run_id=? ORDER BY idx", (run_id,)).fetchall()
        return _snapshot(row, rows)

    def status(self, run_id: str) -> RunStatus:
        with self._lock:
            row = self._db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        return RunStatus(row[0])

    def list_runs(self, limit: int = 50) -> list[PipelineProgress]:
        """The latest runs, newest first."""
        with self._lock:
            ids = [r[0] for r in self._db.execute(
                "SELECT run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))]
            return [self.get_run(run_id) for run_id in ids]

    def run_params(self, run_id: str) -> dict[str, Any]:
        """The params a run was started with."""
        with self._lock:
            row = self._db.execute("SELECT params FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        return json.loads(row[0])

    def result(self, run_id: str) -> Any:
        """The accumulated params of a completed run (None before it completes)."""
        with self._lock:
            row = self._db.execute("SELECT result FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        return None if row[0] is None else json.loads(row[0])

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        self.get_run(run_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM checkpoints WHERE run_id=? ORDER BY action_index, id", (run_id,)).fetchall()
        return [_checkpoint(r) for r in rows]

    def logs(self, run_id: str, action: int | None = None, after: int = 0, limit: int = 1000) -> list[LogLine]:
        self.get_run(run_id)
        sql, args = "SELECT * FROM logs WHERE run_id=? AND id>?", [run_id, after]
        if action is not None:
            sql += " AND action_index=?"
            args.append(action)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [_log(r) for r in rows]

    def events(self, run_id: str, after: int = 0, limit: int = 500) -> list[tuple[int, str, str]]:
        """``(seq, kind, data JSON)`` of the run's events after ``after``, oldest first."""
        with self._lock:
            return [tuple(r) for r in self._db.execute(
                "SELECT seq, kind, data FROM events WHERE run_id=? AND seq>? ORDER BY seq LIMIT ?",
                (run_id, after, limit))]

    # -- changing ------------------------------------------------------------------------

    def create_run(self, body: RunCreate) -> PipelineProgress:
        """Record a new run; its first ``skipped`` actions are SKIPPED, with the resumed run's
        checkpoints copied, so a run resumed again restores from it alone."""
        now = time.time()
        with self._change(body.run_id) as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id=?", (body.run_id,)).fetchone():
                raise Conflict(f"pipeline run {body.run_id!r} exists already")
            copied: list[sqlite3.Row] = []
            if body.resumed_from is not None:
                if not db.execute("SELECT 1 FROM runs WHERE run_id=?", (body.resumed_from,)).fetchone():
                    raise UnknownRun(body.resumed_from)
                copied = db.execute(
                    "SELECT * FROM checkpoints WHERE run_id=? AND action_index<? ORDER BY action_index, id",
                    (body.resumed_from, body.skipped)).fetchall()
            if body.skipped > len(body.actions):
                raise Conflict(f"skipped={body.skipped} but the run has {len(body.actions)} actions")
            db.execute(
                "INSERT INTO runs (run_id, name, pipeline, description, status, params, resumed_from, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                (body.run_id, body.name, body.pipeline, body.description, RunStatus.PENDING.value,
                 json.dumps(body.params), body.resumed_from, now))
            for index, name in enumerate(body.actions):
                done = index < body.skipped
                db.execute(
                    "INSERT INTO actions (run_id, idx, name, status, progress) VALUES (?,?,?,?,?)",
                    (body.run_id, index, name, (ActionStatus.SKIPPED if done else ActionStatus.PENDING).value,
                     1.0 if done else 0.0))
            for cp in copied:
                db.execute(
                    "INSERT INTO checkpoints (run_id, action_name, action_index, status, params_snapshot, "
                    "result, created_at) VALUES (?,?,?,?,?,?,?)",
                    (body.run_id, cp["action_name"], cp["action_index"], ActionStatus.SKIPPED.value,
                     cp["params_snapshot"], cp["result"], now))
            if body.skipped == len(body.actions):
                snapshot = json.loads(copied[-1]["params_snapshot"]) if copied else body.params
                self._finish(db, body.run_id, RunStatus.COMPLETED, None, now, json.dumps(snapshot))
        return self.get_run(body.run_id)

    def update_action(self, run_id: str, index: int, report: ActionReport) -> PipelineProgress:
        """Apply a report of action ``index``; RUNNING starts the run, FAILED ends it."""
        now = time.time()
        with self._change(run_id) as db:
            self._open_run(db, run_id)
            action = self._action(db, run_id, index)
            fields: dict[str, Any] = {}
            if report.status is not None:
                fields["status"] = report.status.value
                if report.status is ActionStatus.RUNNING and action["started_at"] is None:
                    fields["started_at"] = now
                if report.status in (ActionStatus.COMPLETED, ActionStatus.FAILED):
                    fields["finished_at"] = now
                if report.status is ActionStatus.COMPLETED:
                    fields["progress"] = 1.0
            if report.progress is not None:
                fields["progress"] = report.progress
            if report.message is not None:
                fields["message"] = report.message
            if report.metrics is not None:
                fields["metrics"] = json.dumps({**json.loads(action["metrics"]), **report.metrics})
            if report.error is not None:
                fields["error"] = report.error
            if fields:
                sets = ", ".join(f"{k}=?" for k in fields)
                db.execute(f"UPDATE actions SET {sets} WHERE run_id=? AND idx=?", (*fields.values(), run_id, index))
            if report.status is ActionStatus.RUNNING:
                db.execute("UPDATE runs SET status=?, started_at=COALESCE(started_at, ?) WHERE run_id=?",
                           (RunStatus.RUNNING.value, now, run_id))
            elif report.status is ActionStatus.FAILED:
                self._finish(db, run_id, RunStatus.FAILED, report.error or f"{action['name']} failed", now)
        return self.get_run(run_id)

    def add_checkpoint(self, run_id: str, report: CheckpointReport) -> Checkpoint:
        """The action completed: record its checkpoint; after the last action the run completes."""
        now = time.time()
        with self._change(run_id) as db:
            self._open_run(db, run_id)
            action = self._action(db, run_id, report.action_index)
            db.execute(
                "INSERT INTO checkpoints (run_id, action_name, action_index, status, params_snapshot, result, "
                "created_at) VALUES (?,?,?,?,?,?,?)",
                (run_id, action["name"], report.action_index, ActionStatus.COMPLETED.value,
                 json.dumps(report.params_snapshot), json.dumps(report.result), now))
            db.execute(
                "UPDATE actions SET status=?, progress=1, finished_at=?, started_at=COALESCE(started_at, ?) "
                "WHERE run_id=? AND idx=?", (ActionStatus.COMPLETED.value, now, now, run_id, report.action_index))
            pending = db.execute("SELECT COUNT(*) FROM actions WHERE run_id=? AND status NOT IN (?, ?)",
                                 (run_id, ActionStatus.COMPLETED.value, ActionStatus.SKIPPED.value)).fetchone()[0]
            if pending == 0:
                self._finish(db, run_id, RunStatus.COMPLETED, None, now, json.dumps(report.params_snapshot))
        return self.checkpoints(run_id)[-1]

    def add_logs(self, run_id: str, report: LogReport) -> list[LogLine]:
        now = time.time()
        with self._change(run_id, snapshot=False) as db:
            self._open_run(db, run_id)
            name = None if report.action_index is None else self._action(db, run_id, report.action_index)["name"]
            first = None
            for message in report.messages:
                cur = db.execute(
                    "INSERT INTO logs (run_id, action_index, action_name, level, message, created_at) "
                    "VALUES (?,?,?,?,?,?)", (run_id, report.action_index, name, report.level, message, now))
                first = first or cur.lastrowid
            rows = db.execute("SELECT * FROM logs WHERE run_id=? AND id>=? ORDER BY id", (run_id, first)).fetchall()
            lines = [_log(r) for r in rows]
            for line in lines:
                self._event(db, run_id, "log", line.model_dump_json())
        return lines

    def end_run(self, run_id: str, status: RunStatus, error: str | None = None) -> PipelineProgress:
        """Cancel a run or fail it (e.g. its Ray actor died); a running action is marked FAILED."""
        now = time.time()
        with self._change(run_id) as db:
            self._open_run(db, run_id)
            self._finish(db, run_id, status, error, now)
        return self.get_run(run_id)

    # -- inside a change -------------------------------------------------------------------

    def _change(self, run_id: str, snapshot: bool = True) -> _Change:
        return _Change(self, run_id, snapshot)

    def _open_run(self, db: sqlite3.Connection, run_id: str) -> None:
        row = db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        if RunStatus(row[0]).is_terminal():
            raise Conflict(f"pipeline run {run_id!r} has ended ({row[0]})")

    def _action(self, db: sqlite3.Connection, run_id: str, index: int) -> sqlite3.Row:
        row = db.execute("SELECT * FROM actions WHERE run_id=? AND idx=?", (run_id, index)).fetchone()
        if row is None:
            count = db.execute("SELECT COUNT(*) FROM actions WHERE run_id=?", (run_id,)).fetchone()[0]
            raise IndexError(f"pipeline run {run_id!r} has no action {index} (it has {count})")
        return row

    def _finish(self, db: sqlite3.Connection, run_id: str, status: RunStatus, error: str | None,
                now: float, result: str | None = None) -> None:
        if status is not RunStatus.COMPLETED:
            db.execute("UPDATE actions SET status=?, finished_at=?, error=COALESCE(error, ?) "
                       "WHERE run_id=? AND status=?",
                       (ActionStatus.FAILED.value, now, error or status.value.lower(), run_id,
                        ActionStatus.RUNNING.value))
        db.execute("UPDATE runs SET status=?, error=?, finished_at=?, result=? WHERE run_id=?",
                   (status.value, error, now, result, run_id))
        # The final snapshot (appended as this change commits) supersedes the earlier ones.
        db.execute("DELETE FROM events WHERE run_id=? AND kind='progress'", (run_id,))

    def _event(self, db: sqlite3.Connection, run_id: str, kind: str, data: str) -> None:
        seq = db.execute("UPDATE runs SET last_seq=last_seq+1 WHERE run_id=? RETURNING last_seq",
                         (run_id,)).fetchone()[0]
        db.execute("INSERT INTO events VALUES (?,?,?,?)", (run_id, seq, kind, data))


class _Change:
    """One transaction on a run; unless told not to, a snapshot event is appended before it commits."""

    def __init__(self, store: Store, run_id: str, snapshot: bool) -> None:
        self.store, self.run_id, self.snapshot = store, run_id, snapshot

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        self.store._db.execute("BEGIN IMMEDIATE")
        return self.store._db

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        db = self.store._db
        try:
            if kind is not None:
                db.execute("ROLLBACK")
                return
            if self.snapshot:
                row = db.execute("SELECT * FROM runs WHERE run_id=?", (self.run_id,)).fetchone()
                rows = db.execute("SELECT * FROM actions WHERE run_id=? ORDER BY idx", (self.run_id,)).fetchall()
                snapshot = _snapshot(row, rows).model_copy(update={"seq": row["last_seq"] + 1})
                self.store._event(db, self.run_id, "progress", snapshot.model_dump_json())
            db.execute("COMMIT")
        finally:
            self.store._lock.release()
        if kind is None and self.store.on_change is not None:
            self.store.on_change(self.run_id)


def _snapshot(run: sqlite3.Row, rows: list[sqlite3.Row]) -> PipelineProgress:
    actions = [
        ActionProgress(
            index=r["idx"], name=r["name"], status=ActionStatus(r["status"]), progress=r["progress"],
            message=r["message"], metrics=json.loads(r["metrics"]), started_at=_dt(r["started_at"]),
            finished_at=_dt(r["finished_at"]), error=r["error"],
        )
        for r in rows
    ]
    status = RunStatus(run["status"])
    current = next((a for a in actions if a.status in (ActionStatus.RUNNING, ActionStatus.FAILED)), None)
    if current is None and not status.is_terminal():
        current = next((a for a in actions if a.status is ActionStatus.PENDING), None)
    done = sum(1.0 if a.status.is_done() else a.progress for a in actions)
    return PipelineProgress(
        run_id=run["run_id"], name=run["name"], pipeline=run["pipeline"], description=run["description"],
        status=status, current_action=current.name if current else None,
        current_action_index=current.index if current else None, actions=actions,
        overall_progress=min(1.0, done / len(actions)) if actions else 0.0,
        created_at=_dt(run["created_at"]), started_at=_dt(run["started_at"]),
        finished_at=_dt(run["finished_at"]), resumed_from=run["resumed_from"], error=run["error"],
        seq=run["last_seq"],
    )


def _checkpoint(r: sqlite3.Row) -> Checkpoint:
    return Checkpoint(
        run_id=r["run_id"], action_name=r["action_name"], action_index=r["action_index"],
        status=ActionStatus(r["status"]), params_snapshot=json.loads(r["params_snapshot"]),
        result=None if r["result"] is None else json.loads(r["result"]), created_at=_dt(r["created_at"]),
    )


def _log(r: sqlite3.Row) -> LogLine:
    return LogLine(
        id=r["id"], run_id=r["run_id"], action_index=r["action_index"], action_name=r["action_name"],
        level=r["level"], message=r["message"], created_at=_dt(r["created_at"]),
    )
