"""Operating characteristics of the verdict engine: P(finding | true effect) by simulation.

For a two-group Welch design with n per group and per-group spreads (s_t, s_b), draw normal
per-seed values with true effect δ ∈ {opposite, 0, m/2, m, 2m} (opposite = −m, m the margin),
judge each draw with :func:`resode.verdicts.judge` and count the findings. Deterministic for a
given ``seed`` (``numpy.random.default_rng``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resode.verdicts import FINDINGS, Claim, judge

#: true effects in units of the margin, with their labels
EFFECTS: tuple[tuple[str, float], ...] = (
    ("opposite (−m)", -1.0),
    ("0", 0.0),
    ("m/2", 0.5),
    ("m", 1.0),
    ("2m", 2.0),
)


@dataclass(frozen=True)
class OCRow:
    """P(finding) at one true effect (fractions over ``draws``)."""

    effect_label: str
    effect: float
    probabilities: dict[str, float]
    draws: int


def operating_characteristics(
    claim: Claim,
    n: int,
    sd: tuple[float, float],
    *,
    draws: int = 2000,
    seed: int = 0,
    effects: Sequence[tuple[str, float]] = EFFECTS,
) -> list[OCRow]:
    """P(each finding | δ) for a linear-scale directional claim, n seeds per group."""
    rng = np.random.default_rng(seed)
    sign = -1.0 if claim.direction == "less" else 1.0
    rows = []
    for label, k in effects:
        delta = claim.reference + sign * k * claim.margin
        counts: Counter[str] = Counter()
        for _ in range(draws):
            b = rng.normal(0.0, sd[1], n)
            t = rng.normal(delta, sd[0], n)
            counts[judge(claim, t, b).finding] += 1
        rows.append(OCRow(label, delta, {f: counts[f] / draws for f in FINDINGS}, draws))
    return rows


__all__ = ["EFFECTS", "OCRow", "operating_characteristics"]
