"""Training engine: :func:`train` with a typed :class:`TrainConfig`, named presets, DDP.

from resode.training import get_preset, train
result = train(get_preset("digits", model="resnet20"), "runs/digits-resnet20")
result.history[-1]["test_acc"]
"""

from resode.training.engine import (
    TrainConfig,
    TrainResult,
    evaluate,
    lr_at,
    select_device,
    train,
)
from resode.training.presets import get_preset, list_presets, save_preset

__all__ = [
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "get_preset",
    "list_presets",
    "lr_at",
    "save_preset",
    "select_device",
    "train",
]
