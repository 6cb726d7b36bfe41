"""resode.grid: the submitit executor's bookkeeping on tiny synthetic tasks (submitit's local
executor: the code path of ``--executor slurm`` without Slurm), the options and their ``sbatch``
mapping, and the executor choice of ``resode ode``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from resode.cli import main
from resode.errors import ConfigError, ResodeError
from resode.grid import ExecutorOptions, SerialExecutor, Task, make_executor
from resode.grid.options import slurm_parameters
from resode.grid.task import RESULT_FILE

submitit = pytest.importorskip("submitit")

from resode.grid.submitit_executor import (  # noqa: E402
    JOBS_FILE,
    JobBook,
    SubmititExecutor,
    slurm_state_status,
)
from resode.grid.testing import RUNS_FILE  # noqa: E402

FN = "resode.grid.testing:"


def runs(root: Path, key: str) -> int:
    """How many times a task of resode.grid.testing started in ``root/key``."""
    path = root / key / RUNS_FILE
    return len(path.read_text().split()) if path.exists() else 0


def square(key: str, x: float, sleep: float = 0.0) -> Task:
    return Task(key, FN + "square", {"x": x, "sleep": sleep})


# ---------------------------------------------------------------------------------------------
# jobs: killed, user error, reuse (one grid, submitit's local executor)


@pytest.mark.slow
def test_killed_job_resubmitted_from_checkpoint_user_error_reported_once(tmp_path: Path) -> None:
    """A job SIGKILLed mid-task is resubmitted and continues from its checkpoint; a user error is
    returned once and never resubmitted; jobs.json records every job; a second run submits
    nothing and reuses every finished task."""
    tasks = [
        square("sq/a", 3.0),
        Task("bad", FN + "user_error", {"x": 7}),
        Task("killed", FN + "counted_steps", {"steps": 10, "die_after": 4}),
    ]
    ex = make_executor("submitit-local", workers=3, slurm_max_retries=2)
    assert isinstance(ex, SubmititExecutor)
    out = ex.run(tasks, tmp_path)

    assert out["sq/a"].ok and out["sq/a"].result == {"y": 9.0}
    killed = out["killed"]
    assert killed.ok and killed.result == {"total": sum(range(10)), "resumed_from": 4}
    assert runs(tmp_path, "killed") == 2
    bad = out["bad"]
    assert not bad.ok and bad.user_error and "x = 7 is not allowed" in (bad.error or "")
    assert runs(tmp_path, "bad") == 1  # reported once, not once per retry
    assert ex.submitted == 4 and ex.reattached == 0

    book = json.loads((tmp_path / "submitit" / JOBS_FILE).read_text())
    assert set(book) == {"sq/a", "bad", "killed"}
    assert book["killed"]["submissions"] == 2 and book["bad"]["submissions"] == 1
    assert all(book[t.key]["digest"] == t.digest() for t in tasks)

    finished = [t for t in tasks if t.key != "bad"]
    again = SubmititExecutor("local", workers=2).run(finished, tmp_path)
    assert all(o.reused for o in again.values())
    assert json.loads((tmp_path / "submitit" / JOBS_FILE).read_text()) == book
    assert runs(tmp_path, "sq/a") == 1


@pytest.mark.slow
def test_running_job_reattached_gone_job_resubmitted(tmp_path: Path) -> None:
    """A driver that finds a recorded job still running waits on it (no new job); a recorded job
    that is gone, or that ran other parameters, is submitted again; a job that keeps dying fails
    after max_retries with a message naming the logs."""
    folder = tmp_path / "submitit"
    slow, gone, changed = square("slow", 2.0, sleep=4.0), square("gone", 4.0), square("chg", 5.0)
    first = SubmititExecutor("local", workers=1)
    (job,) = first._submit([slow], tmp_path, folder)  # a driver that submits, then is killed
    book = JobBook(folder / JOBS_FILE)
    book.record(slow, str(job.job_id))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])  # a job whose process is gone
    ended.wait()
    book.jobs["gone"] = {"job_id": str(ended.pid), "digest": gone.digest()}
    book.jobs["chg"] = {"job_id": str(job.job_id), "digest": "another-digest"}
    book.save()

    dying = Task("dies", FN + "counted_steps", {"steps": 3, "die_after": 1})
    ex = SubmititExecutor("local", workers=4, slurm_max_retries=0)
    out = ex.run([slow, gone, changed, dying], tmp_path)
    assert ex.reattached == 1 and ex.submitted == 3
    assert runs(tmp_path, "slow") == 1  # waited on, not run twice
    results = [out[k].result for k in ("slow", "gone", "chg")]
    assert results == [{"y": 4.0}, {"y": 16.0}, {"y": 25.0}]
    assert not out["dies"].ok and not out["dies"].user_error
    assert "died without a result 1 times" in (out["dies"].error or "")
    assert str(folder) in (out["dies"].error or "")
    assert not (tmp_path / "dies" / RESULT_FILE).exists()


# ---------------------------------------------------------------------------------------------
# the slurm executor against a fake Slurm (sbatch/srun/sacct scripts: tests/fake_slurm.py)


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os
    import random

    from submitit import SlurmJob

    import fake_slurm

    bin_dir = tmp_path / "fake-bin"
    fake_slurm.install(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(tmp_path / "fake-slurm"))
    monkeypatch.setenv("FAKE_SLURM_FIRST", str(random.randrange(10**5, 10**6) * 100))
    SlurmJob.watcher.clear()  # job states are cached per process
    return tmp_path / "grid"


@pytest.mark.slow
def test_slurm_array_reattach_resubmit_and_user_error(fake_slurm: Path) -> None:
    """``--executor slurm`` end to end on a fake Slurm: a running job recorded by a killed driver
    is re-attached through sacct, the rest goes out as one job array, a killed job is resubmitted
    and continues from its checkpoint, a user error is reported once."""
    root = fake_slurm
    folder = root / "submitit"
    opts = {"slurm_partition": "fake", "slurm_time_min": 30, "slurm_array_parallelism": 3}
    slow = square("slow", 2.0, sleep=3.0)
    first = make_executor("slurm", **opts)
    (job,) = first._submit([slow], root, folder)  # a driver that submits, then is killed
    book = JobBook(folder / JOBS_FILE)
    book.record(slow, str(job.job_id))
    gone = square("gone", 5.0)
    book.record(gone, "999_0")  # a job sacct does not know (purged, another cluster)
    book.save()

    tasks = [
        slow,
        gone,
        square("sq", 3.0),
        Task("bad", FN + "user_error", {"x": 7}),
        Task("killed", FN + "counted_steps", {"steps": 6, "die_after": 2}),
    ]
    ex = make_executor("slurm", slurm_max_retries=1, **opts)
    ex.result_lag_s = 1.0
    out = ex.run(tasks, root)
    assert ex.reattached == 1 and ex.submitted == 5  # an array of 4, then the killed job again
    assert out["slow"].result == {"y": 4.0} and runs(root, "slow") == 1
    assert out["sq"].result == {"y": 9.0} and out["gone"].result == {"y": 25.0}
    assert out["killed"].result == {"total": sum(range(6)), "resumed_from": 2}
    assert out["bad"].user_error and runs(root, "bad") == 1
    jobs = json.loads((folder / JOBS_FILE).read_text())
    array = {jobs[k]["job_id"].split("_")[0] for k in ("gone", "sq", "bad")}
    assert len(array) == 1 and all("_" in jobs[k]["job_id"] for k in ("gone", "sq", "bad"))
    assert jobs["killed"]["submissions"] == 2
    scripts = [p.read_text() for p in folder.glob("*_submission.sh")]
    assert any("#SBATCH --array=0-3%3" in s and "#SBATCH --partition=fake" in s for s in scripts)


# ---------------------------------------------------------------------------------------------
# fast checks: Slurm states, options, sbatch mapping, errors


def test_slurm_states() -> None:
    for state in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "SUSPENDED"):
        assert slurm_state_status(state, fresh=False) == "active"
    for state in ("COMPLETED", "FAILED", "CANCELLED by 42", "TIMEOUT", "NODE_FAIL", "PREEMPTED"):
        assert slurm_state_status(state, fresh=True) == "ended"
    assert slurm_state_status("OUT_OF_MEMORY", fresh=True) == "ended"
    assert slurm_state_status("UNKNOWN", fresh=True) == "active"  # sacct lags behind sbatch
    assert slurm_state_status("", fresh=False) == "ended"  # a recorded job sacct has forgotten


def test_sbatch_script_maps_every_option(tmp_path: Path) -> None:
    """The options become the sbatch lines docs/cluster.md lists (submitit writes the script)."""
    from submitit.slurm.slurm import _make_sbatch_string  # the script SlurmExecutor submits

    opts = ExecutorOptions(
        executor="slurm",
        threads=2,
        slurm_partition="gpu",
        slurm_time_min=90,
        slurm_gpus_per_task=1,
        slurm_mem_gb=16,
        slurm_array_parallelism=4,
        slurm_additional=["account=proj", "qos=high"],
        slurm_setup=["source ~/venv/bin/activate"],
    )
    params = slurm_parameters(**opts.executor_options())
    script = _make_sbatch_string(command="python -m x", folder=tmp_path, map_count=10, **params)
    lines = set(script.splitlines())
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=16GB",
        "#SBATCH --array=0-9%4",
        "#SBATCH --account=proj",
        "#SBATCH --qos=high",
        "source ~/venv/bin/activate",
    ):
        assert line in lines, line
    assert slurm_parameters(slurm_mem_gb=1.5)["mem"] == "1536MB"
    assert slurm_parameters(threads=3)["cpus_per_task"] == 3


def test_options_from_yaml_and_cli(tmp_path: Path) -> None:
    from resode.config import config_from_args
    from resode.reproduce import ReproduceConfig

    cfg = ReproduceConfig.from_dict(
        {"executor": "slurm", "slurm_partition": "a100", "slurm_additional": ["account=x"]}
    )
    cfg.to_yaml(tmp_path / "c.yaml")
    assert ReproduceConfig.from_yaml(tmp_path / "c.yaml") == cfg
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        ExecutorOptions(slurm_additional=["account"])
    with pytest.raises(ConfigError, match="executor"):
        ExecutorOptions(executor="ray")  # type: ignore[arg-type]

    import argparse

    from resode.config import add_config_arguments

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ExecutorOptions)
    args = parser.parse_args(
        ["--executor", "submitit-local", "--slurm-time-min", "30", "--slurm-additional", "qos=lo"]
    )
    opts = config_from_args(ExecutorOptions, args)
    assert (opts.executor, opts.slurm_time_min, opts.slurm_additional) == (
        "submitit-local",
        30,
        ["qos=lo"],
    )


def test_slurm_without_a_cluster_is_a_user_error(tmp_path: Path) -> None:
    import shutil

    if shutil.which("srun"):
        pytest.skip("this machine has Slurm")
    ex = make_executor("slurm", slurm_partition="gpu")
    with pytest.raises(ResodeError, match="submitit-local"):
        ex.run([square("a", 1.0)], tmp_path)


def test_finished_tasks_are_never_submitted(tmp_path: Path) -> None:
    """A grid whose results are all on disk (same digest) starts no job at all."""
    tasks = [square("a", 1.0), square("b", 2.0)]
    SerialExecutor().run(tasks, tmp_path)
    ex = SubmititExecutor("local")
    out = ex.run(tasks, tmp_path)
    assert ex.submitted == 0 and all(o.reused for o in out.values())
    assert not (tmp_path / "submitit").exists()


# ---------------------------------------------------------------------------------------------
# resode ode: the executor of its cells


class _Spy(SerialExecutor):
    def __init__(self) -> None:
        self.keys: list[str] = []

    def run(self, tasks, root, **kw):  # type: ignore[no-untyped-def,override]
        self.keys += [t.key for t in tasks]
        return super().run(tasks, root, **kw)


def test_run_cells_runs_on_the_cell_executor(tmp_path: Path) -> None:
    from resode.ode.experiments.common import cell_executor, run_cells

    spy = _Spy()
    with cell_executor(spy):
        got = run_cells([(math.hypot, (3.0, 4.0)), (math.hypot, (5.0, 12.0))], workers=4)
    assert got == [5.0, 13.0] and len(spy.keys) == 2
    assert run_cells([(math.hypot, (8.0, 15.0))]) == [17.0] and len(spy.keys) == 2


def test_ode_submitit_refuses_cells_of_an_earlier_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cells" / "old").mkdir(parents=True)
    args = ["ode", "relu-counterexample", "--preset", "short", "--out", str(tmp_path)]
    assert main([*args, "--executor", "submitit-local", "--no-progress"]) == 2
    assert "pass --resume" in capsys.readouterr().err


@pytest.mark.slow
def test_ode_cells_on_submitit_give_the_numbers_of_this_process(tmp_path: Path) -> None:
    """``resode ode ... --executor submitit-local``: every cell a job, cells kept under OUT/cells,
    the same JSON as the cells run in this process; --resume then submits nothing."""
    base = ["ode", "relu-counterexample", "--preset", "short", "--no-progress"]
    sub, here = tmp_path / "submitit", tmp_path / "serial"
    assert main([*base, "--executor", "submitit-local", "--workers", "2", "--out", str(sub)]) == 0
    assert main([*base, "--executor", "serial", "--out", str(here)]) == 0
    name = "relu_counterexample.json"
    assert json.loads((sub / name).read_text()) == json.loads((here / name).read_text())
    book = json.loads((sub / "cells" / "submitit" / JOBS_FILE).read_text())
    assert len(book) == 3 and all(e["submissions"] == 1 for e in book.values())
    args = [*base, "--executor", "submitit-local", "--out", str(sub), "--resume"]
    assert main(args) == 0
    assert json.loads((sub / "cells" / "submitit" / JOBS_FILE).read_text()) == book


def test_the_driver_prints_one_line_per_change_of_state(tmp_path: Path) -> None:
    """Submitted, resubmitted (a job that died without a result) and failed each print one line
    above the bar; a task that finishes only moves the bar."""
    from types import SimpleNamespace

    from resode.grid.submitit_executor import SubmititExecutor
    from resode.grid.task import TaskOutcome

    ex = SubmititExecutor("local", workers=3)
    ex.poll_s = 0.0
    ids = iter(range(100, 200))
    lives = {"dies-once": 1}

    def submit(batch, root, folder):
        return [SimpleNamespace(job_id=f"{next(ids)}", key=t.key) for t in batch]

    def outcome(task, job):
        if lives.get(task.key, 0) > 0:
            lives[task.key] -= 1
            return None  # died without a result: resubmitted
        if task.key == "bad":
            return TaskOutcome("bad", "failed", error="x = 7 is not allowed", user_error=True)
        return TaskOutcome(task.key, "done", result={})

    ex._submit, ex._ended, ex._outcome = submit, lambda job: True, outcome

    lines: list[str] = []
    bar = SimpleNamespace(disable=False, write=lines.append, update=lambda n: None)
    bar.set_postfix_str = lambda s: None
    tasks = [Task(k, "m:f") for k in ("dies-once", "fine", "bad")]
    out: dict = {}
    ex._drive({}, list(tasks), tmp_path, tmp_path / "submitit", _Book(), out, bar)
    assert lines == [
        "3 task(s) submitted (job 100, 101, 102)",
        "dies-once: job 100 ended without a result; resubmitted (1/2)",
        "bad failed: x = 7 is not allowed",
        "1 task(s) submitted (job 103)",
    ]
    assert out["dies-once"].ok and out["fine"].ok and not out["bad"].ok


class _Book:
    def record(self, task, job_id) -> None:
        pass

    def save(self) -> None:
        pass
