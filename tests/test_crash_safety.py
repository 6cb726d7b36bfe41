"""Crash safety: SIGKILL a CPU training run at random moments, resume, lose nothing.

A subprocess trains a tiny CNN (deterministic on CPU, one thread). It is killed with SIGKILL three
times, each time at a random moment after it has made progress, and restarted with ``resume``
(the last resume runs in the test process).
After every kill the checkpoint must load (never half-written) and hold every epoch that had been
reported complete; at the end the history is complete and the weights equal, bit for bit, those
of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
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

SCRIPT = MODEL_SOURCE + textwrap.dedent(
    """
    import sys
    from resode.training import TrainConfig, train
    config = TrainConfig.from_dict(CONFIG)
    train(config, sys.argv[1], resume=True, progress=False)
    """
).replace("CONFIG", repr(CONFIG))

exec(MODEL_SOURCE)  # the same model, registered in this process for the reference run


def _epochs_done(out: Path) -> int:
    try:
        return len(json.loads((out / "history.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _start(script: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_and_resume_loses_nothing(tmp_path: Path) -> None:
    from resode.training import TrainConfig, train

    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"

    reported = 0
    for kill in range(3):
        proc = _start(script, out)
        deadline = time.monotonic() + 120
        # wait for progress beyond what survived the previous kill, then kill at a random moment
        while _epochs_done(out) <= reported and proc.poll() is None:
            assert time.monotonic() < deadline, "training made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.25))
        reported = _epochs_done(out)  # epochs reported complete before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr.read().decode()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        payload = read_checkpoint(out / "last.pt")  # never half-written
        msg = f"kill {kill} (random seed {seed})"
        assert payload["epoch"] >= reported, msg
        assert [h["epoch"] for h in payload["history"]] == list(range(1, payload["epoch"] + 1))
        reported = payload["epoch"]
        assert reported < CONFIG["epochs"], f"run finished before kill {kill}; make it longer"

    # the last resume runs in this process (saves a start-up) and must finish the run
    train(TrainConfig.from_dict(CONFIG), out, resume=True, progress=False)
    final = read_checkpoint(out / "last.pt")
    assert [h["epoch"] for h in final["history"]] == list(range(1, CONFIG["epochs"] + 1))
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]

    reference = train(TrainConfig.from_dict(CONFIG), tmp_path / "reference", progress=False)
    state = reference.model.state_dict()
    assert final["state_dict"].keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(final["state_dict"][key], value), f"{key} differs (seed {seed})"
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in reference.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in final["history"]] == strip
