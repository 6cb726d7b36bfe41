"""Device-resident mini-batches: the data set and its augmentation stay on the device.

:func:`resident_batches` yields exactly the batches of :func:`resode.data.batches` (same order,
same crops, same flips, bit for bit) but draws the whole epoch's random numbers up front, on the
same CPU generator and in the same order as the per-batch loader (permutation, then for each
batch the crop rows, crop columns and flip mask), and uploads them once per epoch
(:class:`EpochDraws`). Each batch is then one gather of the resident images, one crop gather and
one ``where``: no host-to-device copy and no host synchronisation per batch, so on CUDA the
kernels of consecutive steps queue without gaps. On the CPU it is the same computation as the
per-batch loader (tests/test_resident_data.py checks equality).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from resode.data.augment import Augment, crop_at, crop_offsets, flip_mask, flip_where
from resode.data.datasets import ImageDataset


@dataclass(frozen=True)
class EpochDraws:
    """One epoch's random numbers, position-aligned with ``order`` (the shuffled indices).

    Batch b is ``order[b·B : (b+1)·B]``, cropped at ``(rows, cols)[b·B : …]`` and flipped where
    ``flips[b·B : …]``; ``rows``/``cols``/``flips`` are None when the augmentation has no crop or
    no flip. ``stop`` is the number of positions that are used (``drop_last`` drops the rest).
    """

    order: torch.Tensor
    rows: torch.Tensor | None
    cols: torch.Tensor | None
    flips: torch.Tensor | None
    stop: int

    def to(self, device: torch.device | str) -> EpochDraws:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        order = self.order.to(device, non_blocking=True)
        return EpochDraws(order, move(self.rows), move(self.cols), move(self.flips), self.stop)


def draw_epoch(
    n: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    augment: Augment | None = None,
    drop_last: bool = False,
    indices: torch.Tensor | None = None,
) -> EpochDraws:
    """The random numbers :func:`resode.data.batches` would draw for one epoch, in its order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = indices.cpu() if indices is not None else torch.arange(n)
    if shuffle:
        order = order[torch.randperm(len(order), generator=generator)]
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    crop = augment is not None and augment.padding > 0
    flip = augment is not None and augment.flip
    rows: list[torch.Tensor] = []
    cols: list[torch.Tensor] = []
    flips: list[torch.Tensor] = []
    for start in range(0, stop, batch_size):
        size = min(batch_size, stop - start)
        if crop:
            assert augment is not None
            oy, ox = crop_offsets(size, augment.padding, generator)
            rows.append(oy)
            cols.append(ox)
        if flip:
            flips.append(flip_mask(size, generator))

    def cat(parts: list[torch.Tensor], on: bool, dtype: torch.dtype) -> torch.Tensor | None:
        return (torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)) if on else None

    return EpochDraws(
        order,
        cat(rows, crop, torch.int64),
        cat(cols, crop, torch.int64),
        cat(flips, flip, torch.bool),
        stop,
    )


def resident_batches(
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
    """Yield the ``(images, labels)`` batches of :func:`resode.data.batches` from a data set
    held on ``device`` (moved there once if it is elsewhere; pass it already moved to avoid the
    copy). The generator must be a CPU generator, as for the per-batch loader."""
    device = torch.device(device) if device is not None else dataset.images.device
    if dataset.images.device != device:
        dataset = dataset.to(device)
    draws = draw_epoch(
        len(dataset),
        batch_size,
        shuffle=shuffle,
        generator=generator,
        augment=augment,
        drop_last=drop_last,
        indices=indices,
    ).to(device)
    for start in range(0, draws.stop, batch_size):
        end = min(start + batch_size, draws.stop)
        idx = draws.order[start:end]
        x, y = dataset.images[idx], dataset.labels[idx]
        if augment is not None and draws.rows is not None and draws.cols is not None:
            x = crop_at(
                x, augment.padding, augment.mode, draws.rows[start:end], draws.cols[start:end]
            )
        if draws.flips is not None:
            x = flip_where(x, draws.flips[start:end])
        yield x, y


__all__ = ["EpochDraws", "draw_epoch", "resident_batches"]
