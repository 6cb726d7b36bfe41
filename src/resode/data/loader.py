"""Mini-batches from an in-memory :class:`ImageDataset` (no DataLoader, no worker processes).

For data that fits in memory (digits, CIFAR: 600 MB as float32) slicing a shuffled index tensor
is faster than a DataLoader's per-sample collation, and augmentation is applied per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from resode.data.augment import Augment
from resode.data.datasets import ImageDataset


def batches(
    dataset: ImageDataset,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    augment: Augment | None = None,
    drop_last: bool = False,
    device: torch.device | str | None = None,
    indices: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` batches; ``indices`` restricts to a shard (e.g. a DDP rank)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = indices if indices is not None else torch.arange(len(dataset))
    if shuffle:
        order = order[torch.randperm(len(order), generator=generator)]
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        x, y = dataset.images[idx], dataset.labels[idx]
        if device is not None:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
        if augment is not None:
            x = augment(x, generator)
        yield x, y


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)
