"""CIFAR-10-C / CIFAR-100-C (Hendrycks & Dietterich 2019) from local ``.npy`` files.

Folder layout (as in the official tar files): ``<corruption>.npy`` of shape (5·N, 32, 32, 3) uint8,
severities 1..5 stacked in order, and ``labels.npy`` of shape (5·N,). Checksums:
:mod:`resode.data.cifar_c_files`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from resode.data.cifar import CIFAR_SPECS
from resode.data.datasets import ImageDataset
from resode.errors import DataError, unknown_name_error

CIFAR_C_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur",
    "snow", "frost", "fog", "brightness", "spatter",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate",
)  # fmt: skip
CIFAR_C_FOLDERS = {"cifar10-c": "CIFAR-10-C", "cifar100-c": "CIFAR-100-C"}


def corruption_file_name(corruption: str) -> str:
    """Accept ``gaussian`` as well as ``gaussian_noise`` for the four noise corruptions."""
    name = corruption.replace("-", "_")
    if name in ("gaussian", "shot", "impulse", "speckle"):
        name += "_noise"
    if name not in CIFAR_C_CORRUPTIONS:
        raise unknown_name_error("corruption", corruption, CIFAR_C_CORRUPTIONS)
    return name


def cifar_c_folder(name: str, root: Path) -> Path:
    """``root/CIFAR-10-C`` if it exists, else ``root`` itself (a folder holding the .npy files)."""
    sub = root / CIFAR_C_FOLDERS[name]
    return sub if sub.is_dir() else root


def load_cifar_c(
    name: str,
    root: Path,
    corruption: str,
    severity: int | None = None,
    *,
    verify: bool = True,
) -> ImageDataset:
    """One corruption at one severity (1..5), or all five severities when ``severity`` is None.

    ``verify``: check format and MD5 of the file and of ``labels.npy`` first
    (:func:`resode.data.cifar_c_files.verify_file`: publisher archive, third-party reference or
    the folder's recorded manifest; once per process and file)."""
    from resode.data.cifar_c_files import check_format, verify_file

    base = "cifar10" if name == "cifar10-c" else "cifar100"
    spec = CIFAR_SPECS[base]
    file = corruption_file_name(corruption)
    if severity is not None and not 1 <= severity <= 5:
        raise DataError(f"severity must be 1..5, got {severity}")
    folder = cifar_c_folder(name, root)
    path, lpath = folder / f"{file}.npy", folder / "labels.npy"
    for p in (path, lpath):
        if not p.is_file():
            raise DataError(
                f"{name}: {p} not found; extract {CIFAR_C_FOLDERS[name]}.tar and pass "
                f"--data-root to the folder that contains {CIFAR_C_FOLDERS[name]}/"
            )
    (n5,), _ = check_format(folder, "labels")  # formats first, then the checksums
    check_format(folder, file, n5)
    if verify:
        verify_file(name, folder, "labels")
        verify_file(name, folder, file, n5=n5)
    data = np.load(path, mmap_mode="r", allow_pickle=False)
    labels = np.load(lpath, allow_pickle=False)
    n = data.shape[0] // 5
    sl = slice(0, 5 * n) if severity is None else slice((severity - 1) * n, severity * n)
    images = torch.from_numpy(np.array(data[sl])).permute(0, 3, 1, 2).float() / 255.0
    sev = "1-5" if severity is None else str(severity)
    return ImageDataset(
        images=images.contiguous(),
        labels=torch.from_numpy(labels[sl].astype(np.int64)),
        num_classes=spec.num_classes,
        name=f"{name}/{file}/{sev}",
        mean=spec.mean,
        std=spec.std,
        source=str(folder),
    )
