"""resode: residual networks as discretised ODEs.

Public API, re-exported from the modules that define it:

* models: :func:`create_model`, :func:`list_models`, :func:`register_model`
* checkpoints: :func:`save_checkpoint`, :func:`load_checkpoint`, :class:`Checkpoint`
* training: :class:`TrainConfig`, :func:`train`, :func:`evaluate`
* presets: :func:`get_preset` (every named preset of every kind, :mod:`resode.presets`)
* errors: :class:`ResodeError`

and the feature packages, imported on first use: :mod:`resode.data`, :mod:`resode.nn`,
:mod:`resode.attacks`, :mod:`resode.corruptions`, :mod:`resode.robustness`,
:mod:`resode.analysis`, :mod:`resode.ode`, :mod:`resode.reproduce`, and the infrastructure:
:mod:`resode.presets`, :mod:`resode.runtime`, :mod:`resode.evalset`, :mod:`resode.grid`,
:mod:`resode.verdicts`, :mod:`resode.report`.
"""

from __future__ import annotations

# First of all: pin the CPU kernels before torch, numpy or numba compute (resode.kernels).
from resode import kernels as _kernels

_kernels.apply_policy(strict=False)

import importlib  # noqa: E402
from typing import Any  # noqa: E402

from resode._version import __version__  # noqa: E402
from resode.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from resode.errors import ResodeError  # noqa: E402
from resode.registry import create_model, list_models, register_model  # noqa: E402

_LAZY = {
    "TrainConfig": "resode.training",
    "train": "resode.training",
    "evaluate": "resode.training",
    "get_preset": "resode.presets",
    "benchmark": "resode.robustness.benchmark",
}
_SUBPACKAGES = (
    "analysis",
    "attacks",
    "corruptions",
    "data",
    "evalset",
    "grid",
    "kernels",
    "nn",
    "ode",
    "presets",
    "reproduce",
    "robustness",
    "runtime",
    "training",
    "verdicts",
)

__all__ = [
    "Checkpoint",
    "ResodeError",
    "TrainConfig",
    "__version__",
    "benchmark",
    "create_model",
    "evaluate",
    "get_preset",
    "list_models",
    "load_checkpoint",
    "register_model",
    "save_checkpoint",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"resode.{name}")
    raise AttributeError(f"module 'resode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
