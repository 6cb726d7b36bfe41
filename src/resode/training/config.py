"""The typed configuration of a training run, and the pure functions of it the loop uses.

``lr(epoch)`` (:func:`lr_at`) is a pure function of the epoch: multistep
``lr·γ^{#milestones ≤ epoch}``, cosine ``lr·(1 + cos(π·epoch/epochs))/2`` or constant; the
shuffling and augmentation of epoch e use a generator seeded with (seed, e)
(:func:`epoch_generator`), so an epoch's batches do not depend on what ran before it and a resumed
run is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from resode.config import Config, option
from resode.errors import ConfigError


@dataclass
class SpeedConfig(Config):
    """How a run is executed, never what it computes by default: the defaults give bit-identical
    results on the CPU to the plain loop; what changes numerics or error timing is opt-in."""

    data_on_device: bool | None = option(
        None,
        "keep the training set and its augmentation on the device, the epoch's random draws "
        "uploaded once (same batches and augmentations as the per-batch loader; default: on "
        "for CUDA)",
    )
    sgd: Literal["auto", "for-loop", "foreach", "fused"] = option(
        "auto",
        "SGD implementation (auto: fused on CUDA, foreach elsewhere; foreach gives the "
        "for-loop's updates bit for bit, fused rounds differently in the last bits)",
    )
    compile_mode: Literal["default", "reduce-overhead", "max-autotune-no-cudagraphs"] = option(
        "default",
        "torch.compile mode when compile is on; reduce-overhead captures CUDA graphs (CUDA "
        "only: elsewhere it falls back to default with a note)",
    )
    cuda_graphs: bool = option(
        False,
        "capture the training forward and backward as CUDA graphs and replay them for every "
        "full-size batch (CUDA only, not with compile or DDP: elsewhere off with a note)",
    )
    finite_check: Literal["step", "epoch"] = option(
        "step",
        "check loss and gradients for NaN/inf every step (one host sync per step) or once per "
        "epoch (no per-step sync; nan_policy stop only: the error names the first bad step and "
        "the epoch is not saved)",
    )


@dataclass
class TrainConfig(Config):
    """Everything that defines a training run (CLI options, YAML files and presets share it)."""

    model: str = option("inresnet20", "registered model name (see `resode models`)")
    model_kwargs: dict[str, Any] = option(
        {},
        "extra keyword arguments for create_model (num_classes, in_channels, image_size, "
        "mean and std come from the data set unless given here)",
        cli=False,
    )
    dataset: str = option("digits", "data set name (see `resode data`)")
    data_root: str | None = option(None, "folder holding downloaded data sets")
    download: bool = option(False, "download the data set if it is missing")
    image_size: int | None = option(None, "resize images to this size", min=4)
    train_subset: int | None = option(None, "use only the first N training images", min=1)
    test_subset: int | None = option(None, "use only the first N test images", min=1)
    epochs: int = option(160, "number of epochs", min=1)
    batch_size: int = option(128, "global mini-batch size", min=1)
    eval_batch_size: int = option(500, "batch size for evaluation", min=1)
    lr: float = option(0.1, "initial learning rate", min=0.0, min_exclusive=True)
    momentum: float = option(0.9, "SGD momentum", min=0.0, max=1.0, max_exclusive=True)
    nesterov: bool = option(False, "Nesterov momentum")
    weight_decay: float = option(1e-4, "L2 weight decay (all parameters, λ included)", min=0.0)
    schedule: Literal["multistep", "cosine", "constant"] = option(
        "multistep", "learning-rate schedule (per epoch)"
    )
    milestones: list[int] = option([80, 120], "multistep: epochs where lr is multiplied by gamma")
    gamma: float = option(0.1, "multistep: lr factor at each milestone", min=0.0, max=1.0)
    augment: bool = option(True, "random crop (after padding) and horizontal flip")
    crop_padding: int = option(2, "augmentation: padding before the random crop", min=0)
    padding_mode: Literal["reflect", "zero"] = option("reflect", "augmentation: padding mode")
    flip: bool = option(True, "augmentation: random horizontal flip")
    grad_clip: float | None = option(None, "clip the global gradient norm to this value", min=0.0)
    seed: int = option(0, "random seed (initialisation, shuffling, augmentation)", min=0)
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    channels_last: bool | None = option(
        None, "channels-last memory format (default: on for CUDA and CPU, where it measured faster)"
    )
    amp: Literal["auto", "off", "bf16", "fp16"] = option(
        "auto", "mixed precision autocast on CUDA (auto: bf16 where supported, else off)"
    )
    compile: bool = option(False, "torch.compile the model (CUDA; slow start-up)")
    threads: int | None = option(
        None,
        "CPU threads (default: torch's default for this machine, one per physical core; fixed, "
        "never chosen from the machine's load, so reruns give the same numbers)",
        min=1,
    )
    deterministic: bool = option(False, "deterministic algorithms (cuDNN) for exact reruns")
    sync_batchnorm: bool = option(True, "DDP on CUDA: convert BatchNorm to SyncBatchNorm")
    eval_every: int = option(1, "evaluate on the test split every N epochs (and the last)", min=1)
    nan_policy: Literal["stop", "skip"] = option(
        "stop", "on a non-finite loss or gradient: stop with an error, or skip the step"
    )
    max_nan_skips: int = option(100, "nan_policy=skip: stop after this many skipped steps", min=0)
    speed: SpeedConfig = option(SpeedConfig(), "execution speed options (see SpeedConfig)")

    def check(self) -> None:
        if any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
            raise ConfigError(f"milestones = {self.milestones} must be strictly increasing")
        if any(m < 1 for m in self.milestones):
            raise ConfigError(f"milestones = {self.milestones} must be epochs >= 1")
        if self.speed.finite_check == "epoch" and self.nan_policy != "stop":
            raise ConfigError(
                "speed.finite_check = 'epoch' cannot skip single steps; use nan_policy 'stop' "
                "or speed.finite_check 'step'"
            )


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate used during 0-based ``epoch`` (a pure function, so resume is exact)."""
    if config.schedule == "multistep":
        passed = sum(1 for m in config.milestones if epoch >= m)
        return config.lr * config.gamma**passed
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    return config.lr


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator for shuffling and augmentation in ``epoch``: seeded by (seed, epoch)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: only on CUDA (on CPU bf16 autocast is slower for these small convs)."""
    if device.type != "cuda" or config.amp == "off":
        return None
    if config.amp == "fp16":
        return torch.float16
    if config.amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def use_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """Explicit setting, else on for CUDA and CPU (1.1-1.3x faster ResNet-20 train steps measured
    on CPU with oneDNN, benchmarks/bench_training.py), off on MPS."""
    if config.channels_last is not None:
        return config.channels_last
    return device.type in ("cuda", "cpu")


def use_data_on_device(config: TrainConfig, device: torch.device) -> bool:
    """Explicit ``speed.data_on_device``, else on for CUDA (the data set is resident there)."""
    if config.speed.data_on_device is not None:
        return config.speed.data_on_device
    return device.type == "cuda"


def sgd_flags(config: TrainConfig, device: torch.device) -> dict[str, bool]:
    """``torch.optim.SGD`` keyword for ``speed.sgd``: ``{"fused": True}``, ``{"foreach": True}``
    or ``{}``. Fused SGD needs floating-point parameters on CUDA or CPU (torch >= 2.4)."""
    impl = config.speed.sgd
    if impl == "auto":
        impl = "fused" if device.type == "cuda" else "foreach"
    if impl == "for-loop":
        return {"foreach": False}
    return {impl: True}


def compile_plan(
    config: TrainConfig, device: torch.device, *, available: bool | None = None
) -> tuple[str | None, str | None]:
    """``(mode or None, note or None)`` for ``config.compile``: None mode means eager.

    ``reduce-overhead`` (CUDA graphs) off CUDA falls back to ``default``; a torch without a
    working ``torch.compile`` (``available=False``; checked when None) falls back to eager.
    The note is one line saying what happened."""
    if not config.compile:
        return None, None
    if available is None:
        available = compile_available()
    if not available:
        return None, "note: torch.compile is not available in this torch; training eagerly"
    mode = config.speed.compile_mode
    if mode == "reduce-overhead" and device.type != "cuda":
        return "default", (
            f"note: compile_mode reduce-overhead needs CUDA graphs; on {device.type} "
            "torch.compile uses mode default"
        )
    return mode, None


def compile_available() -> bool:
    """True when ``torch.compile`` exists and dynamo supports this Python."""
    if not hasattr(torch, "compile"):
        return False
    try:
        import torch._dynamo as dynamo

        return bool(dynamo.is_dynamo_supported())
    except Exception:  # any import failure means: not usable
        return False


__all__ = [
    "SpeedConfig",
    "TrainConfig",
    "amp_dtype",
    "compile_available",
    "compile_plan",
    "epoch_generator",
    "lr_at",
    "sgd_flags",
    "use_channels_last",
    "use_data_on_device",
]
