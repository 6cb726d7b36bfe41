"""DDP: 2 CPU processes (gloo, launched by torchrun) equal a single process with the same batch.

Every rank draws the same global batch (same seeded permutation and augmentation) and keeps its
chunk; each minimises (world/b)·Σ_local ℓ and DDP averages gradients, which is the global-batch
mean gradient (resode/training/distributed.py). So both ranks must end with identical weights,
equal up to float summation order to a single-process run with the same global batch.

The model has no BatchNorm on purpose: in DDP BatchNorm statistics are per rank unless converted
to SyncBatchNorm, which PyTorch implements only on GPUs (the engine converts on CUDA by default).
The training set (99 images, batch 32) ends with a batch of 3, split 2/1 between the ranks, where
a per-rank mean loss would weight samples unequally; the (world/b)·Σ form keeps it exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

MODEL_SOURCE = textwrap.dedent(
    """
    import torch
    from torch import nn
    import resode

    @resode.register_model("_ddp_tiny", family="test")
    def _ddp_tiny(num_classes=10, in_channels=1, image_size=8, mean=(0.5,), std=(0.5,)):
        return nn.Sequential(
            nn.Conv2d(in_channels, 6, 3, padding=1), nn.ReLU(),
            nn.Conv2d(6, 6, 3, padding=1, stride=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, num_classes),
        )
    """
)

CONFIG = {
    "model": "_ddp_tiny",
    "dataset": "digits",
    "image_size": 8,
    "train_subset": 99,
    "test_subset": 37,
    "epochs": 2,
    "batch_size": 32,
    "lr": 0.1,
    "schedule": "constant",
    "milestones": [],
    "weight_decay": 1e-3,
    "crop_padding": 1,
    "device": "cpu",
    "threads": 1,
    "seed": 5,
}

SCRIPT = MODEL_SOURCE + textwrap.dedent(
    f"""
    import os, sys
    from resode.training import TrainConfig, train
    result = train(TrainConfig.from_dict({CONFIG!r}), sys.argv[1], progress=False)
    rank = os.environ["RANK"]
    torch.save(result.model.state_dict(), os.path.join(sys.argv[1], f"rank{{rank}}.pt"))
    """
)

exec(MODEL_SOURCE)  # register the same model here for the single-process reference


@pytest.mark.slow
def test_two_gloo_ranks_equal_single_process(tmp_path: Path) -> None:
    from resode.training import TrainConfig, train

    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "ddp"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(
        [*cmd, str(script), str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    w0 = torch.load(out / "rank0.pt", weights_only=True)
    w1 = torch.load(out / "rank1.pt", weights_only=True)
    single = train(TrainConfig.from_dict(CONFIG), tmp_path / "single", progress=False)
    ws = single.model.state_dict()
    for key in ws:
        assert torch.equal(w0[key], w1[key]), f"ranks differ in {key}"
        assert torch.allclose(w0[key], ws[key], rtol=1e-4, atol=1e-6), key

    # rank 0 wrote the logs: metrics summed over ranks equal the single-process metrics
    hist = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    for h_ddp, h_one in zip(hist, single.history):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert h_ddp[key] == pytest.approx(h_one[key], rel=1e-4), key


def test_env_rank_reads_torchrun_and_srun_and_is_zero_alone(monkeypatch) -> None:
    """``resode train`` prints its summary line only where env_rank() is 0: once per job."""
    from resode.training.distributed import env_rank

    # env_world_size() writes slurm_env()'s variables into os.environ: set-then-delete every one
    # so that monkeypatch restores the variables' absence afterwards
    for k in (
        "RANK",
        "WORLD_SIZE",
        "LOCAL_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
        "SLURM_PROCID",
        "SLURM_STEP_NUM_TASKS",
        "SLURM_STEP_NODELIST",
        "SLURM_JOB_NODELIST",
        "SLURM_JOB_ID",
        "SLURM_LOCALID",
    ):
        monkeypatch.setenv(k, "0")
        monkeypatch.delenv(k)
    assert env_rank() == 0
    monkeypatch.setenv("RANK", "1")
    assert env_rank() == 0  # a stray RANK without a world is not a job
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert env_rank() == 1
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "localhost")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert env_rank() == 1  # srun's rank, through slurm_env
