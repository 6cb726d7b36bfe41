"""Pre-activation residual blocks with optional damping (paper A, eq. x_{n+1} = (1 − λ)x + f(x)).

Every block is a :class:`DampedBlock` ``g(x)`` built from a residual branch ``f`` (``.branch``),
a shortcut ``s`` (``.shortcut``: the identity, or the projection BN → ReLU → 1×1 conv with the
block's stride) and an optional coefficient (``.damping``, :mod:`resode.nn.damping`):

    undamped (ResNet):   g(x) = f(x) + s(x)
    In form:             g(x) = f(x) + (1 − λ)·s(x)
    λ-In form:           g(x) = (1 + λ)·f(x) + (1 − λ)·s(x)

λ = 0 gives the ResNet block bit for bit (1 − 0 = 1 and 1 + 0 = 1 are exact in floating point);
λ = 1 gives the plain layer g(x) = f(x) (In) or g(x) = 2·f(x) (λ-In). A per-channel λ of shape
(C,) is broadcast as (1, C, 1, 1) over the block output.

Branches (He et al. 2016, "Identity Mappings", all convs without bias):

* basic:       BN → ReLU → conv3×3(stride) → BN → ReLU → conv3×3
* bottleneck:  BN → ReLU → conv1×1 → BN → ReLU → conv3×3(stride) → BN → ReLU → conv1×1 (×4)
* ResNeXt:     the bottleneck with a grouped conv3×3 (``groups`` = cardinality), inner width D
"""

from __future__ import annotations

import torch
from torch import nn

from resode.errors import ResodeError
from resode.nn.damping import Damping


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3×3 convolution, padding 1, no bias."""
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=1, groups=groups, bias=False
    )


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class ProjectionShortcut(nn.Sequential):
    """s(x) = conv1×1_stride(ReLU(BN(x))): the shortcut of a block that changes shape."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=False),
            conv1x1(in_channels, out_channels, stride),
        )


class BasicBranch(nn.Sequential):
    """f(x) = conv3×3(ReLU(BN(conv3×3_stride(ReLU(BN(x))))))."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=False),
            conv3x3(in_channels, out_channels, stride),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            conv3x3(out_channels, out_channels),
        )


class BottleneckBranch(nn.Sequential):
    """f(x) = conv1×1(σ(conv3×3_stride,groups(σ(conv1×1(σ(x)))))), σ = ReLU∘BN.

    ``width`` is the inner width (planes for ResNet, D = cardinality·d for ResNeXt).
    """

    def __init__(
        self, in_channels: int, width: int, out_channels: int, stride: int = 1, groups: int = 1
    ) -> None:
        if width % groups:
            raise ResodeError(f"bottleneck width {width} is not divisible by groups={groups}")
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=False),
            conv1x1(in_channels, width),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            conv3x3(width, width, stride, groups=groups),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            conv1x1(width, out_channels),
        )


class DampedBlock(nn.Module):
    """g(x) = f(x) + s(x) (no damping), f(x) + (1 − λ)s(x) (In), (1 + λ)f(x) + (1 − λ)s(x) (λ-In).

    ``branch`` is f, ``shortcut`` is s (``nn.Identity`` or :class:`ProjectionShortcut`),
    ``damping`` a :class:`~resode.nn.damping.Damping` or ``None``; its ``form`` picks the form.
    """

    def __init__(
        self,
        branch: nn.Module,
        shortcut: nn.Module,
        damping: Damping | None = None,
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        if (
            damping is not None
            and damping.channels is not None
            and out_channels is not None
            and damping.channels != out_channels
        ):
            raise ResodeError(
                f"per-channel damping has {damping.channels} channels but the block outputs "
                f"{out_channels}"
            )
        self.damping = damping

    @property
    def form(self) -> str | None:
        """``"in"``, ``"lambda_in"`` or ``None`` (undamped)."""
        return None if self.damping is None else self.damping.form

    def interpolation_coefficient(self) -> torch.Tensor | None:
        """λ of this block (0-d or (C,)), with its graph; ``None`` for an undamped block."""
        return None if self.damping is None else self.damping.value()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.branch(x)
        s = self.shortcut(x)
        if self.damping is None:
            return f + s
        lam = self.damping.value()
        if lam.dim() == 1:
            lam = lam.view(1, -1, 1, 1)
        if self.damping.form == "in":
            return f + (1 - lam) * s
        return (1 + lam) * f + (1 - lam) * s

    def extra_repr(self) -> str:
        return f"form={self.form}"


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ProjectionShortcut(in_channels, out_channels, stride)


class PreActBasicBlock(DampedBlock):
    """Pre-activation basic block (two 3×3 convs), optional damping; see :class:`DampedBlock`."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        damping: Damping | None = None,
    ) -> None:
        super().__init__(
            BasicBranch(in_channels, out_channels, stride),
            _shortcut(in_channels, out_channels, stride),
            damping,
            out_channels,
        )


class PreActBottleneck(DampedBlock):
    """Pre-activation bottleneck (1×1, 3×3, 1×1; output ``4·planes``) with optional damping."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        damping: Damping | None = None,
    ) -> None:
        out_channels = planes * self.expansion
        super().__init__(
            BottleneckBranch(in_channels, planes, out_channels, stride),
            _shortcut(in_channels, out_channels, stride),
            damping,
            out_channels,
        )


class PreActResNeXtBlock(DampedBlock):
    """Pre-activation ResNeXt bottleneck: grouped 3×3 conv, width D, ``cardinality`` groups."""

    def __init__(
        self,
        in_channels: int,
        width: int,
        out_channels: int,
        cardinality: int,
        stride: int = 1,
        damping: Damping | None = None,
    ) -> None:
        super().__init__(
            BottleneckBranch(in_channels, width, out_channels, stride, groups=cardinality),
            _shortcut(in_channels, out_channels, stride),
            damping,
            out_channels,
        )


def init_conv_weights(module: nn.Module) -> None:
    """He init of every conv: w ~ N(0, 2/(k²·C_out)) (fan-out); BN γ = 1, β = 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
