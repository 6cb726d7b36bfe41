"""Training recipes: the ``train`` presets of :mod:`resode.presets` (YAML files shipped with the
package, ``resode/presets/train/*.yaml``), read through the one preset loader.

``get_preset(name_or_path)`` accepts a preset name or a YAML file (a preset file, or a plain
mapping written by ``TrainConfig.to_yaml`` / :func:`save_preset`); keyword overrides are
validated like any config. ``resode presets`` lists every preset with what it is for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resode import presets
from resode.training.config import TrainConfig


def list_presets() -> list[str]:
    """Names of the training presets."""
    return presets.preset_names("train")


def get_preset(name_or_path: str | Path, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a named preset or a YAML file, with ``overrides`` applied."""
    config = presets.get_preset(name_or_path, kind="train", **overrides)
    assert isinstance(config, TrainConfig)
    return config


def save_preset(name_or_path: str | Path, path: str | Path, **overrides: Any) -> Path:
    """Write a preset (with overrides) as a YAML file that :func:`get_preset` reads back."""
    get_preset(name_or_path, **overrides).to_yaml(path)
    return Path(path)
