"""A task: one self-contained cell of an experiment grid, with its own folder, config and seed.

A :class:`Task` names a function by import path (``"module:function"``, written by
:func:`fn_ref` from the function itself) and holds JSON-able parameters, so any process — a local
worker, a Slurm array job — can run it from the task alone::

    outcome = run_task(task, root)   # calls fn(params, root / task.key) → result

``Task.fn`` resolved by :func:`resolve` is the executor's one entry point into the layers above
it (the experiments name their cell functions there; nothing else in ``grid`` names an upper
module). The function returns either a JSON-able mapping or a typed result with a
``to_dict()`` method (e.g. :class:`resode.reproduce.runs.RunResult`); ``result.json`` and
:attr:`TaskOutcome.result` hold that mapping (``to_dict()`` of a typed result), and the caller
that knows the function turns it back into its type (``RunResult.from_dict``).

Guarantees of :func:`run_task`:

* **deterministic**: the task runs with ``task.threads`` torch threads (default 1), whatever the
  machine's load, so its numbers depend on its parameters only;
* **resumable**: the result is written atomically to ``<folder>/result.json`` together with the
  digest of (fn, params); a task whose folder already holds the result for the same digest is
  not run again (``reused``); a task killed midway leaves what its function checkpointed
  (e.g. the training engine's ``last.pt``) and continues from there when run again;
* **exclusive**: an advisory file lock on ``<folder>/.lock`` makes a second copy of the same task
  (a resubmitted job while the first still runs) wait and then reuse the first one's result;
* **failures are data**: a user error (:class:`~resode.errors.ResodeError`) or a crash is returned
  as a failed :class:`TaskOutcome` (and written to ``<folder>/error.json``), never raised, so a
  grid reports every failed cell by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from resode.errors import ResodeError

RESULT_FILE = "result.json"
ERROR_FILE = "error.json"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Task:
    """One grid cell: ``fn(params, folder) -> dict`` run in ``root / key``."""

    key: str
    fn: str
    params: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    label: str = ""
    cost: float = 0.0  # estimated seconds: executors start the longest first (not in the digest)

    def digest(self) -> str:
        """SHA-256 of the function and its parameters: a changed config reruns the task."""
        text = json.dumps({"fn": self.fn, "params": self.params}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        return cls(**data)


@dataclass
class TaskOutcome:
    """What happened to a task: ``done`` (with its result) or ``failed`` (with the error)."""

    key: str
    status: Literal["done", "failed"]
    result: dict[str, Any] | None = None
    error: str | None = None
    user_error: bool = False
    reused: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fn_ref(fn: Callable[..., Any]) -> str:
    """``"package.module:function"`` of a module-level function: what a task's ``fn`` holds.

    Checked to name ``fn`` itself in its module (a lambda, a nested function, a method or a
    function bound under another name is refused at once, not when a worker resolves it)."""
    import sys

    ref = f"{fn.__module__}:{fn.__qualname__}"
    module = sys.modules.get(fn.__module__)
    if "." in fn.__qualname__ or getattr(module, fn.__qualname__, None) is not fn:
        raise ValueError(f"task function {ref!r} must be a module-level function")
    return ref


def resolve(path: str) -> Callable[[dict[str, Any], Path], Any]:
    """The function named ``"package.module:function"``."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"task function {path!r} must be written 'module:function'")
    return getattr(importlib.import_module(module), name)


_HELD: set[str] = set()  # folders this process holds the lock of (folder_lock is re-entrant)


@contextlib.contextmanager
def folder_lock(folder: Path, *, blocking: bool = True, what: str = "run") -> Iterator[None]:
    """An exclusive advisory lock on ``folder/.lock`` (a no-op where fcntl is missing).

    ``blocking=False``: a folder another process holds is a :class:`ResodeError` at once (one
    line naming the folder) instead of a wait — what ``resode train`` wants.
    Re-entrant within a process: a grid task that trains into its own folder already holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    key = os.path.realpath(folder)
    if key in _HELD:
        yield
        return
    with open(folder / LOCK_FILE, "a+") as fh:
        if blocking:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        else:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise ResodeError(
                    f"another {what} is writing to {str(folder)!r} right now; wait for it to "
                    "finish or choose another --out folder"
                ) from exc
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_json_atomic(path: Path, obj: Any) -> None:
    from resode.checkpoint import atomic_write_bytes

    text = json.dumps(obj, indent=2, default=str, allow_nan=True)
    atomic_write_bytes(path, lambda fh: fh.write(text.encode()))


def cached_outcome(task: Task, root: str | Path) -> TaskOutcome | None:
    """The stored result of ``task`` (same digest) without running anything, else None.

    ``result.json`` is checked against its schema first (a mapping with a string ``digest``, a
    ``result`` mapping, a finite ``seconds``): a file of another shape is never trusted — the
    task runs again and overwrites it."""
    path = Path(root) / task.key / RESULT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _valid_result(data) or data["digest"] != task.digest():
        return None
    return TaskOutcome(
        task.key,
        "done",
        data["result"],
        reused=True,
        seconds=float(data["seconds"]),
        cpu_seconds=float(data.get("cpu_seconds", 0.0)),
    )


def _number(v: Any) -> bool:
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _valid_result(data: Any) -> bool:
    """The schema of ``result.json``: what :func:`run_task` writes."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("digest"), str)
        and isinstance(data.get("result"), dict)
        and _number(data.get("seconds"))
        and _number(data.get("cpu_seconds", 0.0))
    )


def run_task(task: Task, root: str | Path) -> TaskOutcome:
    """Run ``task`` in ``root / task.key`` unless its result is already there (see module doc)."""
    from resode.runtime import torch_threads

    folder = Path(root) / task.key
    with folder_lock(folder):
        cached = cached_outcome(task, root)
        if cached is not None:
            return cached
        (folder / ERROR_FILE).unlink(missing_ok=True)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            fn = resolve(task.fn)
            with torch_threads(task.threads):
                result = fn(dict(task.params), folder)
            if hasattr(result, "to_dict"):  # a typed result: stored as its JSON mapping
                result = result.to_dict()
        except ResodeError as exc:
            msg = " ".join(str(exc).split())
            _write_json_atomic(folder / ERROR_FILE, {"kind": "user", "error": msg})
            return TaskOutcome(task.key, "failed", error=msg, user_error=True)
        except Exception as exc:  # a crash of one cell must not take the grid down
            msg = f"{type(exc).__name__}: {exc}"
            _write_json_atomic(
                folder / ERROR_FILE,
                {"kind": "crash", "error": msg, "traceback": traceback.format_exc()},
            )
            return TaskOutcome(task.key, "failed", error=msg)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        _write_json_atomic(
            folder / RESULT_FILE,
            {
                "digest": task.digest(),
                "task": task.to_dict(),
                "result": result,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "pid": os.getpid(),
            },
        )
        return TaskOutcome(task.key, "done", result, seconds=seconds, cpu_seconds=cpu)


__all__ = [
    "Task",
    "TaskOutcome",
    "cached_outcome",
    "fn_ref",
    "folder_lock",
    "resolve",
    "run_task",
]
