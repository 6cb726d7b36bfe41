"""Experiment grids: self-contained tasks and the executors that run them.

A grid (``resode reproduce``: models × seeds × fixed λ values × analyses; paper B: inits ×
depths, Table 1 cells) is a list of :class:`Task`; an executor runs them and returns one
:class:`TaskOutcome` per task key:

========================  =====================================================================
``serial``                in this process, one after the other (debugging)
``local`` (default)       a pool of worker processes on this machine, one thread (or GPU) each
``slurm``                 a Slurm job array through submitit (``resode[slurm]``), one task a job
``submitit-local``        the same submitit path with processes on this machine (CI, testing)
========================  =====================================================================

Every executor gives the same numbers for the same tasks: a task's result depends on its
parameters only (:mod:`resode.grid.task`). The options are config keys
(:class:`~resode.grid.options.ExecutorOptions`); ``docs/cluster.md`` maps them to ``sbatch``.
"""

from __future__ import annotations

from typing import Any

from resode.errors import ConfigError
from resode.grid.local import LocalExecutor, SerialExecutor
from resode.grid.options import EXECUTORS, SUBMITIT_EXECUTORS, ExecutorOptions
from resode.grid.task import Task, TaskOutcome, run_task


def make_executor(kind: str = "local", *, workers: int | None = None, **options: Any) -> Any:
    """The executor named ``kind`` (one of :data:`EXECUTORS`) with its options (the keys of
    :meth:`ExecutorOptions.executor_options`; options another executor takes are ignored)."""
    if kind == "local":
        return LocalExecutor(workers, retries=int(options.get("retries", 1)))
    if kind == "serial":
        return SerialExecutor()
    if kind in SUBMITIT_EXECUTORS:
        from resode.grid.submitit_executor import SubmititExecutor

        options.pop("retries", None)
        return SubmititExecutor("slurm" if kind == "slurm" else "local", workers=workers, **options)
    raise ConfigError(f"executor = {kind!r} is not one of {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "SUBMITIT_EXECUTORS",
    "ExecutorOptions",
    "LocalExecutor",
    "SerialExecutor",
    "Task",
    "TaskOutcome",
    "make_executor",
    "run_task",
]
