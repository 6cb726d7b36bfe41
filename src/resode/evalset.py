"""Checkpoints → labelled models, and ONE seeded test subset shared by every command.

``resode robustness``, ``stability``, ``landscape`` and ``reproduce`` all choose the evaluated
test images here, so the same ``--seed`` selects the same images everywhere:

    indices = randperm_g(N)[:n],   g seeded with derive_seed(seed, "subset")

(all N images, in that order, when n is None or n ≥ N). Subsets of one seed are nested: the first
k images of any larger subset are the subset of size k, so the 64 images ``resode stability
--n-samples 64 --seed 0`` analyses are the first 64 that ``resode reproduce`` (seed 0) evaluates,
attacks and analyses. Streams of random numbers that must be the same for every
model of a paired comparison (corruption noise, attack starts, analysis directions) are seeded with
:func:`derive_seed` from the run's seed and a key naming the stream.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resode.errors import ConfigError, ResodeError


def derive_seed(seed: int, *key: object) -> int:
    """A stable 63-bit seed from ``seed`` and a key (same key → same stream for every model)."""
    h = zlib.crc32(repr(key).encode())
    return (seed * 1_000_003 + h) % (2**63)


def subset_indices(n_total: int, n: int | None, seed: int) -> torch.Tensor:
    """The first ``n`` entries of a seeded permutation of range(N) (all N when ``n`` is None)."""
    g = torch.Generator().manual_seed(derive_seed(seed, "subset"))
    perm = torch.randperm(n_total, generator=g)
    return perm if n is None else perm[:n]


@dataclass
class EvalSet:
    """The evaluated test images: float32 NCHW in [0, 1], int64 labels, and where they came from."""

    dataset: str
    images: torch.Tensor
    labels: torch.Tensor
    indices: list[int]
    num_classes: int
    image_size: int | None = None
    data_root: str | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, n: int | None) -> EvalSet:
        """The first ``n`` images (all when None): e.g. the attacked part of a larger set."""
        k = len(self) if n is None else min(n, len(self))
        return EvalSet(
            self.dataset,
            self.images[:k],
            self.labels[:k],
            self.indices[:k],
            self.num_classes,
            self.image_size,
            self.data_root,
        )


def load_evalset(
    dataset: str,
    *,
    n: int | None,
    seed: int,
    root: str | None = None,
    image_size: int | None = None,
) -> EvalSet:
    """The seeded test subset of ``dataset`` (see the module docstring)."""
    from resode import data

    kw: dict[str, Any] = {"root": root}
    if image_size is not None:
        kw["image_size"] = int(image_size)
    ds = data.load(dataset, split="test", **kw)
    if not isinstance(ds, data.ImageDataset):
        raise ResodeError(
            f"data set {dataset!r} is not an image classification set; use digits/cifar"
        )
    if len(ds) == 0:
        raise ResodeError(f"the test split of {dataset!r} is empty")
    idx = subset_indices(len(ds), n, seed)
    sub = ds.subset(idx)
    return EvalSet(
        dataset=dataset,
        images=sub.images,
        labels=sub.labels,
        indices=[int(i) for i in idx],
        num_classes=int(ds.num_classes),
        image_size=image_size,
        data_root=root,
    )


@dataclass
class LabelledModel:
    """One loaded checkpoint: a display label, its path, the model (eval mode) and its payload."""

    label: str
    path: Path
    model: nn.Module
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.payload.get("model", {}).get("name", type(self.model).__name__))


def checkpoint_labels(paths: Sequence[Path], given: Sequence[str] | None = None) -> list[str]:
    """The user's labels, else the run folder (for ``last.pt``/``best.pt``) or the file stem,
    with ``-2``, ``-3``… appended when two would be equal."""
    if given:
        if len(given) != len(paths):
            raise ResodeError(
                f"--labels has {len(given)} names for {len(paths)} checkpoints; give one per CKPT"
            )
        return list(given)
    used: set[str] = set()
    out = []
    for path in paths:
        path = Path(path)
        base = path.parent.name if path.stem in ("last", "best", "checkpoint") else path.stem
        base = base or path.stem
        label, k = base, 2
        while label in used:
            label, k = f"{base}-{k}", k + 1
        used.add(label)
        out.append(label)
    return out


def load_models(
    paths: Sequence[str | Path],
    *,
    labels: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
) -> list[LabelledModel]:
    """Load every checkpoint (``weights_only=True``, rebuilt from the registry) onto ``device``."""
    from resode.checkpoint import load_checkpoint

    if not paths:
        raise ResodeError("give at least one checkpoint")
    paths = [Path(p) for p in paths]
    names = checkpoint_labels(paths, labels)
    out = []
    for label, path in zip(names, paths):
        ck = load_checkpoint(path)
        out.append(LabelledModel(label, path, ck.model.to(device).eval(), ck.payload))
    return out


def data_settings(
    payloads: Sequence[dict[str, Any]],
    *,
    dataset: str | None = None,
    data_root: str | None = None,
    image_size: int | None = None,
) -> dict[str, Any]:
    """Data set, image size and root shared by every checkpoint's training config (given values
    win); checkpoints trained on different settings are an error naming the option to pass."""
    given = {"dataset": dataset, "image_size": image_size, "data_root": data_root}
    out: dict[str, Any] = {}
    for key, override in given.items():
        if override is not None:
            out[key] = override
            continue
        values = {(p.get("config") or {}).get(key) for p in payloads}
        values.discard(None)
        if len(values) > 1:
            raise ConfigError(
                f"the checkpoints were trained with different {key} values "
                f"{sorted(map(str, values))}; evaluate them separately or pass "
                f"--{key.replace('_', '-')}"
            )
        out[key] = next(iter(values)) if values else None
    if out["dataset"] is None:
        raise ConfigError(
            "the checkpoint does not record its data set (no config.dataset); pass --dataset"
        )
    if out["image_size"] is not None:
        out["image_size"] = int(out["image_size"])
        if out["image_size"] < 4:
            raise ConfigError(f"image_size = {out['image_size']} must be >= 4")
    return out


def check_fits(
    model: nn.Module, evalset: EvalSet, source: str, trained_size: int | None = None
) -> None:
    """The model takes the evaluated images, of the size it was trained on (``trained_size``,
    when known), and has one logit per class; else a one-line error naming the fix."""
    x = evalset.images[:1]
    try:
        with torch.inference_mode():
            out = model.eval()(x.to(next(iter(model.parameters()), x).device))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResodeError(
            f"the model of {source!r} does not accept {evalset.dataset} images of shape "
            f"{tuple(x.shape[1:])} ({first}); pass the --dataset/--image-size it was trained on"
        ) from exc
    if out.ndim != 2 or out.shape[1] != evalset.num_classes:
        raise ResodeError(
            f"the model of {source!r} has {out.shape[-1]} outputs but {evalset.dataset} has "
            f"{evalset.num_classes} classes; pass the --dataset it was trained on"
        )
    if trained_size is not None and int(trained_size) != int(x.shape[-1]):
        raise ResodeError(
            f"the model of {source!r} was trained on {trained_size}×{trained_size} images but the "
            f"evaluated images are {x.shape[-2]}×{x.shape[-1]}; pass --image-size {trained_size} "
            "or leave it out"
        )


#: image side of a data set loaded without ``image_size`` (the size a run trained on by default)
NATIVE_IMAGE_SIZE = {"digits": 16, "cifar10": 32, "cifar100": 32}


def trained_image_size(payload: dict[str, Any]) -> int | None:
    """The image side a checkpoint was trained on (its config's ``image_size`` or the data set's
    default), or None when unknown."""
    cfg = payload.get("config") or {}
    size = cfg.get("image_size") or NATIVE_IMAGE_SIZE.get(str(cfg.get("dataset")))
    return int(size) if size else None


def models_and_evalset(
    paths: Sequence[str | Path],
    *,
    n: int | None,
    seed: int,
    dataset: str | None = None,
    data_root: str | None = None,
    image_size: int | None = None,
    labels: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
) -> tuple[list[LabelledModel], EvalSet]:
    """Checkpoints → labelled models and the ONE test subset they are all evaluated on."""
    models = load_models(paths, labels=labels, device=device)
    s = data_settings(
        [m.payload for m in models], dataset=dataset, data_root=data_root, image_size=image_size
    )
    ev = load_evalset(s["dataset"], n=n, seed=seed, root=s["data_root"], image_size=s["image_size"])
    for m in models:
        check_fits(m.model, ev, str(m.path), trained_image_size(m.payload))
    return models, ev


__all__ = [
    "EvalSet",
    "LabelledModel",
    "check_fits",
    "checkpoint_labels",
    "data_settings",
    "derive_seed",
    "load_evalset",
    "load_models",
    "models_and_evalset",
    "subset_indices",
    "trained_image_size",
]
