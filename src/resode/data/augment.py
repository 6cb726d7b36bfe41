"""Vectorised training augmentation on batches of image tensors.

Random crop after padding (reflect or zero) and horizontal flip, for a whole batch at once with
gather indexing: no per-image Python transforms, so in-memory data sets train fast on CPU and the
same code runs on the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Pad by ``padding`` (``mode`` "reflect" or "zero"), crop back at a random offset, flip.

    Call as ``augment(images, generator)`` with images (N, C, H, W); returns a new tensor.
    """

    padding: int = 2
    mode: str = "reflect"
    flip: bool = True

    def __post_init__(self) -> None:
        if self.padding < 0:
            raise ValueError(f"padding must be >= 0, got {self.padding}")
        if self.mode not in ("reflect", "zero"):
            raise ValueError(f"mode must be 'reflect' or 'zero', got {self.mode!r}")

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        out = images
        if self.padding > 0:
            out = random_crop(out, self.padding, self.mode, generator)
        if self.flip:
            out = random_flip(out, generator)
        return out


def _rand_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def random_crop(
    images: torch.Tensor,
    padding: int,
    mode: str = "reflect",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample crop of size (H, W) from the image padded by ``padding`` on every side."""
    oy, ox = crop_offsets(images.shape[0], padding, generator)
    return crop_at(images, padding, mode, oy, ox)


def crop_offsets(
    n: int, padding: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (row, column) offsets in [0, 2·padding] that :func:`random_crop` draws, in its order."""
    gen_dev = _rand_device(generator)
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gen_dev)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gen_dev)
    return oy, ox


def crop_at(
    images: torch.Tensor, padding: int, mode: str, oy: torch.Tensor, ox: torch.Tensor
) -> torch.Tensor:
    """``out[i] = pad(images)[i, :, oy_i : oy_i + H, ox_i : ox_i + W]`` (one gather)."""
    n, c, h, w = images.shape
    pad_mode = "reflect" if mode == "reflect" else "constant"
    padded = F.pad(images, (padding, padding, padding, padding), mode=pad_mode)
    oy, ox = oy.to(images.device), ox.to(images.device)
    rows = (oy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    chans = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    return flip_where(images, flip_mask(images.shape[0], generator))


def flip_mask(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The (n,) bool mask ``U < 1/2`` that :func:`random_flip` draws."""
    gen_dev = _rand_device(generator)
    return torch.rand(n, generator=generator, device=gen_dev) < 0.5


def flip_where(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``out[i] = flip_W(images[i])`` where ``mask[i]``, else ``images[i]``."""
    mask = mask.to(images.device)[:, None, None, None]
    return torch.where(mask, images.flip(-1), images)
