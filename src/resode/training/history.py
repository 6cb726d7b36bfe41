"""What a training run writes next to its checkpoint: ``history.json`` and ``history.csv`` (one row
per epoch: losses, accuracies, lr, seconds, skipped steps and every damped block's λ)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from torch import nn

from resode.checkpoint import atomic_write_bytes, unwrap_model

CHECKPOINT_NAME = "last.pt"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
CONFIG_YAML = "config.yaml"


def lambda_values(model: nn.Module) -> dict[str, list[float]]:
    """Every damped block's λ as lists of floats (``{}`` for a model without damping)."""
    inner = unwrap_model(model)
    get = getattr(inner, "interpolation_coefficients", None)
    if get is None:
        return {}
    return {k: [float(v) for v in t.detach().float().reshape(-1).cpu()] for k, t in get().items()}


def history_csv(history: list[dict[str, Any]]) -> str:
    keys = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"]
    keys.append("nan_skips")
    blocks: list[str] = []
    for row in history:
        for b in row.get("lambdas", {}):
            if b not in blocks:
                blocks.append(b)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(keys + [f"lambda.{b}" for b in blocks])
    for row in history:
        lam = row.get("lambdas", {})
        cells = [row.get(k) for k in keys]
        cells += [";".join(f"{v:.6g}" for v in lam.get(b, [])) for b in blocks]
        writer.writerow(["" if c is None else c for c in cells])
    return buf.getvalue()


def write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    """Write ``history.json`` and ``history.csv`` atomically."""
    text = json.dumps(history, indent=1)
    atomic_write_bytes(out_dir / HISTORY_JSON, lambda fh: fh.write(text.encode()))
    table = history_csv(history)
    atomic_write_bytes(out_dir / HISTORY_CSV, lambda fh: fh.write(table.encode()))


def remove_stale_temp_files(out_dir: Path) -> None:
    """Temporary files of writes interrupted by a crash (``.last.pt.*.tmp`` and the like)."""
    for name in (CHECKPOINT_NAME, HISTORY_JSON, HISTORY_CSV):
        for tmp in out_dir.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_YAML",
    "HISTORY_CSV",
    "HISTORY_JSON",
    "history_csv",
    "lambda_values",
    "remove_stale_temp_files",
    "write_history",
]
