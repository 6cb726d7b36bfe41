"""Training: :func:`train` with a typed :class:`TrainConfig`, named presets, DDP.

==================  ==========================================================================
module              job
==================  ==========================================================================
``config``          :class:`TrainConfig`, the lr schedule and per-epoch generators, AMP and
                    channels-last choices
``engine``          :func:`train` (the loop, exact resume, NaN policies), :func:`evaluate`
``history``         ``history.json``/``history.csv`` and the λ values logged every epoch
``presets``         the ``train`` presets (``resode/presets/train/*.yaml``)
``distributed``     DDP under ``torchrun``
==================  ==========================================================================

    from resode.training import get_preset, train
    result = train(get_preset("digits", model="resnet20"), "runs/digits-resnet20")
    result.history[-1]["test_acc"]
"""

from resode.runtime import select_device
from resode.training.config import TrainConfig, lr_at
from resode.training.engine import TrainResult, evaluate, train
from resode.training.presets import TrainOverrides, get_preset, list_presets, save_preset

__all__ = [
    "TrainConfig",
    "TrainOverrides",
    "TrainResult",
    "evaluate",
    "get_preset",
    "list_presets",
    "lr_at",
    "save_preset",
    "select_device",
    "train",
]
