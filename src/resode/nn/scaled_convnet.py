"""The CIFAR network of paper B, Table 1 (Marion et al. 2024; stem as in the official code).

    stem: conv 5×5 (stride 3, pad 1) → BN → ReLU, 16 channels; map side s = ⌊(n + 2 − 5)/3⌋ + 1
    L blocks: h ↦ h + (1/L) · bn2(conv2(σ(bn1(conv1(h))))),  3×3 convs, 16 channels, stride 1
    head: avg_pool2d(h, k), k = min(4, s) → flatten (width·p·p, p = ⌊s/k⌋) → linear

On 32×32 CIFAR input s = 10, so the head is the official ``avg_pool2d(out, 4)`` → 2×2×16 = 64
features → ``Linear(64, 10)`` (the last 2 rows and columns of the 10×10 map fall outside the
4×4 windows, as in the official code). Maps smaller than 4 (e.g. s = 2 for 8×8 digits) are pooled
globally (k = s, p = 1), since a 4×4 window would not fit.

Residual stream in float32. With bf16 autocast (relative step 2⁻⁸) an update h + h/L at L = 256
rounds back to h, so every block computes its branch under whatever autocast is active but
accumulates h ← h + (1/L)·branch in ``promote_types(h.dtype, float32)``: the stem output and the
branch are cast up before the addition (elementwise add/mul are not autocast ops, so they run in
the operands' float32), and a float64 model stays float64. The stem and the head follow AMP.

bn2's weight starts at 0, so every residual branch starts at 0 and the network starts as the
stem followed by the head. ``init="tied"`` copies block 0 into every block (the paper's "smooth"
initialisation: a discretised constant function of s = k/L), ``init="iid"`` keeps PyTorch's
independent default initialisation. Weights are trained independently either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resode.errors import ResodeError
from resode.nn.base import ResidualClassifier
from resode.nn.normalize import Normalize
from resode.registry import register_model

CONV_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


class ScaledConvBlock(nn.Module):
    """h + scale · bn2(conv2(σ(bn1(conv1(h))))), scale = 1/L; bn2.weight = 0 at init."""

    def __init__(self, channels: int, scale: float, activation: str) -> None:
        super().__init__()
        self.scale = scale
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = CONV_ACTIVATIONS[activation]()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn2.weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        branch = self.bn2(self.conv2(self.act(self.bn1(self.conv1(h)))))
        dtype = stream_dtype(h.dtype)
        return h.to(dtype) + self.scale * branch.to(dtype)


def stream_dtype(dtype: torch.dtype) -> torch.dtype:
    """The residual stream's dtype: float32 for half-precision inputs, else the input's own."""
    return torch.promote_types(dtype, torch.float32)


def head_pool(map_size: int) -> tuple[int, int]:
    """(kernel k, pooled side p) of the head's ``avg_pool2d``: k = min(4, s), p = ⌊s/k⌋."""
    k = min(4, map_size)
    return k, map_size // k


class ScaledConvNet(ResidualClassifier):
    """Table 1 network: stem → L scaled residual blocks (float32 stream) → avg-pool → linear."""

    def __init__(
        self,
        depth: int = 256,
        *,
        activation: str = "relu",
        init: str = "tied",
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        width: int = 16,
        stem_stride: int = 3,
        scaling_exponent: float = 1.0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        if depth < 1:
            raise ResodeError(f"scaled_convnet depth must be >= 1, got {depth}")
        if activation not in CONV_ACTIVATIONS:
            raise ResodeError(
                f"unknown activation {activation!r}; choose one of {', '.join(CONV_ACTIVATIONS)}"
            )
        if init not in ("tied", "iid"):
            raise ResodeError(f"unknown init {init!r} for scaled_convnet; use 'tied' or 'iid'")
        out_size = (image_size + 2 - 5) // stem_stride + 1
        if out_size < 1:
            raise ResodeError(
                f"image_size {image_size} is too small for the 5×5 stride-{stem_stride} stem; "
                "use a larger image_size or a smaller stem_stride"
            )
        mean = list(mean) if mean is not None else [0.0] * in_channels
        std = list(std) if std is not None else [1.0] * in_channels
        stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, stride=stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        scale = float(depth) ** (-scaling_exponent)
        blocks = nn.ModuleList(ScaledConvBlock(width, scale, activation) for _ in range(depth))
        if init == "tied":
            state = blocks[0].state_dict()
            for block in blocks[1:]:
                block.load_state_dict(state)
        kernel, pooled = head_pool(out_size)
        head = nn.Sequential(
            nn.AvgPool2d(kernel),
            nn.Flatten(),
            nn.Linear(width * pooled * pooled, num_classes),
        )
        super().__init__(Normalize(mean, std), stem, blocks, head)
        self.depth = depth
        self.map_size = out_size

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """h_0 = stem(normalize(x)), cast up to the residual stream's dtype (float32 under AMP)."""
        h = super().embed(x)
        return h.to(stream_dtype(h.dtype))

    def block_weights(self) -> torch.Tensor:
        """Z_k = (conv1.weight, conv2.weight) of every block, flattened: (L, 2·16·16·9)."""
        return torch.stack(
            [torch.cat([b.conv1.weight.flatten(), b.conv2.weight.flatten()]) for b in self.blocks]
        ).detach()


@register_model("scaled_convnet", family="paper-b", description="Table 1 CIFAR net (1/L blocks)")
def scaled_convnet(
    depth: int = 256,
    activation: str = "relu",
    init: str = "tied",
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    width: int = 16,
    stem_stride: int = 3,
    scaling_exponent: float = 1.0,
) -> ScaledConvNet:
    """Paper B Table 1 network: conv stem, ``depth`` residual blocks scaled by 1/L, linear head."""
    return ScaledConvNet(
        depth,
        activation=activation,
        init=init,
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
        width=width,
        stem_stride=stem_stride,
        scaling_exponent=scaling_exponent,
        mean=mean,
        std=std,
    )
