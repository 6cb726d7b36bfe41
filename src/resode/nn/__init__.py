"""Neural-network building blocks: normalisation, damped residual blocks, model families."""

from resode.nn.base import ResidualClassifier
from resode.nn.normalize import Normalize

__all__ = ["Normalize", "ResidualClassifier"]
