"""Experiment grids: self-contained tasks and the executors that run them.

A grid (``resode reproduce``: models × seeds × fixed λ values × analyses; paper B: inits ×
depths, Table 1 cells) is a list of :class:`Task`; an executor runs them and returns one
:class:`TaskOutcome` per task key:

========================  =====================================================================
``serial``                in this process, one after the other (debugging)
``local`` (default)       a pool of worker processes on this machine, one thread (or GPU) each
========================  =====================================================================

Every executor gives the same numbers for the same tasks: a task's result depends on its
parameters only (:mod:`resode.grid.task`).
"""

from __future__ import annotations

from typing import Any

from resode.errors import ConfigError
from resode.grid.local import LocalExecutor, SerialExecutor
from resode.grid.task import Task, TaskOutcome, run_task

EXECUTORS = ("local", "serial")


def make_executor(kind: str = "local", *, workers: int | None = None, **options: Any) -> Any:
    """The executor named ``kind`` with its options."""
    if kind == "local":
        return LocalExecutor(workers, retries=int(options.get("retries", 1)))
    if kind == "serial":
        return SerialExecutor()
    raise ConfigError(f"executor = {kind!r} is not one of {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "LocalExecutor",
    "SerialExecutor",
    "Task",
    "TaskOutcome",
    "make_executor",
    "run_task",
]
