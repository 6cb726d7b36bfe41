"""Pre-activation CIFAR ResNets (He et al. 2016) and their damped In-/λ-In- versions (paper A).

    x ∈ [0,1] → Normalize(mean, std) → conv3×3(in_channels → 16) → blocks → BN → ReLU
      → global average pool → FC(num_classes)

Three stages of widths 16/32/64 (×4 output for bottlenecks), strides 1/2/2, n blocks each:
depth 6n + 2 with basic blocks (ResNet-20/32/44/56/110: n = 3/5/7/9/18) or 9n + 2 with
bottlenecks (ResNet-164: n = 18). Convs ~ N(0, 2/(k²·C_out)), BN γ = 1, β = 0, FC PyTorch default.

Damping placement (paper A, official code): every block is damped **except** the very first
block and the downsampling blocks (those with a projection shortcut), e.g. 51 of the 54 blocks of
ResNet-110 and of ResNet-164.

The networks are size-agnostic (global average pooling), so ``image_size`` only records the
size the model is meant for (``model.image_size``); any H, W ≥ 1 runs.

Registry names: ``resnet{20,32,44,56,110,164}``, ``inresnet…`` (λ = relu(1 − k)),
``lambda_inresnet…`` (λ = relu(k)) and the generic ``preact_resnet(depth=…, damping=…)`` for
any damping of :data:`resode.nn.damping.DAMPING_KINDS` (``"fixed"`` with ``lam=``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from resode.errors import ResodeError
from resode.nn.base import ResidualClassifier
from resode.nn.blocks import PreActBasicBlock, PreActBottleneck, conv3x3, init_conv_weights
from resode.nn.damping import check_damping_args, make_damping
from resode.nn.normalize import Normalize
from resode.registry import register_model

CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2023, 0.1994, 0.2010)
GENERIC_MEAN = 0.5
"""Default per-channel mean when ``in_channels != 3`` (the middle of [0, 1])."""
GENERIC_STD = 0.25
"""Default per-channel std when ``in_channels != 3`` (close to the 0.29 of U(0, 1))."""

BASIC_DEPTHS = (20, 32, 44, 56, 110)
BOTTLENECK_DEPTHS = (164,)


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ResodeError(f"{name} must be a positive integer, got {value!r}")
    return value


def resolve_normalization(
    in_channels: int, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) for the model's :class:`Normalize`.

    Defaults: the CIFAR-10 statistics (paper A, A.3) for 3 channels, (0.5,)·C and (0.25,)·C
    otherwise (e.g. 1-channel digits). A single value is repeated over the channels.
    """
    if mean is None:
        mean = CIFAR10_MEAN if in_channels == 3 else (GENERIC_MEAN,) * in_channels
    if std is None:
        std = CIFAR10_STD if in_channels == 3 else (GENERIC_STD,) * in_channels
    out = []
    for name, val in (("mean", mean), ("std", std)):
        vals = (val,) if isinstance(val, (int, float)) else tuple(val)
        try:
            vals = tuple(float(v) for v in vals)
        except (TypeError, ValueError) as exc:
            raise ResodeError(f"{name} must be numbers, got {val!r}") from exc
        if len(vals) == 1 and in_channels > 1:
            vals = vals * in_channels
        if len(vals) != in_channels:
            raise ResodeError(
                f"{name} has {len(vals)} values but in_channels={in_channels}; give one per channel"
            )
        out.append(vals)
    if any(s <= 0 for s in out[1]):
        raise ResodeError(f"std must be positive, got {out[1]}")
    return out[0], out[1]


def classifier_head(channels: int, num_classes: int) -> nn.Sequential:
    """BN → ReLU → global average pool → FC."""
    return nn.Sequential(
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(channels, num_classes),
    )


