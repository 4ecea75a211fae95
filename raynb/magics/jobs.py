"""Job magics: %ray_jobs, %ray_job / %%ray_job, %ray_stop, %ray_delete, %ray_logs."""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
import time
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from .. import render
from ..client import Job, JobStatus
from ..errors import ExecutionError
from ._base import RayMagicsBase, reports_errors
from .live import Follower, LiveLog
from .widgets import show_log_view, widgets_available

_STATUSES = [s.value for s in JobStatus if s is not JobStatus.UNKNOWN]
_OWN_OPTIONS = {"CPU": "--num-cpus", "GPU": "--num-gpus", "memory": "--memory"}


def _key_values(pairs: list[str], option: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} takes KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _resources(text: str) -> dict[str, float]:
    """``--resources``: a JSON object of custom resource name -> positive number. IPython keeps
    the quotes around an argument: '{"worker_node": 1}' arrives quoted."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not value:
        raise UsageError(f"--resources takes a JSON object of resource name -> amount, "
                         f"e.g. '{{\"worker_node\": 1}}'; got {text!r}")
    for name, amount in value.items():
        if name in _OWN_OPTIONS:
            raise UsageError(f"--resources: give {name} with {_OWN_OPTIONS[name]}, not as a custom resource")
        if not name.strip():
            raise UsageError("--resources: a resource name cannot be empty")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 < amount < math.inf:
            raise UsageError(f"--resources: {name!r} needs a positive number, got {json.dumps(amount)}")
    return value


def _failure(job: Job) -> ExecutionError:
    """The error a ``%%ray_job`` raises for a job that ended FAILED or STOPPED."""
    if job.status == JobStatus.STOPPED:
        return ExecutionError(job.id, "JobStopped", "the job was stopped")
    code = f"exit code {job.driver_exit_code}" if job.driver_exit_code is not None else "no message from Ray"
    return ExecutionError(job.id, job.error_type or "JobFailed", render.job_message(job.message) or code)


@magics_class
class JobMagics(RayMagicsBase):
    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--status", type=str.upper, choices=_STATUSES, help="only jobs in this status")
    @argument("--limit", type=int, default=50, help="show the N most recent jobs (default 50)")
    @argument("--out", metavar="NAME", help="store the listed jobs in this variable")
    def ray_jobs(self, line: str = "") -> None:
        """Jobs of the cluster, most recent first."""
        args = parse_argstring(self.ray_jobs, line)
        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        jobs = sorted(self.client.list_jobs(), key=lambda j: j.start_time or 0, reverse=True)
        if args.status:
            jobs = [j for j in jobs if j.status.value == args.status]
        self.store(args.out, jobs[: args.limit])
        display(render.job_table(jobs[: args.limit], total=len(jobs)))

    @line_cell_magic
    @reports_errors
    @magic_arguments()
    @argument("job_id", nargs="?", help="%%ray_job ID: show one job")
    @argument("--working-dir", metavar="DIR", help="%%%%ray_job: local folder uploaded as the job's working_dir")
    @argument("--pip", nargs="+", default=[], metavar="PKG", help="%%%%ray_job: pip packages to install")
    @argument("--env", nargs="+", default=[], metavar="K=V", help="%%%%ray_job: environment variables")
    @argument("--num-cpus", type=float, help="%%%%ray_job: CPUs reserved for the entrypoint")
    @argument("--num-gpus", type=float, help="%%%%ray_job: GPUs reserved for the entrypoint")
    @argument("--memory", type=int, metavar="BYTES", help="%%%%ray_job: memory reserved for the entrypoint")
    @argument("--resources", "--entrypoint-resources", metavar="JSON",
              help="%%%%ray_job: custom resources for the entrypoint, e.g. '{\"worker_node\": 1}'")
    @argument("--no-wait", action="store_true", help="%%%%ray_job: submit and return; do not follow the log")
    @argument("--no-widget", action="store_true",
              help="%%%%ray_job: follow in the output area (blocking) even in Jupyter")
    @argument("--no-raise", action="store_true",
              help="%%%%ray_job: a job that ends FAILED or STOPPED does not fail the cell")
    @argument("--out", metavar="NAME", help="store the Job (%%ray_job ID) or the submission id (%%%%ray_job)")
    def ray_job(self, line: str = "", cell: str | None = None) -> None:
        """``%ray_job ID`` shows a job; ``%%ray_job [options]`` submits the cell as a job.

        The cell body is the job's Python entrypoint script. Outside Jupyter, or with
        --no-widget, its log streams in the output area until the job ends (Ctrl-C / the stop
        button stops following, not the job); a job that ends FAILED or STOPPED then fails
        the cell with one red line, so "Run All" stops there (--no-raise: it does not).
        In Jupyter the log streams into a live widget and the cell returns at once, while the
        job runs: the kernel is free, and the widget shows how the job ended, but a failure
        cannot fail the cell; use --no-widget where a failed job must stop the notebook.
        """
        args = parse_argstring(self.ray_job, line)
        if cell is None:
            if not args.job_id:
                raise UsageError("%ray_job needs a job id; %%ray_job (two %) submits the cell")
            job = self.client.get_job(args.job_id)
            self.store(args.out, job)
            display(render.job_card(job))
            return
        if args.job_id:
            raise UsageError("%%ray_job takes options only; the cell body is the script")
        if not cell.strip():
            raise UsageError("%%ray_job needs a Python script in the cell body")
        submission_id = self._submit_cell(cell, args)
        self.store(args.out, submission_id)
        if args.no_wait:
            display(render.job_card(self.client.get_job(submission_id)))
        elif widgets_available(self.shell) and not args.no_widget:
            show_log_view(self.client, submission_id)
        else:
            job = Follower(self.client, LiveLog(submission_id)).run()
            if job is not None and job.status in (JobStatus.FAILED, JobStatus.STOPPED) and not args.no_raise:
                raise _failure(job)

    def _submit_cell(self, cell: str, args) -> str:
        """Upload the cell as a module and submit ``python -m`` of it."""
        module = "raynb_cell_" + hashlib.sha1(cell.encode()).hexdigest()[:12]
        runtime_env: dict = {}
        if args.working_dir:
            if not Path(args.working_dir).expanduser().is_dir():
                raise UsageError(f"--working-dir {args.working_dir!r} is not a folder")
            runtime_env["working_dir"] = str(Path(args.working_dir).expanduser())
        if args.pip:
            runtime_env["pip"] = list(args.pip)
        if args.env:
            runtime_env["env_vars"] = _key_values(args.env, "--env")
        resources = _resources(args.resources) if args.resources is not None else None
        if args.memory is not None and args.memory < 1:
            raise UsageError(f"--memory takes a positive number of bytes, got {args.memory}")
        with tempfile.TemporaryDirectory(prefix="raynb-cell-") as tmp:
            package = Path(tmp) / module
            package.mkdir()
            (package / "__init__.py").write_text("")
            (package / "__main__.py").write_text(cell)
            runtime_env["py_modules"] = [str(package)]
            job = self.client.submit_job(
                f"python -u -m {module}",
                runtime_env=runtime_env,
                metadata={"source": "%%ray_job"},
                entrypoint_num_cpus=args.num_cpus,
                entrypoint_num_gpus=args.num_gpus,
                entrypoint_memory=args.memory,
                entrypoint_resources=resources,
            )
        return job.submission_id

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("job_id", help="the job's submission id")
    @argument("--no-wait", action="store_true", help="return at once instead of waiting for the job to end")
    @argument("--timeout", type=float, default=30.0, help="seconds to wait for the job to end (default 30)")
    def ray_stop(self, line: str = "") -> None:
        """Stop a running job and wait until it has ended (as STOPPED)."""
        args = parse_argstring(self.ray_stop, line)
        if not self.client.stop_job(args.job_id):  # an ended job is a 400: the magic fails
            print(f"{args.job_id} is not running ({self.client.get_job_status(args.job_id)}).")
            return
        if args.no_wait:
            print(f"Stopping {args.job_id}.")
            return
        deadline = time.monotonic() + args.timeout
        try:
            while not (status := self.client.get_job_status(args.job_id)).is_terminal():
                if time.monotonic() > deadline:
                    print(f"Stopping {args.job_id}: still {status} after {args.timeout:g} s.")
                    return
                time.sleep(0.25)
        except KeyboardInterrupt:
            print(f"Stopping {args.job_id}; stopped waiting for it.")
            return
        print(f"Stopped {args.job_id}: {status}.")

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("job_id", help="the job's submission id")
    def ray_delete(self, line: str = "") -> None:
        """Delete a finished job and its record (stop a running one first)."""
        args = parse_argstring(self.ray_delete, line)
        self.client.delete_job(args.job_id)
        print(f"Deleted {args.job_id}.")

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("job_id", help="the job's submission id")
    @argument("--follow", "-f", action="store_true", help="stream new lines live until the job ends")
    @argument("--background", "-b", action="store_true",
              help="with --follow: keep streaming while the kernel runs other cells")
    @argument("--protocol", choices=["auto", "websocket", "http"], default="auto",
              help="live transport (default auto: lowest latency, with fallback)")
    @argument("--tail", type=int, default=200, metavar="N",
              help="the last N lines (default 200); --follow opens the log there, then live")
    @argument("--grep", metavar="PATTERN", help="only lines matching this regular expression")
    @argument("--out", metavar="NAME", help="store the whole log text (without --follow)")
    @argument("--no-widget", action="store_true",
              help="with --follow: stream in the output area even in Jupyter")
    def ray_logs(self, line: str = "") -> None:
        """A job's log; ``--follow`` streams it live.

        In Jupyter, ``--follow`` shows a live widget that streams in the background (the cell
        returns at once); with ``--grep`` or ``--no-widget``, or outside Jupyter, the log
        streams in this output area (``--background`` to keep the kernel free).
        ``--follow`` opens a long log at its last ``--tail`` lines instead of replaying it (the
        widget loads earlier lines when scrolled up); with ``--grep`` (the last matching lines)
        or ``--protocol websocket`` it reads the log from its first line.
        """
        args = parse_argstring(self.ray_logs, line)
        if args.tail < 1:
            raise UsageError("--tail must be at least 1")
        if args.background and not args.follow:
            raise UsageError("--background goes with --follow")
        try:
            grep = re.compile(args.grep) if args.grep else None
        except re.error as exc:
            raise UsageError(f"--grep {args.grep!r} is not a valid regular expression: {exc}") from None
        view = LiveLog(args.job_id, max_visible=args.tail, grep=grep)
        if not args.follow:
            text = self.client.get_job_logs(args.job_id)
            self.store(args.out, text)
            for log_line in text.splitlines():
                view.add(log_line)
            display(view.render())
            return
        self.client.get_job(args.job_id)  # a wrong id fails here, as one line
        # The WebSocket speaks in lines from the first: only a file read can begin at the end.
        last = None if args.protocol == "websocket" else args.tail
        if widgets_available(self.shell) and not (args.no_widget or grep):
            show_log_view(self.client, args.job_id, args.protocol, tail=last)
            return
        follower = Follower(self.client, view, args.protocol, last=None if grep else last)
        if args.background:
            previous = self.session.followers.pop(args.job_id, None)
            if previous is not None:
                previous.cancel()
            self.session.followers[args.job_id] = follower.start()
        else:
            follower.run()
