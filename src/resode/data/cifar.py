"""CIFAR-10 and CIFAR-100 from the official python-pickle archives (no torchvision).

Layout under ``root``: ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` and
``cifar-100-python/{train, test, meta}``, as extracted from ``cifar-10-python.tar.gz`` /
``cifar-100-python.tar.gz``. The pickles are read with a restricted unpickler that only admits
NumPy arrays and plain containers, so a tampered file cannot run code.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resode.data.datasets import ImageDataset
from resode.data.download import download_file, extract_atomically
from resode.errors import DataError

# Per-channel statistics used by paper A's official code (papers.md A.3).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


@dataclass(frozen=True)
class CifarSpec:
    name: str
    folder: str
    archive: str
    url: str
    md5: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


CIFAR_SPECS = {
    "cifar10": CifarSpec(
        name="cifar10",
        folder="cifar-10-batches-py",
        archive="cifar-10-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        meta_file="batches.meta",
        label_key=b"labels",
        names_key=b"label_names",
        num_classes=10,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
    ),
    "cifar100": CifarSpec(
        name="cifar100",
        folder="cifar-100-python",
        archive="cifar-100-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        train_files=("train",),
        test_files=("test",),
        meta_file="meta",
        label_key=b"fine_labels",
        names_key=b"fine_label_names",
        num_classes=100,
        mean=CIFAR100_MEAN,
        std=CIFAR100_STD,
    ),
}

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only admits NumPy arrays and builtin containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name} in a CIFAR file")


def _read_batch(path: Path) -> dict[bytes, Any]:
    try:
        with open(path, "rb") as fh:
            data = _RestrictedUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DataError(
            f"{path} is corrupt or not a CIFAR python-pickle batch ({exc}); delete it and "
            "re-extract the official archive (or pass download=True / --download)"
        ) from exc
    if not isinstance(data, dict) or b"data" not in data:
        raise DataError(f"{path} is not a CIFAR batch (no b'data' entry)")
    return data


def cifar_folder(name: str, root: Path) -> Path:
    return root / CIFAR_SPECS[name].folder


def missing_files(name: str, root: Path) -> list[str]:
    spec = CIFAR_SPECS[name]
    folder = cifar_folder(name, root)
    files = (*spec.train_files, *spec.test_files, spec.meta_file)
    return [f for f in files if not (folder / f).is_file()]


def download_cifar(name: str, root: Path, *, progress: bool = True) -> Path:
    """Download the official archive (MD5-checked) and extract it atomically under ``root``."""
    spec = CIFAR_SPECS[name]
    archive = download_file(spec.url, root / spec.archive, spec.md5, progress=progress)
    return extract_atomically(archive, root, spec.folder)


def load_cifar(
    name: str, root: Path, split: str = "train", *, download: bool = False, progress: bool = True
) -> ImageDataset:
    """CIFAR-10/100 ``split`` as float32 (N, 3, 32, 32) in [0, 1] with int64 labels."""
    spec = CIFAR_SPECS[name]
    if missing_files(name, root):
        if download:
            download_cifar(name, root, progress=progress)
        missing = missing_files(name, root)
        if missing:
            raise DataError(
                f"{name} not found in {cifar_folder(name, root)} (missing {', '.join(missing)}); "
                f"put the extracted {spec.archive} there, pass --data-root to the folder that "
                f"contains {spec.folder}/, or use --download"
            )
    folder = cifar_folder(name, root)
    files = spec.train_files if split == "train" else spec.test_files
    arrays, labels = [], []
    for f in files:
        batch = _read_batch(folder / f)
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{folder / f}: data has shape {data.shape}, expected (N, 3072)")
        if spec.label_key not in batch:
            raise DataError(f"{folder / f}: no {spec.label_key!r} entry")
        arrays.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[spec.label_key], dtype=np.int64))
    images = torch.from_numpy(np.concatenate(arrays)).float().div_(255.0)
    target = torch.from_numpy(np.concatenate(labels))
    if len(target) != len(images):
        raise DataError(f"{folder}: {len(images)} images but {len(target)} labels")
    meta = _read_batch_meta(folder / spec.meta_file, spec.names_key)
    return ImageDataset(
        images=images,
        labels=target,
        num_classes=spec.num_classes,
        name=name,
        mean=spec.mean,
        std=spec.std,
        source=str(folder),
        class_names=meta,
    )


def _read_batch_meta(path: Path, key: bytes) -> tuple[str, ...]:
    try:
        with open(path, "rb") as fh:
            meta = _RestrictedUnpickler(fh, encoding="bytes").load()
        return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(key, []))
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return ()
