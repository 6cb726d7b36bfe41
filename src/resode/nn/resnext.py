"""ResNeXt-29 for CIFAR (Xie et al. 2017) and its damped In-/λ-In- versions (paper A abstract).

    x ∈ [0,1] → Normalize → conv3×3(in_channels → 64) → 3 stages × 3 ResNeXt blocks
      → BN → ReLU → global average pool → FC(num_classes)

Stage s = 0, 1, 2: output width 256·2^s, stride 1/2/2, inner width D = C·d·2^s (C the
cardinality, d the per-group width "64d"), the 3×3 conv grouped into C groups; depth 9·3 + 2 = 29.
ResNeXt-29 8×64d has ≈ 34.4 M parameters, 16×64d ≈ 68.15 M (for 10 classes).

Design decision — **pre-activation** blocks (BN → ReLU → conv, identity shortcut path, no ReLU
after the addition), like the pre-act ResNets of :mod:`resode.nn.preact_resnet`. Xie et al.
use post-activation blocks; the two differ only in where the BN layers sit (pre-act: BN over the
block input instead of after the last conv, plus the head BN), so the parameter counts agree to
0.01 % (8×64d: 34,424,778 pre-act vs 34,426,698 post-act; 16×64d: 68,153,290 vs 68,155,210, 10
classes) and both match the references 34.4 M / 68.1 M. Pre-activation makes every block exactly
the damped Euler step x_{n+1} = (1 − λ)·s(x) + f(x) (a post-act block applies a ReLU after the
sum), so the λ = 0 / λ = 1 identities and the stability analysis hold as for the ResNets.

Damping placement as for the ResNets: not the first block (it projects 64 → 256) and not the two
downsampling blocks, so 6 of the 9 blocks are damped. Default k inits: the paper's non-164 ranges
(λ₀ ∈ [0.20, 0.25]).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from resode.errors import ResodeError
from resode.nn.base import ResidualClassifier
from resode.nn.blocks import PreActResNeXtBlock, conv3x3, init_conv_weights
from resode.nn.damping import make_damping
from resode.nn.normalize import Normalize
from resode.nn.preact_resnet import (
    check_damping_kwargs,
    classifier_head,
    positive_int,
    resolve_normalization,
)
from resode.registry import register_model


class PreActResNeXt(ResidualClassifier):
    """Pre-activation CIFAR ResNeXt-(9n+2) with ``cardinality`` groups of width ``base_width``.

    Damping keywords as for :class:`resode.nn.preact_resnet.PreActResNet`.
    """

    def __init__(
        self,
        cardinality: int = 8,
        base_width: int = 64,
        depth: int = 29,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        damping: str = "none",
        lam: float | None = None,
        k_init: Sequence[float] | None = None,
        per_channel: bool = False,
        form: str | None = None,
    ) -> None:
        cardinality = positive_int("cardinality", cardinality)
        base_width = positive_int("base_width", base_width)
        depth = positive_int("depth", depth)
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        image_size = positive_int("image_size", image_size)
        check_damping_kwargs(damping, per_channel, lam, k_init, form)
        if depth < 11 or (depth - 2) % 9:
            raise ResodeError(f"ResNeXt depth must be 9n+2 (e.g. 29), got {depth}")
        n = (depth - 2) // 9
        mean_t, std_t = resolve_normalization(in_channels, mean, std)

        blocks: list[nn.Module] = []
        channels = 64
        for stage in range(3):
            out_channels = 256 * 2**stage
            width = cardinality * base_width * 2**stage
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                first = stage == 0 and i == 0
                reshapes = stride != 1 or channels != out_channels
                damp = None
                if not first and not reshapes:
                    damp = make_damping(
                        damping,
                        channels=out_channels if per_channel else None,
                        lam=lam,
                        k_init=k_init,
                        depth=depth,
                        form=form,
                    )
                blocks.append(
                    PreActResNeXtBlock(channels, width, out_channels, cardinality, stride, damp)
                )
                channels = out_channels

        super().__init__(
            Normalize(mean_t, std_t),
            conv3x3(in_channels, 64),
            nn.ModuleList(blocks),
            classifier_head(channels, num_classes),
        )
        init_conv_weights(self)
        self.depth = depth
        self.cardinality = cardinality
        self.base_width = base_width
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.damping_kind = damping


def _register(prefix: str, damping: str, cardinality: int, label: str) -> None:
    name = f"{prefix}29_{cardinality}x64d"

    def factory(**kwargs: Any) -> PreActResNeXt:
        return PreActResNeXt(cardinality, 64, 29, damping=damping, **kwargs)

    factory.__name__ = name
    register_model(
        name,
        family="resnext",
        description=f"{label}-29 {cardinality}x64d: pre-activation CIFAR ResNeXt",
    )(factory)


for _card in (8, 16):
    _register("resnext", "none", _card, "ResNeXt")
    _register("inresnext", "in", _card, "In-ResNeXt (λ = relu(1 − k))")
    _register("lambda_inresnext", "lambda_in", _card, "λ-In-ResNeXt (λ = relu(k))")


@register_model(
    "resnext",
    family="resnext",
    description="generic pre-act CIFAR ResNeXt: cardinality=, base_width=, depth=, damping=",
)
def resnext(
    cardinality: int = 8,
    base_width: int = 64,
    depth: int = 29,
    damping: str = "none",
    **kwargs: Any,
) -> PreActResNeXt:
    """Pre-act CIFAR ResNeXt of any cardinality/width/depth 9n+2 and any damping."""
    return PreActResNeXt(cardinality, base_width, depth, damping=damping, **kwargs)
