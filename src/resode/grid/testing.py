"""Tiny task functions for testing executors (importable by every worker and submitted job).

Each is a :class:`~resode.grid.Task` function ``fn(params, folder) -> dict``:

* :func:`square`: ``{"y": x²}`` after an optional sleep;
* :func:`user_error`: raises a :class:`~resode.errors.ConfigError` (a user error: never retried);
* :func:`counted_steps`: ``steps`` steps checkpointed in ``folder/progress.json``; the first run
  SIGKILLs its own process after ``die_after`` steps (a killed job), the next run continues from
  the checkpoint and reports which step it resumed from;
* :func:`gated_steps`: the same steps, but the first run waits after ``gate_after`` steps until
  the file ``folder/release`` exists (a test cancels or kills its job there, deterministically).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from resode.errors import ConfigError

RUNS_FILE = "runs.txt"


def _count_run(folder: Path) -> int:
    """Append this process to ``folder/runs.txt``; returns how many runs started so far."""
    with open(folder / RUNS_FILE, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    return len((folder / RUNS_FILE).read_text().split())


def square(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``{"y": x²}`` (after sleeping ``sleep`` seconds)."""
    _count_run(folder)
    time.sleep(float(params.get("sleep", 0.0)))
    x = float(params["x"])
    return {"y": x * x}


def user_error(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Always a user error."""
    _count_run(folder)
    raise ConfigError(f"x = {params.get('x')!r} is not allowed; choose another x")


def _checkpointed_sum(folder: Path, steps: int, after_step: Any) -> dict[str, Any]:
    """Sum 0..steps−1 one step at a time, checkpointing ``folder/progress.json`` after every step
    and calling ``after_step(step)``; a rerun continues from the checkpoint."""
    path = folder / "progress.json"
    state = json.loads(path.read_text()) if path.exists() else {"step": 0, "total": 0}
    resumed_from = state["step"]
    while state["step"] < steps:
        state["total"] += state["step"]
        state["step"] += 1
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)
        after_step(state["step"])
    return {"total": state["total"], "resumed_from": resumed_from}


def counted_steps(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Sum 0..steps−1 one step at a time, checkpointing after every step; the first run kills its
    own process (SIGKILL) after ``die_after`` steps."""
    first = _count_run(folder) == 1

    def die(step: int) -> None:
        if first and step == int(params.get("die_after", -1)):
            os.kill(os.getpid(), signal.SIGKILL)

    return _checkpointed_sum(folder, int(params["steps"]), die)


def gated_steps(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Sum 0..steps−1 checkpointing every step; the first run, after ``gate_after`` steps, waits
    (polling) until ``folder/release`` exists."""
    first = _count_run(folder) == 1

    def gate(step: int) -> None:
        if first and step == int(params["gate_after"]):
            while not (folder / "release").exists():
                time.sleep(0.2)

    return _checkpointed_sum(folder, int(params["steps"]), gate)


__all__ = ["counted_steps", "gated_steps", "square", "user_error"]
