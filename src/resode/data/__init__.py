"""Data sets by name: ``resode.data.load("cifar10", root=..., split="test")``.

Every image set is an :class:`ImageDataset` of float32 (N, C, H, W) images in [0, 1] with int64
labels; normalisation statistics travel with it (``mean``/``std``) and are applied inside the
model. Names:

==============  ==================================================================
``digits``      scikit-learn 8×8 digits, embedded, resized to 16×16 by default
``cifar10``     official python-pickle archive under ``root`` (``download=True`` fetches it)
``cifar100``    idem
``cifar10-c``   CIFAR-10-C ``.npy`` files under ``root`` (``corruption=``, ``severity=``)
``cifar100-c``  idem
``synthetic``   paper B regression data (returns :class:`RegressionData`)
==============  ==================================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resode.data.augment import Augment, random_crop, random_flip
from resode.data.cifar import CIFAR_SPECS, load_cifar, missing_files
from resode.data.cifar_c import CIFAR_C_CORRUPTIONS, cifar_c_folder, load_cifar_c
from resode.data.datasets import ImageDataset, RegressionData, channel_stats, resize
from resode.data.digits import load_digits
from resode.data.loader import batches, num_batches
from resode.data.resident import EpochDraws, draw_epoch, resident_batches
from resode.data.synthetic import make_regression
from resode.errors import DataError, unknown_name_error

DATASETS = ("digits", "cifar10", "cifar100", "cifar10-c", "cifar100-c", "synthetic")
SPLITS = ("train", "test")


def default_root() -> Path:
    """``$RESODE_DATA`` if set, else ``~/.cache/resode/data``."""
    return Path(os.environ.get("RESODE_DATA", "~/.cache/resode/data")).expanduser()


def list_datasets() -> list[str]:
    return list(DATASETS)


def load(
    name: str,
    *,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    image_size: int | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> ImageDataset | RegressionData:
    """Load data set ``name``; see the module docstring for names and options.

    ``image_size`` resizes images (bilinear); ``kwargs`` go to the specific loader
    (``corruption``/``severity`` for CIFAR-C, ``n``/``d``/``seed``/``unit_sphere`` for synthetic).
    """
    if name not in DATASETS:
        raise unknown_name_error("dataset", name, DATASETS)
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    base = Path(root).expanduser() if root is not None else default_root()
    if name == "synthetic":
        return make_regression(**kwargs)
    if name == "digits":
        _no_extra(name, kwargs)
        return load_digits(split, image_size)
    if name in CIFAR_SPECS:
        _no_extra(name, kwargs)
        ds = load_cifar(name, base, split, download=download, progress=progress)
    else:
        if "corruption" not in kwargs:
            raise DataError(
                f"{name} needs corruption=<name> (one of {', '.join(CIFAR_C_CORRUPTIONS)})"
            )
        ds = load_cifar_c(name, base, kwargs.pop("corruption"), kwargs.pop("severity", None))
        _no_extra(name, kwargs)
    if image_size is not None and image_size != ds.image_size:
        ds.images = resize(ds.images, image_size)
    return ds


def _no_extra(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise DataError(f"data set {name!r} takes no option(s) {', '.join(sorted(kwargs))}")


def describe(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What ``resode data`` shows: each data set, whether it is available, shape and location."""
    base = Path(root).expanduser() if root is not None else default_root()
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        ds = load_digits(split)
        rows.append({**ds.summary(), "split": split, "available": True})
    for name, spec in CIFAR_SPECS.items():
        folder = base / spec.folder
        missing = missing_files(name, base)
        row: dict[str, Any] = {"name": name, "split": "train+test", "available": not missing}
        row.update(
            {
                "shape": [3, 32, 32],
                "num_classes": spec.num_classes,
                "size": 60000 if not missing else None,
                "source": str(folder) if not missing else f"not found in {folder} (--download)",
            }
        )
        rows.append(row)
    for name in ("cifar10-c", "cifar100-c"):
        folder = cifar_c_folder(name, base)
        found = sorted(p.stem for p in folder.glob("*.npy") if p.stem in CIFAR_C_CORRUPTIONS)
        ok = bool(found) and (folder / "labels.npy").is_file()
        rows.append(
            {
                "name": name,
                "split": "test",
                "available": ok,
                "shape": [3, 32, 32],
                "num_classes": 10 if name == "cifar10-c" else 100,
                "size": None,
                "source": (
                    f"{folder} ({len(found)} corruptions)" if ok else f"not found in {folder}"
                ),
            }
        )
    rows.append(
        {
            "name": "synthetic",
            "split": "-",
            "available": True,
            "shape": ["d", "d'"],
            "num_classes": None,
            "size": "n",
            "source": "generated (seeded)",
        }
    )
    return rows


__all__ = [
    "CIFAR_C_CORRUPTIONS",
    "DATASETS",
    "Augment",
    "EpochDraws",
    "ImageDataset",
    "RegressionData",
    "batches",
    "channel_stats",
    "default_root",
    "describe",
    "draw_epoch",
    "list_datasets",
    "load",
    "load_cifar",
    "load_cifar_c",
    "load_digits",
    "make_regression",
    "num_batches",
    "random_crop",
    "random_flip",
    "resident_batches",
    "resize",
]
