"""The per-corruption × severity accuracy table (``corruptions.csv`` / ``corruptions.json``).

One row per (model, seed, corruption, severity) with the accuracy k/n and its Clopper–Pearson
interval over the n images; per (model, seed, corruption) a ``pooled`` row (over the severities
evaluated), and per (model, seed) the ``mean`` row over every corruption × severity cell

    corruptions_acc = (1 / (C·S)) Σ_c Σ_s acc(c, s)

— RobustBench's ``corruptions_acc`` when the cells are the 15 benchmark corruptions × 5
severities (each cell has the same n, so it is also the pooled accuracy over all of them).

:func:`corruption_errors` adds Hendrycks & Dietterich's (ICLR 2019) corruption error against a
baseline model b instead of their AlexNet (none is trained here):

    CE_c = Σ_s E(c, s) / Σ_s E_b(c, s),      mCE = (1 / C) Σ_c CE_c

with E = 1 − accuracy over the severities both evaluated; 1 (100 %) is the baseline's error. mCE is
over the 15 benchmark corruptions when all are present (``benchmark: true``), else over those
evaluated.
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


@dataclass(frozen=True)
class CorruptionErrorRow:
    """CE of one model (one seed; ``None`` where the rows carry no seed) on one corruption
    against the baseline; corruption ``mCE``: the mean over corruptions."""

    model: str
    seed: int | None
    baseline: str
    corruption: str
    ce: float
    benchmark: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _errors(rows: list[CorruptionRow]) -> dict[tuple[int | None, str], dict[str, float]]:
    out: dict[tuple[int | None, str], dict[str, float]] = {}
    for r in rows:
        if r.severity.isdigit():
            out.setdefault((r.seed, r.corruption), {})[r.severity] = 1.0 - r.accuracy
    return out


def corruption_errors(
    rows: list[CorruptionRow], baseline: str, benchmark: tuple[str, ...] | None = None
) -> list[CorruptionErrorRow]:
    """CE_c and mCE of every model in ``rows`` against ``baseline`` (same seed when the baseline
    has it, else the baseline's mean error over its seeds); empty without a baseline row."""
    if benchmark is None:
        from resode.data.cifar_c_files import BENCHMARK_CORRUPTIONS as benchmark
    by_model: dict[str, list[CorruptionRow]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    if baseline not in by_model:
        return []
    base = _errors(by_model[baseline])
    base_mean: dict[str, dict[str, list[float]]] = {}  # corruption → severity → over seeds
    for (_, c), errs in base.items():
        for s, e in errs.items():
            base_mean.setdefault(c, {}).setdefault(s, []).append(e)
    base_avg = {c: {s: sum(v) / len(v) for s, v in d.items()} for c, d in base_mean.items()}
    out: list[CorruptionErrorRow] = []
    for model, mrows in by_model.items():
        per_seed: dict[int | None, dict[str, float]] = {}
        for (seed, c), errs in _errors(mrows).items():
            ref = base.get((seed, c), base_avg.get(c, {}))
            sev = [s for s in errs if s in ref]
            den = sum(ref[s] for s in sev)
            if not sev or den <= 0:
                continue
            per_seed.setdefault(seed, {})[c] = sum(errs[s] for s in sev) / den
        for seed, ces in per_seed.items():
            full = set(benchmark) <= set(ces)
            used = [c for c in ces if c in benchmark] if full else list(ces)
            out += [
                CorruptionErrorRow(model, seed, baseline, c, v, c in benchmark)
                for c, v in ces.items()
            ]
            mce = sum(ces[c] for c in used) / len(used)
            out.append(CorruptionErrorRow(model, seed, baseline, "mCE", mce, full))
    return out


def write_corruption_table(
    out: Path, rows: list[CorruptionRow], stem: str = "corruptions", baseline: str | None = None
) -> list[Path]:
    """``<stem>.csv`` and ``<stem>.json`` (a list of rows) in ``out``; with ``baseline`` also
    ``<stem>_ce.csv``/``.json`` (:func:`corruption_errors`); nothing when empty."""
    from resode.report import write_csv, write_json

    if not rows:
        return []
    dicts = [r.to_dict() for r in rows]
    paths = [write_csv(out / f"{stem}.csv", dicts), write_json(out / f"{stem}.json", dicts)]
    ce = [r.to_dict() for r in corruption_errors(rows, baseline)] if baseline else []
    if ce:
        paths += [write_csv(out / f"{stem}_ce.csv", ce), write_json(out / f"{stem}_ce.json", ce)]
    return paths


__all__ = [
    "TABLE_FILES",
    "CorruptionErrorRow",
    "CorruptionRow",
    "corruption_errors",
    "corruption_rows",
    "write_corruption_table",
]
