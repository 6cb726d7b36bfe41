"""The slurm executor against a real Slurm (the single-node cluster of tests/slurm_cluster.py):
the tiny reproduce preset as a job array gives the local executor's numbers with a quiet
terminal; an array task cancelled with ``scancel`` is resubmitted and resumes from its
checkpoint; a driver killed and started again re-attaches to the job still running and resubmits
only the one that was lost; a user error is reported once and not retried.

Every wait is on an observable state (a file a task writes, ``squeue``), bounded generously.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("submitit")

from resode.grid import Task, make_executor
from resode.grid.submitit_executor import JOBS_FILE, LOG_FILE
from resode.grid.testing import RUNS_FILE
from test_reproduce import numbers

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[1] / "src"
FN = "resode.grid.testing:"
WAIT_S = 300.0  # generous bound on any wait for the scheduler


def wait_for(what: str, ok: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def runs(root: Path, key: str) -> int:
    path = root / key / RUNS_FILE
    return len(path.read_text().split()) if path.exists() else 0


def step(root: Path, key: str) -> int:
    try:
        return int(json.loads((root / key / "progress.json").read_text())["step"])
    except (OSError, ValueError):
        return 0


def opts(cluster) -> dict:  # type: ignore[no-untyped-def]
    return {"slurm_partition": cluster.partition, "slurm_time_min": 10}


def test_tiny_preset_as_a_job_array_gives_the_local_numbers_quietly(
    slurm_cluster, tiny_local_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tiny-grid"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "resode", "reproduce", "--preset", "tiny", "--out", str(out)]
    cmd += ["--executor", "slurm", "--slurm-partition", slurm_cluster.partition]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    x, y = numbers(out), numbers(tiny_local_run)
    assert x["config"].pop("executor") == "slurm"
    y["config"].pop("executor")
    assert x["config"].pop("slurm_partition") == slurm_cluster.partition
    y["config"].pop("slurm_partition")
    assert x == y
    jobs = json.loads((out / "submitit" / JOBS_FILE).read_text())
    # one job array per wave: the cells, then the transfer attacks between them
    waves = {k.startswith("paper_a/transfer/") for k in jobs}
    for wave in waves:
        arrays = {
            j["job_id"].split("_")[0]
            for k, j in jobs.items()
            if k.startswith("paper_a/transfer/") == wave
        }
        assert len(arrays) == 1
    assert waves == {False, True}
    # a quiet terminal: no submitit warning per poll (they go to the log file)
    terminal = res.stdout + res.stderr
    assert "Bypassing" not in terminal and "submitit WARNING" not in terminal
    assert "accounting storage is disabled" not in terminal  # sacct's own stderr
    log = (out / "submitit" / LOG_FILE).read_text()
    assert "Bypassing sacct error" in log  # this cluster has no accounting: logged, not shown
    assert "%|" in res.stderr  # the progress bar
    # besides the bar, the terminal holds the run's own summary, no line per poll or per job
    bar = ("%|", "it/s]", "s/it]")
    lines = [ln for ln in terminal.replace("\r", "\n").splitlines() if ln.strip()]
    other = [ln for ln in lines if not any(b in ln for b in bar)]
    assert not [ln for ln in other if "sacct" in ln or "submitit" in ln or "slurm" in ln.lower()]
    assert len(other) == len(set(other)), other  # a warning per poll would repeat


def test_scancelled_array_task_is_resubmitted_and_resumes(slurm_cluster, tmp_path: Path) -> None:
    import threading

    root = tmp_path / "grid"
    tasks = [
        Task("gated", FN + "gated_steps", {"steps": 5, "gate_after": 2}),
        Task("sq", FN + "square", {"x": 3.0}),
    ]
    ex = make_executor("slurm", slurm_max_retries=2, **opts(slurm_cluster))
    ex.result_lag_s = 2.0
    result: dict = {}
    driver = threading.Thread(target=lambda: result.update(ex.run(tasks, root)), daemon=True)
    driver.start()
    wait_for("the gated task at its gate", lambda: step(root, "gated") == 2)
    job_id = json.loads((root / "submitit" / JOBS_FILE).read_text())["gated"]["job_id"]
    slurm_cluster.slurm("scancel", job_id)
    wait_for("the resubmitted job", lambda: runs(root, "gated") == 2)
    driver.join(WAIT_S)
    assert not driver.is_alive()
    assert result["gated"].result == {"total": sum(range(5)), "resumed_from": 2}
    assert result["sq"].result == {"y": 9.0} and runs(root, "sq") == 1
    jobs = json.loads((root / "submitit" / JOBS_FILE).read_text())
    assert jobs["gated"]["submissions"] == 2 and jobs["sq"]["submissions"] == 1


def test_user_error_is_reported_once_and_not_retried(slurm_cluster, tmp_path: Path) -> None:
    root = tmp_path / "grid"
    ex = make_executor("slurm", slurm_max_retries=2, **opts(slurm_cluster))
    out = ex.run([Task("bad", FN + "user_error", {"x": 7})], root)
    assert out["bad"].user_error and runs(root, "bad") == 1
    assert out["bad"].error.count("\n") == 0
    assert "x = 7 is not allowed; choose another x" in out["bad"].error
    assert ex.submitted == 1


DRIVER = """
import sys
from resode.grid import Task, make_executor
tasks = [Task(k, "resode.grid.testing:gated_steps", {"steps": 4, "gate_after": 1})
         for k in ("kept", "lost")]
