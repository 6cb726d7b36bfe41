"""Writers of tiny data files in the exact official formats (CIFAR pickles, CIFAR-C .npy)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np


def write_cifar_folder(
    root: Path, name: str = "cifar10", n_per_file: int = 6, seed: int = 0
) -> Path:
    """A miniature CIFAR python-pickle folder (same keys, dtypes and layout as the real one)."""
    rng = np.random.default_rng(seed)
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        label_key, meta_file, names_key, n_classes = b"labels", "batches.meta", b"label_names", 10
    else:
        folder = root / "cifar-100-python"
        files = ["train", "test"]
        label_key, meta_file, names_key, n_classes = (
            b"fine_labels",
            "meta",
            b"fine_label_names",
            100,
        )
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        batch = {
            b"batch_label": f.encode(),
            b"data": rng.integers(0, 256, size=(n_per_file, 3072), dtype=np.uint8),
            label_key: rng.integers(0, n_classes, size=n_per_file).tolist(),
            b"filenames": [f"img_{i}.png".encode() for i in range(n_per_file)],
        }
        if name == "cifar100":
            batch[b"coarse_labels"] = rng.integers(0, 20, size=n_per_file).tolist()
        with open(folder / f, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    with open(folder / meta_file, "wb") as fh:
        pickle.dump({names_key: [f"class{i}".encode() for i in range(n_classes)]}, fh, protocol=2)
    return folder


def write_cifar_archive(root: Path, name: str = "cifar10") -> Path:
    """A ``.tar.gz`` with the miniature folder inside, as the official archive is laid out."""
    src = root / "src"
    folder = write_cifar_folder(src, name)
    archive = root / ("cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def write_cifar_c_folder(
    root: Path, n: int = 4, corruptions: tuple[str, ...] = ("gaussian_noise",)
) -> Path:
    """A miniature CIFAR-10-C folder: (5·n, 32, 32, 3) uint8 per corruption plus labels.npy."""
    rng = np.random.default_rng(1)
    folder = root / "CIFAR-10-C"
    folder.mkdir(parents=True, exist_ok=True)
    for c in corruptions:
        np.save(folder / f"{c}.npy", rng.integers(0, 256, size=(5 * n, 32, 32, 3), dtype=np.uint8))
    np.save(folder / "labels.npy", np.tile(np.arange(n) % 10, 5).astype(np.uint8))
    return folder


def write_released_cifar_c(
    root: Path, clean_hwc: np.ndarray, labels: np.ndarray, corruptions: tuple[str, ...]
) -> Path:
    """A CIFAR-10-C folder in the released format built from ``clean_hwc`` (N, 32, 32, 3) uint8:
    per corruption (5·N, 32, 32, 3) uint8, severity s in rows (s−1)·N … s·N−1 (here the clean
    images with s·(k+1) added mod 256 for the k-th corruption), and ``labels.npy`` (5·N,) uint8 —
    the test labels repeated five times, as released."""
    folder = root / "CIFAR-10-C"
    folder.mkdir(parents=True, exist_ok=True)
    for k, c in enumerate(corruptions):
        sev = [((clean_hwc.astype(np.int64) + s * (k + 1)) % 256) for s in range(5)]
        np.save(folder / f"{c}.npy", np.concatenate(sev).astype(np.uint8))
    np.save(folder / "labels.npy", np.tile(labels, 5).astype(np.uint8))
    return folder
