"""Crash safety: SIGKILL a CPU training run at the dangerous moments, resume, lose nothing.

A subprocess trains a tiny CNN (deterministic on CPU, one thread). It kills itself with SIGKILL
four times at chosen points of the loop (mid-step, between writing a checkpoint's temporary file
and renaming it, just after an epoch is on disk) and is restarted with ``resume`` (the last
resume runs in the test process). The kill points are counted calls, not moments in time, so the
test is the same on a fast machine and a busy one.
After every kill the checkpoint must load (never half-written) and hold every epoch that had been
reported complete; at the end the history is complete and the weights equal, bit for bit, those
of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from resode.checkpoint import read_checkpoint

MODEL_SOURCE = textwrap.dedent(
    '''
    import torch
    from torch import nn
    import resode

    @resode.register_model("_crash_tiny", family="test")
    def _crash_tiny(num_classes=10, in_channels=1, image_size=8, mean=(0.5,), std=(0.5,)):
        """conv-BN-ReLU-pool-linear: BatchNorm buffers are part of the state to restore."""
        return nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, num_classes),
        )
    '''
)

CONFIG = {
    "model": "_crash_tiny",
    "dataset": "digits",
    "image_size": 8,
    "train_subset": 400,
    "test_subset": 60,
    "epochs": 10,
    "batch_size": 16,
    "lr": 0.05,
    "schedule": "cosine",
    "milestones": [],
    "crop_padding": 1,
    "device": "cpu",
    "threads": 1,
    "seed": 3,
}

# Each run is killed by itself at one chosen point of the training loop (independent of the
# machine's speed): KILL_AT = (what, n) sends SIGKILL at the n-th call of ``what`` in this process.
#   step:    inside the n-th optimizer step (mid-epoch: the epoch's work is lost, nothing else)
#   replace: the n-th checkpoint write, after the temporary file is complete, before the rename
#   history: right after the n-th epoch's checkpoint and history are written
SCRIPT = MODEL_SOURCE + textwrap.dedent(
    """
    import os, signal, sys
    from resode import checkpoint
    from resode.training import TrainConfig, engine, train

    what, n = sys.argv[2], int(sys.argv[3])
    calls = {"count": 0}

    def killing(original, counts):
        def wrapper(*args, **kwargs):
            hit = counts(*args)
            calls["count"] += hit
            if hit and calls["count"] == n and what != "history":
                os.kill(os.getpid(), signal.SIGKILL)
            out = original(*args, **kwargs)
            if hit and calls["count"] == n:  # history: after the call
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        return wrapper

    if what == "step":
        engine._step = killing(engine._step, lambda *a: True)
    elif what == "replace":
        real = os.replace
        os.replace = killing(real, lambda src, dst: str(dst).endswith("last.pt"))
    elif what == "history":
        engine.write_history = killing(engine.write_history, lambda *a: True)
    config = TrainConfig.from_dict(CONFIG)
    train(config, sys.argv[1], resume=True, progress=False)
    """
).replace("CONFIG", repr(CONFIG))

exec(MODEL_SOURCE)  # the same model, registered in this process for the reference run

STEPS_PER_EPOCH = CONFIG["train_subset"] // CONFIG["batch_size"]  # 25
# (kill point, epochs in last.pt after the kill): each run resumes from the previous checkpoint
KILLS = [
    (("step", STEPS_PER_EPOCH + 5), 1),  # mid epoch 2 of a fresh run: epoch 1 survives
    (("replace", 2), 2),  # resumed at 1, epoch 2 saved, killed writing epoch 3
    (("history", 2), 4),  # resumed at 2, killed just after epoch 4 is on disk
    (("step", 3 * STEPS_PER_EPOCH + 1), 7),  # resumed at 4, killed in the first step of epoch 8
]


def _epochs_done(out: Path) -> int:
    return len(json.loads((out / "history.json").read_text()))


def _run_until_killed(script: Path, out: Path, what: str, n: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(script), str(out), what, str(n)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_sigkill_and_resume_loses_nothing(tmp_path: Path) -> None:
    from resode.training import TrainConfig, train

    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"

    for (what, n), expected in KILLS:
        proc = _run_until_killed(script, out, what, n)
        msg = f"kill at {what} #{n}"
        assert proc.returncode == -signal.SIGKILL, f"{msg}: {proc.stderr.decode()[-2000:]}"
        payload = read_checkpoint(out / "last.pt")  # never half-written
        assert payload["epoch"] == expected, msg
        assert [h["epoch"] for h in payload["history"]] == list(range(1, expected + 1)), msg
        assert _epochs_done(out) == expected, msg  # history.json agrees with the checkpoint

    # the last resume runs in this process (saves a start-up) and must finish the run
    train(TrainConfig.from_dict(CONFIG), out, resume=True, progress=False)
    final = read_checkpoint(out / "last.pt")
    assert [h["epoch"] for h in final["history"]] == list(range(1, CONFIG["epochs"] + 1))
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]

    reference = train(TrainConfig.from_dict(CONFIG), tmp_path / "reference", progress=False)
    state = reference.model.state_dict()
    assert final["state_dict"].keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(final["state_dict"][key], value), f"{key} differs"
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in reference.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in final["history"]] == strip
