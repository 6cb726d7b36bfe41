"""Named shortenings of the experiments (``resode ode EXPERIMENT --preset short``): CPU-minutes
versions of each experiment, merged under the user's options."""

from __future__ import annotations

from typing import Any

SHORT_PRESETS: dict[str, dict[str, Any]] = {
    "depth-sweep": {
        "iterations": 50,
        "depths": [2, 8, 32, 128],
        "reference_depth": 512,
        "seeds": 2,
        "snapshots": 6,
    },
    "long-time": {"iterations": 2000, "snapshots": 8},
    "weights": {"iterations": 100, "depth": 32, "seeds": 3},
    "relu-counterexample": {"depths": [4, 16, 64], "iterations": 1000},
    "cifar": {
        "dataset": "digits",
        "depth": 16,
        "epochs": 6,
        "train_subset": 1024,
        "test_subset": 360,
        "image_size": 8,
        "augment": False,  # the CIFAR crop (padding 4) would destroy 8×8 digits
    },
}
