"""Executors: run :mod:`raynb.actions` on Ray from a notebook, with live progress.

- :class:`RayActorExecutor` (also :class:`RayTaskExecutor`): one persistent actor; quick consecutive calls.
- :class:`RayJobExecutor`: a Ray task per run; many in flight at once.
- :class:`RayJobsApiExecutor`: a Jobs API job per run; logs and runtime env setup in Ray's job list.
- :class:`RayPipelineExecutor`: a :class:`PipelineDefinition`'s actions in order, with checkpoints and resume.

They share their options (:class:`~raynb.executors.runtime_env.ExecutorConfig`) and errors
(from :mod:`raynb.errors`, the one error tree). Names are imported on first use, so workers that import
:mod:`raynb.executors.worker` load neither the dashboard client nor IPython, and nothing here
imports Ray until an executor runs something.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import (
        ExecutionError,
        ExecutionTimeoutError,
        ExecutorConfigError,
        ExecutorError,
        ValidationError,
    )
    from .actor import RayActorExecutor, RayTaskExecutor
    from .job import RayJobExecutor
    from .jobs_api import RayJobsApiExecutor
    from .pipeline import PipelineDefinition, RayPipelineExecutor
    from .runtime_env import ExecutorConfig

_WHERE = {
    "ExecutionError": "..errors",
    "ExecutionTimeoutError": "..errors",
    "ExecutorConfig": ".runtime_env",
    "ExecutorConfigError": "..errors",
    "ExecutorError": "..errors",
    "PipelineDefinition": ".pipeline",
    "RayActorExecutor": ".actor",
    "RayJobExecutor": ".job",
    "RayJobsApiExecutor": ".jobs_api",
    "RayPipelineExecutor": ".pipeline",
    "RayTaskExecutor": ".actor",
    "ValidationError": "..errors",
}
__all__ = [
    "ExecutionError",
    "ExecutionTimeoutError",
    "ExecutorConfig",
    "ExecutorConfigError",
    "ExecutorError",
    "PipelineDefinition",
    "RayActorExecutor",
    "RayJobExecutor",
    "RayJobsApiExecutor",
    "RayPipelineExecutor",
    "RayTaskExecutor",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)


def __dir__() -> list[str]:
    return __all__
