"""The per-corruption × severity accuracy table (``corruptions.csv`` / ``corruptions.json``).

One row per (model, seed, corruption, severity) with the accuracy k/n and its Clopper–Pearson
interval over the n images; per (model, seed, corruption) a ``pooled`` row (over the severities
evaluated), and per (model, seed) the ``mean`` row over every corruption × severity cell

    corruptions_acc = (1 / (C·S)) Σ_c Σ_s acc(c, s)

— RobustBench's ``corruptions_acc`` when the cells are the 15 benchmark corruptions × 5
severities (each cell has the same n, so it is also the pooled accuracy over all of them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from resode.robustness.intervals import clopper_pearson

TABLE_FILES = ("corruptions.csv", "corruptions.json")


@dataclass(frozen=True)
class CorruptionRow:
    """Accuracy of one model (one seed) on one corruption at one severity (``pooled``: over the
    severities; corruption ``mean``: over every cell)."""

    model: str
    seed: int | None
    corruption: str
    severity: str
    n_images: int
    accuracy: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(model: str, seed: int | None, c: str, s: str, acc: float, n: int) -> CorruptionRow:
    k = round(acc * n) if math.isfinite(acc) else 0
    lo, hi = clopper_pearson(k, n)
    return CorruptionRow(model, seed, c, s, n, acc, lo, hi)


def corruption_rows(
    model: str, corruptions: dict[str, dict[str, float]], n_images: int, seed: int | None = None
) -> list[CorruptionRow]:
    """Rows of one model from its ``{corruption: {"1": acc, …, "pooled": acc}}`` (the
    evaluation's ``ModelResult.corruptions``); empty when no corruption was evaluated."""
    rows: list[CorruptionRow] = []
    cells: list[float] = []
    for c, accs in corruptions.items():
        sev = sorted((k for k in accs if k != "pooled"), key=int)
        for s in sev:
            rows.append(_row(model, seed, c, s, accs[s], n_images))
            cells.append(accs[s])
        if "pooled" in accs:
            rows.append(_row(model, seed, c, "pooled", accs["pooled"], n_images * len(sev)))
    if cells:
        mean = sum(cells) / len(cells)
        rows.append(_row(model, seed, "mean", "all", mean, n_images * len(cells)))
    return rows


def write_corruption_table(
    out: Path, rows: list[CorruptionRow], stem: str = "corruptions"
) -> list[Path]:
    """``<stem>.csv`` and ``<stem>.json`` (a list of rows) in ``out``; nothing when empty."""
    from resode.report import write_csv, write_json

    if not rows:
        return []
    dicts = [r.to_dict() for r in rows]
    return [write_csv(out / f"{stem}.csv", dicts), write_json(out / f"{stem}.json", dicts)]


__all__ = ["TABLE_FILES", "CorruptionRow", "corruption_rows", "write_corruption_table"]
