"""Shared plumbing of the analysis commands: checkpoints → (label, model, test batch), Markdown.

Each checkpoint's test data comes from its own training config (``payload["config"]``: keys
``dataset``, ``image_size``, ``data_root``), overridable from the command line. The analysed
images are a seeded random subset of the test split (the same for every model of one dataset).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resode.errors import ResodeError


@dataclass
class AnalysisInput:
    """One checkpoint ready for analysis."""

    label: str
    path: Path
    model: nn.Module
    payload: dict[str, Any]
    images: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    dataset: str | None = None


def add_common_arguments(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """CKPT positional arguments, --out, and (if ``data``) --dataset/--data-root/--device."""
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT", help="resode checkpoint(s)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="names of the models in plots (one per CKPT)"
    )
    if data:
        parser.add_argument(
            "--dataset", help="test data set (default: the dataset of each checkpoint's config)"
        )
        parser.add_argument("--data-root", help="data folder (default: from the checkpoint)")
        parser.add_argument("--image-size", type=int, help="resize images (default: checkpoint)")
        parser.add_argument(
            "--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)"
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="progress bars (default: on)",
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ResodeError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ResodeError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return dev


def model_labels(
    paths: Sequence[Path], names: Sequence[str], given: Sequence[str] | None
) -> list[str]:
    """The user's labels, else the model names, disambiguated by folder when they repeat."""
    if given:
        if len(given) != len(paths):
            raise ResodeError(
                f"--labels has {len(given)} names for {len(paths)} checkpoints; give one per CKPT"
            )
        return list(given)
    labels = list(names)
    for i, name in enumerate(names):
        if names.count(name) > 1:
            p = Path(paths[i]).resolve()
            labels[i] = f"{name} ({p.parent.name}/{p.name})"
    return labels


def load_inputs(
    args: argparse.Namespace, *, n_samples: int | None = None, seed: int = 0, data: bool = True
) -> list[AnalysisInput]:
    """Load every CKPT of ``args`` (eval mode, on ``args.device``) and, if ``data``, a seeded
    random subset of ``n_samples`` test images for each."""
    from resode.checkpoint import load_checkpoint

    paths = [Path(p) for p in args.checkpoints]
    ckpts = [load_checkpoint(p) for p in paths]
    labels = model_labels(paths, [c.name for c in ckpts], getattr(args, "labels", None))
    device = resolve_device(getattr(args, "device", "cpu")) if data else torch.device("cpu")
    out = []
    cache: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}
    for label, path, ck in zip(labels, paths, ckpts):
        model = ck.model.to(device).eval()
        item = AnalysisInput(label=label, path=path, model=model, payload=ck.payload)
        if data:
            cfg = ck.config or {}
            name = args.dataset or cfg.get("dataset")
            if not name:
                raise ResodeError(
                    f"checkpoint {str(path)!r} records no dataset; pass --dataset NAME"
                )
            root = args.data_root or cfg.get("data_root")
            size = args.image_size or cfg.get("image_size")
            key = (name, root, size, n_samples, seed)
            if key not in cache:
                cache[key] = test_batch(name, root=root, image_size=size, n=n_samples, seed=seed)
            item.images, item.labels = (t.to(device) for t in cache[key])
            item.dataset = name
        out.append(item)
    return out


def test_batch(
    name: str, *, root: Any = None, image_size: int | None = None, n: int | None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random subset of ``n`` images of the test split of data set ``name``."""
    from resode import data

    ds = data.load(name, split="test", root=root, image_size=image_size, progress=False)
    if not hasattr(ds, "images"):
        raise ResodeError(f"data set {name!r} is not an image classification set; use digits/cifar")
    total = len(ds)
    if total == 0:
        raise ResodeError(f"the test split of {name!r} is empty")
    k = total if n is None else min(n, total)
    idx = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:k]
    sub = ds.subset(idx)
    return sub.images, sub.labels


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table (floats with 4 significant digits)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
