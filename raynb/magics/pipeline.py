"""Pipeline magic: %ray_pipeline [runs | show RUN_ID | cancel RUN_ID | resume RUN_ID]."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..pipeline import DEFAULT_URL
from ._base import RayMagicsBase, reports_errors


@magics_class
class PipelineMagics(RayMagicsBase):
    def __init__(self, shell: Any, session: Any) -> None:
        super().__init__(shell, session)
        self._own: Any = None  # the executor made here when the notebook has none

    def executor(self, service: str | None) -> Any:
        """The notebook's last RayPipelineExecutor (with ``service``, the one using that URL),
        else one of our own on ``service`` / $RAYNB_PIPELINE_URL / the default URL."""
        from ..executors import RayPipelineExecutor

        mine = [v for v in self.shell.user_ns.values() if isinstance(v, RayPipelineExecutor)]
        if service:
            mine = [ex for ex in mine if ex.pipeline_service_url == service.rstrip("/")]
        if mine:
            return mine[-1]
        url = (service or os.environ.get("RAYNB_PIPELINE_URL") or DEFAULT_URL).rstrip("/")
        if self._own is None or self._own.pipeline_service_url != url:
            self._own = RayPipelineExecutor(pipeline_service_url=url)
        return self._own

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("action", nargs="?", default="runs", choices=["runs", "show", "cancel", "resume"],
              help="list runs (default), show a run's live progress, cancel it, or resume it")
    @argument("run_id", nargs="?", help="the run for show, cancel and resume")
    @argument("--limit", type=int, default=20, help="how many runs to list (default 20)")
    @argument("--service", metavar="URL", help="the pipeline service (default: the notebook's executor's)")
    @argument("--out", metavar="NAME", help="store the result (runs, or the new run id) in this variable")
    def ray_pipeline(self, line: str = "") -> None:
        """Pipeline runs: ``%ray_pipeline runs``, ``%ray_pipeline show|cancel|resume RUN_ID``.

        Resuming needs the pipeline's definition, known to the kernel that submitted it.
        """
        from ..render_pipeline import pipeline_card, run_table

        args = parse_argstring(self.ray_pipeline, line)
        if args.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {args.limit}")
        ex = self.executor(args.service)
        if args.action == "runs":
            runs = ex.list_runs(args.limit)
            self.store(args.out, runs)
            display(run_table(runs))
            return
        if not args.run_id:
            raise UsageError(f"%ray_pipeline {args.action} needs a run id (list them with %ray_pipeline runs)")
        if args.action == "cancel":
            cancelled = ex.cancel(args.run_id)
            print(f"Cancelled {args.run_id}." if cancelled else f"{args.run_id} had already ended.")
            return
        in_kernel = getattr(self.shell, "kernel", None) is not None
        run_id = args.run_id
        if args.action == "resume":
            run_id = ex.resume(args.run_id)
            self.store(args.out, run_id)
            print(f"Resumed {args.run_id} as {run_id}.")
            if in_kernel and ex.show_progress:
                return  # submit showed the new run's widget
        progress = ex.get_progress(run_id)  # an unknown run fails here, as one line
        if not in_kernel:
            display(pipeline_card(progress))
            return
        from ..widgets.pipeline import PipelineProgressWidget

        PipelineProgressWidget(ex, run_id).show()
