"""Neural-network building blocks: normalisation, damped residual blocks, model families."""

from resode.nn.base import ResidualClassifier
from resode.nn.blocks import DampedBlock, PreActBasicBlock, PreActBottleneck, PreActResNeXtBlock
from resode.nn.damping import (
    Damping,
    FixedDamping,
    InDamping,
    LambdaInDamping,
    SigmoidDamping,
    make_damping,
)
from resode.nn.normalize import Normalize
from resode.nn.preact_resnet import PreActResNet
from resode.nn.resnext import PreActResNeXt

__all__ = [
    "DampedBlock",
    "Damping",
    "FixedDamping",
    "InDamping",
    "LambdaInDamping",
    "Normalize",
    "PreActBasicBlock",
    "PreActBottleneck",
    "PreActResNeXt",
    "PreActResNeXtBlock",
    "PreActResNet",
    "ResidualClassifier",
    "SigmoidDamping",
    "make_damping",
]
