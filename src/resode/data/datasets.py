"""In-memory data sets: images as float32 NCHW in [0, 1] with int64 labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch


@dataclass
class ImageDataset:
    """A labelled image set held in memory.

    ``images``: float32 (N, C, H, W) with values in [0, 1]; ``labels``: int64 (N,).
    ``mean``/``std`` are per-channel statistics for the model's ``Normalize`` module.
    """

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = "embedded"
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            n = self.images.shape[0]
            raise ValueError(f"labels shape {tuple(self.labels.shape)} does not match {n} images")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, n_or_indices: int | Sequence[int] | torch.Tensor) -> ImageDataset:
        """The first ``n`` samples, or the samples at the given indices."""
        if isinstance(n_or_indices, int):
            idx = torch.arange(min(n_or_indices, len(self)))
        else:
            idx = torch.as_tensor(n_or_indices, dtype=torch.long)
        return replace(self, images=self.images[idx], labels=self.labels[idx])

    def to(self, device: torch.device | str) -> ImageDataset:
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": len(self),
            "shape": list(self.images.shape[1:]),
            "num_classes": self.num_classes,
            "source": self.source,
        }


@dataclass
class RegressionData:
    """Paper B regression data: inputs ``x`` (n, d) and targets ``y`` (n, d')."""

    x: torch.Tensor
    y: torch.Tensor
    name: str = "synthetic"
    seed: int = 0

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": len(self),
            "shape": [list(self.x.shape[1:]), list(self.y.shape[1:])],
            "seed": self.seed,
            "source": "generated",
        }


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of (N, C, H, W) images."""
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) images to ``size``×``size``, clamped to [0, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.nn.functional.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return out.clamp_(0.0, 1.0)