def check_damping_kwargs(
    damping: str,
    per_channel: Any,
    lam: float | None = None,
    k_init: Sequence[float] | None = None,
    form: str | None = None,
) -> None:
    """Validate the damping keyword arguments of a model (before any block is built)."""
    check_damping_args(damping, lam=lam, k_init=k_init, form=form)
    if not isinstance(per_channel, bool):
        raise ResodeError(f"per_channel must be True or False, got {per_channel!r}")


class PreActResNet(ResidualClassifier):
    """Pre-activation CIFAR ResNet of ``depth`` with optional damping (see module docstring).

    ``damping``: ``"none"`` (ResNet), ``"in"``, ``"lambda_in"``, ``"sigmoid"``, ``"fixed"``
    (needs ``lam``); ``per_channel``: one λ per output channel instead of one per block;
    ``k_init``: (lo, hi) override of the k ~ U(lo, hi) init; ``form``: block form for
    ``"fixed"``/``"sigmoid"``.
    """

    def __init__(
        self,
        depth: int = 20,
        *,
        bottleneck: bool | None = None,
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
        depth = positive_int("depth", depth)
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        image_size = positive_int("image_size", image_size)
        check_damping_kwargs(damping, per_channel, lam, k_init, form)
        if bottleneck is None:
            bottleneck = depth >= 164
        per_stage = 9 if bottleneck else 6
        if depth < per_stage + 2 or (depth - 2) % per_stage:
            kind = "bottleneck" if bottleneck else "basic"
            raise ResodeError(
                f"depth {depth} is not {per_stage}n+2 as a {kind} pre-act ResNet needs; "
                f"e.g. {BASIC_DEPTHS} (basic) or {BOTTLENECK_DEPTHS} (bottleneck)"
            )
        n = (depth - 2) // per_stage
        mean_t, std_t = resolve_normalization(in_channels, mean, std)

        expansion = 4 if bottleneck else 1
        blocks: list[nn.Module] = []
        channels = 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                out_channels = width * expansion
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
                if bottleneck:
                    block: nn.Module = PreActBottleneck(channels, width, stride, damp)
                else:
                    block = PreActBasicBlock(channels, out_channels, stride, damp)
                blocks.append(block)
                channels = out_channels

        super().__init__(
            Normalize(mean_t, std_t),
            conv3x3(in_channels, 16),
            nn.ModuleList(blocks),
            classifier_head(channels, num_classes),
        )
        # Init convs/BN of stem, blocks and head; the damping k keep their U(lo, hi) draws.
        init_conv_weights(self)
        self.depth = depth
        self.bottleneck = bottleneck
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.damping_kind = damping


def _register_depth(prefix: str, damping: str, depth: int, label: str) -> None:
    kind = "bottleneck" if depth in BOTTLENECK_DEPTHS else "basic"

    def factory(**kwargs: Any) -> PreActResNet:
        return PreActResNet(depth, damping=damping, **kwargs)

    factory.__name__ = f"{prefix}{depth}"
    register_model(
        f"{prefix}{depth}",
        family="preact_resnet",
        description=f"{label}-{depth}: pre-activation CIFAR ResNet ({kind} blocks)",
    )(factory)


for _depth in BASIC_DEPTHS + BOTTLENECK_DEPTHS:
    _register_depth("resnet", "none", _depth, "ResNet")
    _register_depth("inresnet", "in", _depth, "In-ResNet (λ = relu(1 − k))")
    _register_depth("lambda_inresnet", "lambda_in", _depth, "λ-In-ResNet (λ = relu(k))")


@register_model(
    "preact_resnet",
    family="preact_resnet",
    description="generic pre-act ResNet: depth=, damping=none|in|lambda_in|sigmoid|fixed, lam=",
)
def preact_resnet(depth: int = 20, damping: str = "none", **kwargs: Any) -> PreActResNet:
    """Pre-act CIFAR ResNet of any depth 6n+2 (or 9n+2 with bottleneck=True) and any damping."""
    return PreActResNet(depth, damping=damping, **kwargs)