make_executor("slurm", slurm_partition=sys.argv[2], slurm_time_min=10).run(tasks, sys.argv[1])
"""


def test_restarted_driver_reattaches_and_resubmits_only_the_lost_job(
    slurm_cluster, tmp_path: Path
) -> None:
    root = tmp_path / "grid"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(root), slurm_cluster.partition],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("both jobs at their gate", lambda: step(root, "kept") == step(root, "lost") == 1)
    finally:
        proc.kill()  # the driver only: its jobs belong to Slurm and keep running
        proc.wait()
    jobs = json.loads((root / "submitit" / JOBS_FILE).read_text())
    slurm_cluster.slurm("scancel", jobs["lost"]["job_id"])  # lost while no driver watched
    wait_for(
        "the lost job to leave the queue",
        lambda: (
            not any(
                j == jobs["lost"]["job_id"] and s in ("RUNNING", "PENDING", "COMPLETING")
                for j, s in slurm_cluster.queue()
            )
        ),
    )
    import threading

    tasks = [Task(k, FN + "gated_steps", {"steps": 4, "gate_after": 1}) for k in ("kept", "lost")]
    ex = make_executor("slurm", **opts(slurm_cluster))
    ex.result_lag_s = 2.0
    out: dict = {}
    driver = threading.Thread(target=lambda: out.update(ex.run(tasks, root)), daemon=True)
    driver.start()
    wait_for("the new driver to re-attach", lambda: ex.reattached == 1)
    (root / "kept" / "release").touch()  # the kept job finishes under the new driver
    driver.join(WAIT_S)
    assert not driver.is_alive()
    assert ex.reattached == 1 and ex.submitted == 1
    assert out["kept"].result == {"total": sum(range(4)), "resumed_from": 0}
    assert out["lost"].result == {"total": sum(range(4)), "resumed_from": 1}
    assert runs(root, "kept") == 1 and runs(root, "lost") == 2


def test_task_past_its_time_limit_is_requeued_by_checkpointing_and_completes(
    slurm_cluster, tmp_path: Path
) -> None:
    """A 3-minute limit; the first run waits at its gate for ever. submitit asks Slurm for
    SIGUSR2 90 s before the limit, checkpoints the job and requeues it (the driver submits
    nothing again); the requeued run continues from the task's checkpoint and completes.
    The signal comes 90 s after the start: submitit installs its handler only after the task's
    pickle is loaded (which imports torch), and with a 2-minute limit (signal at 30 s) a loaded
    machine was seen to deliver it before that, so the job died and the driver resubmitted it."""
    root = tmp_path / "grid"
    ex = make_executor("slurm", slurm_partition=slurm_cluster.partition, slurm_time_min=3)
    ex.result_lag_s = 2.0
    out = ex.run([Task("slow", FN + "gated_steps", {"steps": 4, "gate_after": 1})], root)
    assert out["slow"].result == {"total": sum(range(4)), "resumed_from": 1}
    assert runs(root, "slow") == 2 and ex.submitted == 1
    jobs = json.loads((root / "submitit" / JOBS_FILE).read_text())
    assert jobs["slow"]["submissions"] == 1  # requeued by Slurm, not resubmitted by the driver
    logs = "".join(p.read_text() for p in (root / "submitit").glob("*_log.err"))
    assert "requeue" in logs.lower(), logs[-2000:]


#: the sbatch script docs/cluster.md shows for one model trained across Slurm tasks (one rank per
#: task, gloo on CPU, NCCL on GPUs); the test runs it with RESODE standing for ``python -m resode``
#: plus the registration of its BatchNorm-free test model
TRAIN_SCRIPT = """#!/bin/bash
#SBATCH --job-name=resode-train
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
#SBATCH --time=10
#SBATCH --output={out}/slurm-%j.out
export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK
echo "batch step tasks: ${{SLURM_STEP_NUM_TASKS:-unset}}"
srun {resode} train --config {config} --out {out} --no-progress
"""


def test_one_model_trained_across_two_slurm_tasks_equals_a_single_process_run(
    slurm_cluster, tmp_path: Path
) -> None:
    """``resode train`` under ``srun --ntasks 2`` (torch.distributed, gloo, ranks from Slurm's
    variables) ends with the weights of one process with the same global batch, up to float
    summation order (the tolerance of tests/test_ddp.py; measured here: max |Δw| printed)."""
    from resode.checkpoint import read_checkpoint
    from resode.training import TrainConfig, train
    from test_ddp import CONFIG, MODEL_SOURCE

    wrapper = tmp_path / "resode_with_test_model.py"
    wrapper.write_text(
        MODEL_SOURCE + "\nimport os, sys\nfrom resode.cli import main\n"
        "from resode.training.distributed import env_world_size\n"
        "world = env_world_size()\n"
        "print(f\"rank {os.environ.get('RANK')} of {world}\", flush=True)\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    config = tmp_path / "train.yaml"
    config.write_text(json.dumps(CONFIG))  # JSON is YAML
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "train.sbatch"
    script.write_text(
        TRAIN_SCRIPT.format(out=out, config=config, resode=f"{sys.executable} {wrapper}")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    res = subprocess.run(
        ["sbatch", "--wait", "--partition", slurm_cluster.partition, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    log = "".join(p.read_text() for p in out.glob("slurm-*.out"))
    assert res.returncode == 0, res.stderr + log[-3000:]
    assert "batch step tasks: unset" in log  # the batch script itself is not a 2-rank step
    assert "rank 0 of 2" in log and "rank 1 of 2" in log  # two ranks, from Slurm's variables
    ddp = read_checkpoint(out / "last.pt")["state_dict"]
    # the config the CLI resolved (the digits preset under the test's keys), in one process
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert all(resolved[k] == v for k, v in CONFIG.items())
    single = train(TrainConfig.from_dict(resolved), tmp_path / "single", progress=False)
    ws = single.model.state_dict()
    worst = max(float((ddp[k].float() - ws[k].float()).abs().max()) for k in ws)
    print(f"max |w_ddp - w_single| = {worst:.3g}")
    for key in ws:
        assert torch.allclose(ddp[key], ws[key], rtol=1e-4, atol=1e-6), key
    hist = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    for h_ddp, h_one in zip(hist, single.history):
        assert h_ddp["train_loss"] == pytest.approx(h_one["train_loss"], rel=1e-4)
