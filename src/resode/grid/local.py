"""Run a list of tasks on this machine: in this process, or in a pool of worker processes.

``SerialExecutor`` runs the tasks one after the other in the calling process (debugging, tests).
``LocalExecutor(workers=N)`` runs them in N independent worker processes (``spawn`` start method,
so no thread pool or CUDA context is inherited), one task per worker at a time, each with its own
fixed torch thread count: the parallelism of a grid comes from independent runs, never from
threads whose number depends on the machine's load, so results do not depend on the worker
count. On a machine with GPUs, worker i sees only GPU i mod #GPUs (``CUDA_VISIBLE_DEVICES``).

A worker that dies (SIGKILL, out of memory) breaks the pool; the executor starts a fresh pool and
resubmits the unfinished tasks up to ``retries`` times (a task whose work was checkpointed
continues from its checkpoint), then reports them as failed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from resode.grid.task import Task, TaskOutcome, cached_outcome, run_task


def _progress(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True)


class SerialExecutor:
    """Every task in this process, in order."""

    name = "serial"

    def run(
        self, tasks: Sequence[Task], root: str | Path, *, progress: bool = False, desc: str = ""
    ) -> dict[str, TaskOutcome]:
        out: dict[str, TaskOutcome] = {}
        with _progress(len(tasks), desc or "tasks", progress) as bar:
            for task in tasks:
                bar.set_postfix_str(task.label or task.key)
                out[task.key] = run_task(task, root)
                bar.update(1)
        return out


def _worker_init(gpus: int) -> None:
    """Pin a worker to one GPU (round robin over the visible ones)."""
    if gpus > 0:
        import multiprocessing

        ident = multiprocessing.current_process()._identity
        index = (ident[0] - 1) if ident else 0
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def _visible_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # pragma: no cover
        return 0


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (default: one per CPU core)."""

    name = "local"

    def __init__(self, workers: int | None = None, *, retries: int = 1) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.retries = retries

    def run(
        self, tasks: Sequence[Task], root: str | Path, *, progress: bool = False, desc: str = ""
    ) -> dict[str, TaskOutcome]:
        out: dict[str, TaskOutcome] = {}
        todo = []
        for task in tasks:  # finished cells are reused without starting a worker
            cached = cached_outcome(task, root)
            if cached is not None:
                out[task.key] = cached
            else:
                todo.append(task)
        todo.sort(key=lambda t: -t.cost)  # longest first: the pool's last tasks are short ones
        with _progress(len(tasks), desc or "tasks", progress) as bar:
            bar.update(len(out))
            for attempt in range(self.retries + 1):
                if not todo:
                    break
                todo = self._run_pool(todo, root, out, bar, last=attempt == self.retries)
        return {t.key: out[t.key] for t in tasks}

    def _run_pool(
        self, todo: list[Task], root: str | Path, out: dict[str, TaskOutcome], bar, *, last: bool
    ) -> list[Task]:
        """Run ``todo`` in one pool; returns the tasks to retry after the pool broke."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(todo))
        broken: list[Task] = []
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(_visible_gpus(),),
        ) as pool:
            futures: dict[Future, Task] = {pool.submit(run_task, t, root): t for t in todo}
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    out[task.key] = fut.result()
                except BrokenProcessPool as exc:
                    if last:
                        out[task.key] = TaskOutcome(
                            task.key, "failed", error=f"worker process died ({exc})"
                        )
                    else:
                        broken.append(task)
                        continue
                bar.set_postfix_str(task.label or task.key)
                bar.update(1)
        return broken


__all__ = ["LocalExecutor", "SerialExecutor"]
