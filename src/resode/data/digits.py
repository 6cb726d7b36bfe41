"""scikit-learn's 8×8 handwritten digits: the embedded default data set (no download).

1797 grey images with values 0..16, scaled to [0, 1], optionally resized (default 16×16), split
into train/test by a fixed seeded permutation (80 % / 20 %, stratification not needed at this size).
"""

from __future__ import annotations

import torch

from resode.data.datasets import ImageDataset, channel_stats, resize

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2
DIGITS_DEFAULT_SIZE = 16


def load_digits(split: str = "train", image_size: int | None = None) -> ImageDataset:
    """Digits images (N, 1, S, S) in [0, 1]; mean/std from the training split."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    size = image_size or DIGITS_DEFAULT_SIZE
    images = resize(images, size)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    n_test = round(DIGITS_TEST_FRACTION * len(labels))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    mean, std = channel_stats(images[train_idx])
    idx = train_idx if split == "train" else test_idx
    return ImageDataset(
        images=images[idx].contiguous(),
        labels=labels[idx].contiguous(),
        num_classes=10,
        name="digits",
        mean=mean,
        std=std,
        source="embedded (scikit-learn load_digits)",
        class_names=tuple(str(i) for i in range(10)),
    )
