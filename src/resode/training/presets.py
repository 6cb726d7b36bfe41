"""Training recipes: the ``train`` presets of :mod:`resode.presets` (YAML files shipped with the
package, ``resode/presets/train/*.yaml``), read through the one preset loader.

``get_preset(name_or_path)`` accepts a preset name or a YAML file (a preset file, or a plain
mapping written by ``TrainConfig.to_yaml`` / :func:`save_preset`); keyword overrides are
validated like any config. ``resode presets`` lists every preset with what it is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resode import presets
from resode.config import Config, option
from resode.training.config import TrainConfig


def list_presets() -> list[str]:
    """Names of the training presets."""
    return presets.preset_names("train")


def get_preset(name_or_path: str | Path, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a named preset or a YAML file, with ``overrides`` applied."""
    config = presets.get_preset(name_or_path, kind="train", **overrides)
    assert isinstance(config, TrainConfig)
    return config


@dataclass
class TrainOverrides(Config):
    """A training preset and the keys a job changes in it (None: the preset's value); the job
    that trains (``resode reproduce``) adds what it owns (model, seed, data set, device)."""

    preset: str = option("digits", "training recipe: a train preset name or a YAML file")
    epochs: int | None = option(None, "epochs (None: the training preset's)", min=1)
    batch_size: int | None = option(None, "batch size (None: the training preset's)", min=1)
    train_subset: int | None = option(None, "use only the first N training images", min=1)

    def train_config(self, **fixed: Any) -> TrainConfig:
        """The preset with these overrides, then the job's ``fixed`` keys (None: not changed)."""
        over = {"epochs": self.epochs, "batch_size": self.batch_size}
        return get_preset(self.preset, **{**over, "train_subset": self.train_subset, **fixed})


def save_preset(name_or_path: str | Path, path: str | Path, **overrides: Any) -> Path:
    """Write a preset (with overrides) as a YAML file that :func:`get_preset` reads back."""
    get_preset(name_or_path, **overrides).to_yaml(path)
    return Path(path)
