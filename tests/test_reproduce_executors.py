"""``resode reproduce`` on the submitit executor (its local executor: the ``--executor slurm`` code
path without Slurm): a driver killed mid-run with a task half done, the same command again with
``--resume`` completes the grid with the numbers of an uninterrupted run, a third invocation
reuses every task and submits no job; failed cells are named, never averaged over silently.

Two tiny-preset grids are run once per test session, whichever xdist worker asks first (the
other waits on a lock and reuses them): an uninterrupted ``--executor local`` run, and the
interrupted submitit-local run. Tests that run the job again do it on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from resode.cli import main
from resode.grid import SerialExecutor, TaskOutcome
from resode.grid.task import RESULT_FILE

pytest.importorskip("submitit")

from conftest import once
from test_reproduce import numbers

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[1] / "src"


def tiny(out: Path, *extra: str) -> list[str]:
    return ["reproduce", "--preset", "tiny", "--out", str(out), "--no-progress", *extra]


def same_numbers(a: Path, b: Path) -> bool:
    """Every number of two runs' results.json agrees (the executor aside)."""
    x, y = numbers(a), numbers(b)
    x["config"].pop("executor")
    y["config"].pop("executor")
    return x == y


def finished(out: Path) -> list[Path]:
    """Task folders with a result."""
    return sorted(p.parent for p in out.glob(f"*/*/{RESULT_FILE}"))


def half_done(out: Path) -> list[Path]:
    """Task folders whose training checkpoint exists but whose result does not."""
    folders = (p.parent for p in out.glob("*/*/last.pt"))
    return sorted(f for f in folders if not (f / RESULT_FILE).is_file())


@pytest.fixture(scope="session")
def local_run(tiny_local_run: Path) -> Path:
    """The tiny preset, uninterrupted, on the local executor (worker processes)."""
    return tiny_local_run


@pytest.fixture(scope="session")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny preset on submitit-local in a subprocess (its own session), SIGKILLed with its jobs
    once a task has its checkpoint but no result yet and another has its result (tasks start
    longest first, so the first checkpoints come before any result); then the same command with
    --resume."""
    info = once(tmp_path_factory, "tiny-submitit-killed", kill_and_resume)
    return {
        "out": Path(info["out"]),
        "interrupted": [Path(p) for p in info["interrupted"]],
        "stamps": {Path(p): t for p, t in info["stamps"].items()},
    }


def kill_and_resume(out: Path) -> dict[str, Any]:
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    cmd = [sys.executable, "-m", "resode", *tiny(out, "--executor", "submitit-local")]
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not (half_done(out) and finished(out)):
            assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()}"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, the job controllers and the tasks
        proc.wait()
        proc.stderr.close()
    time.sleep(0.5)
    interrupted = half_done(out)
    stamps = {str(p): (p / "last.pt").stat().st_mtime_ns for p in interrupted}
    assert main(tiny(out, "--executor", "submitit-local", "--resume")) == 0
    return {"out": str(out), "interrupted": [str(p) for p in interrupted], "stamps": stamps}


def test_killed_submitit_run_completes_with_the_numbers_of_an_uninterrupted_run(
    killed_run: dict[str, Any], local_run: Path
) -> None:
    out, interrupted = killed_run["out"], killed_run["interrupted"]
    assert interrupted, "the driver was killed while no task was half done"
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == {}
    tasks = results["tasks"]
    keys = {str(p.relative_to(out)) for p in interrupted}
    assert all(not tasks[k]["reused"] for k in keys)
    assert any(t["reused"] for t in tasks.values())  # finished before the kill: not run again
    assert results["environment"]["jobs_submitted"] < len(tasks)
    for p, stamp in killed_run["stamps"].items():  # resumed from its checkpoint: not retrained
        assert (p / "last.pt").stat().st_mtime_ns == stamp
    assert same_numbers(out, local_run)


def test_second_resume_reuses_every_task_and_submits_no_job(
    killed_run: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(killed_run["out"], out)
    folder = out / "submitit"
    jobs = json.loads((folder / "jobs.json").read_text())
    submitted = sorted(p.name for p in folder.glob("*_submitted.pkl"))
    before = numbers(out)
    assert main(tiny(out, "--executor", "submitit-local", "--resume")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["tasks"] and all(t["reused"] for t in results["tasks"].values())
    assert results["environment"]["jobs_submitted"] == 0
    assert json.loads((folder / "jobs.json").read_text()) == jobs
    assert sorted(p.name for p in folder.glob("*_submitted.pkl")) == submitted
    assert numbers(out) == before
    # the killed jobs were submitted again: jobs.json counts two submissions for them
    for p in killed_run["interrupted"]:
        assert jobs[str(p.relative_to(killed_run["out"]))]["submissions"] == 2


class _FailSome(SerialExecutor):
    """Reuses every finished task, then reports ``keys`` as failed (as a cluster might)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys

    def run(self, tasks, root, **kw):  # type: ignore[no-untyped-def,override]
        out = super().run(tasks, root, **kw)
        for k in self.keys:
            out[k] = TaskOutcome(k, "failed", error=f"{k} was killed by the test")
        return out


def test_failed_cells_are_named_and_claims_say_they_miss_runs(
    local_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed paper-A run is named in results.json, in the report and in the evidence of the
    claims computed without it; a failed paper-B cell is named and its experiment's claims are
    not judged on the remaining cells."""
    import resode.grid

    copy = tmp_path / "copy"
    shutil.copytree(local_run, copy)
    failed = ("paper_a/inresnet20-seed1", "paper_b/depth_sweep_tied/L8")
    monkeypatch.setattr(resode.grid, "make_executor", lambda *a, **k: _FailSome(failed))
    assert main(tiny(copy, "--resume")) == 3  # finished with failed tasks (issue 24)
    results = json.loads((copy / "results.json").read_text())
    assert set(results["failed"]) == set(failed)
    report = (copy / "report.md").read_text()
    assert all(f"`{k}`" in report for k in failed)
    claims = results["claims"]
    damped = [c for c in claims if c["part"] == "A" and c["model"] == "inresnet20"]
    assert damped and all(f"Missing runs (failed): {failed[0]}" in c["evidence"] for c in damped)
    other = [c for c in claims if c["part"] == "A" and c["model"] == "lambda_inresnet20"]
    assert other and not any("Missing runs" in c["evidence"] for c in other)
    full = json.loads((local_run / "results.json").read_text())["claims"]
    judged_b = {c["claim"] for c in claims if c["part"] == "B"}
    # the tied sweep's claims, and the slope gap that needs both sweeps, are not judged
    missing = {c["claim"] for c in full if c["part"] == "B"} - judged_b
    assert missing == {"depth_slope_ode", "depth_bounded_ode", "depth_slope_gap"}
