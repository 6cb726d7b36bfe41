"""Intervals of robust accuracies: over images (Clopper–Pearson) and over training seeds (t).

* Over images, for k robust points out of n (exact binomial, Clopper & Pearson 1934):
  lo = B⁻¹(α/2; k, n − k + 1), hi = B⁻¹(1 − α/2; k + 1, n − k); lo = 0 at k = 0, hi = 1 at k = n.
* Over seeds, for per-seed accuracies a_1..a_S: ā ± t_{1−α/2, S−1}·s/√S (NaN for S < 2).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval of k/n (NaN, NaN for n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return (lo, hi)


def seed_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """t interval of the mean over seeds (NaN, NaN with fewer than two seeds)."""
    s = len(values)
    if s < 2:
        return (math.nan, math.nan)
    mean = sum(values) / s
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (s - 1))
    h = float(stats.t.ppf(1 - (1 - level) / 2, s - 1)) * sd / math.sqrt(s)
    return (mean - h, mean + h)


@dataclass
class AccuracyRow:
    """Robust accuracy of one model under one attack (``worst case`` = the per-point worst case
    over the declared set) at one ε: per seed, the mean, and both intervals."""

    model: str
    attack: str
    eps: str
    per_seed: list[float]
    n_images: int
    mean: float
    images_ci: tuple[float, float]
    seeds_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["images_ci"], d["seeds_ci"] = list(self.images_ci), list(self.seeds_ci)
        return d


def accuracy_row(
    model: str, attack: str, eps: str, per_seed: list[float], n_images: int, level: float = 0.95
) -> AccuracyRow:
    """Pools the seeds' robust counts over images (k = Σ round(a_s·n)) for the image interval."""
    k = sum(round(a * n_images) for a in per_seed)
    mean = sum(per_seed) / len(per_seed) if per_seed else math.nan
    return AccuracyRow(
        model,
        attack,
        eps,
        list(per_seed),
        n_images,
        mean,
        clopper_pearson(k, n_images * len(per_seed), level),
        seed_interval(per_seed, level),
    )


__all__ = ["AccuracyRow", "accuracy_row", "clopper_pearson", "seed_interval"]
