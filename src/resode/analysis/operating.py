"""Operating characteristics of the verdict engine: P(finding | true effect) by simulation.

For a two-group Welch design with n per group and per-group spreads (s_t, s_b), draw normal
per-seed values with true effect δ ∈ {opposite, 0, m/2, m, 2m} (opposite = −m, m the margin),
judge each draw with :func:`resode.verdicts.judge` and count the findings. Deterministic for a
given ``seed`` (``numpy.random.default_rng``).

:func:`optional_stopping`: the same draws watched growing — looks at n = 4, 6, 8, 12 seeds per
group, stopping at the first confident finding — for the plan's group-sequential design
(:mod:`resode.sequential`) and for naive repeated fixed-n testing; P(a confident wrong verdict)
is what the design must keep ≤ α.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from resode.sequential import Design
from resode.verdicts import FINDING_VERDICT, FINDINGS, NO_FINDING, REPRODUCED, Claim, judge

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


# ---- optional stopping: look at n = 4, 6, 8, 12, stop at the first confident verdict ----------

#: the looks of the optional-stopping simulation (seeds per group)
LOOKS: tuple[int, ...] = (4, 6, 8, 12)
#: the true effects under which a confident verdict can be wrong (units of the margin)
NULL_EFFECTS: tuple[tuple[str, float], ...] = (("opposite (−m)", -1.0), ("0", 0.0))
METHODS = ("sequential", "naive fixed-n", "one look")


@dataclass(frozen=True)
class StoppingRow:
    """One method at one true effect under optional stopping: P(a confident wrong verdict),
    P(any confident verdict), P(reproduced), and where the draws stopped (look n → fraction)."""

    method: str
    effect_label: str
    effect: float
    wrong: float
    confident: float
    reproduced: float
    stopped_at: dict[int, float]
    draws: int


def _wrong(finding: np.ndarray, e: float, m: float) -> np.ndarray:
    """Whether each finding states something false about the true effect e (claimed side)."""
    from resode.verdicts import BELOW_MARGIN, OPPOSITE, SHOWN_DIRECTION, SHOWN_MARGIN

    false = {
        SHOWN_MARGIN: e <= m,
        SHOWN_DIRECTION: e <= 0,
        OPPOSITE: e >= 0,
        BELOW_MARGIN: e >= m,
    }
    return np.isin(finding, [f for f, bad in false.items() if bad])


def _findings(flags: np.ndarray) -> np.ndarray:
    """The verdict rule's precedence on (for, margin, against, opposite) flags, per draw."""
    from resode.verdicts import (
        BELOW_MARGIN,
        NO_FINDING,
        OPPOSITE,
        SHOWN_DIRECTION,
        SHOWN_MARGIN,
    )

    f_for, f_margin, f_against, f_opp = flags
    return np.select(
        [f_margin, f_for, f_opp, f_against],
        [SHOWN_MARGIN, SHOWN_DIRECTION, OPPOSITE, BELOW_MARGIN],
        default=NO_FINDING,
    )


def welch_looks(t: np.ndarray, b: np.ndarray, looks: Sequence[int]) -> tuple[np.ndarray, ...]:
    """(effect, SE, df) per draw and look: Welch on the first n values of each row."""
    eff, se, df = [], [], []
    for n in looks:
        vt, vb = t[:, :n].var(axis=1, ddof=1) / n, b[:, :n].var(axis=1, ddof=1) / n
        eff.append(t[:, :n].mean(axis=1) - b[:, :n].mean(axis=1))
        se.append(np.sqrt(vt + vb))
        df.append((vt + vb) ** 2 / (vt**2 / (n - 1) + vb**2 / (n - 1)))
    return np.array(eff).T, np.array(se).T, np.array(df).T


def stopping_findings(
    claim: Claim, t: np.ndarray, b: np.ndarray, looks: Sequence[int], design: Design
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per method, (final finding, index of the stopping look or −1) of every draw (row) of
    per-seed values ``t`` (treated) and ``b`` (baseline) watched at n = ``looks``."""
    alpha, m, r = claim.alpha, claim.margin, claim.reference
    sign = -1.0 if claim.direction == "less" else 1.0
    ts = tuple(design.information((n, n)) for n in looks)
    c = np.array(design.boundaries(ts, alpha / 2))
    eff, se, df = welch_looks(t, b, looks)
    e = sign * (eff - r)
    tstat = np.stack([e / se, (e - m) / se, (m - e) / se, -e / se])  # (4, draws, looks)
    z = stats.norm.isf(stats.t.sf(tstat, df[None]))
    naive = tstat > stats.t.isf(alpha / 2, df)[None]
    flags = {
        "sequential": np.maximum.accumulate(z >= c[None, None, :], axis=2),
        "naive fixed-n": naive,
        "one look": np.concatenate(  # a fixed design of max(looks) seeds, judged once
            [np.zeros_like(naive[:, :, :-1]), naive[:, :, -1:]], axis=2
        ),
    }
    out = {}
    draws = len(t)
    for method in METHODS:
        per_look = np.stack([_findings(flags[method][:, :, j]) for j in range(len(looks))])
        confident = per_look != NO_FINDING  # (looks, draws)
        first = np.where(confident.any(axis=0), confident.argmax(axis=0), -1)
        final = np.where(first >= 0, per_look[np.maximum(first, 0), np.arange(draws)], NO_FINDING)
        out[method] = (final, first)
    return out


def optional_stopping(
    claim: Claim,
    sd: tuple[float, float],
    *,
    looks: Sequence[int] = LOOKS,
    design: Design | None = None,
    draws: int = 4000,
    seed: int = 0,
    effects: Sequence[tuple[str, float]] = NULL_EFFECTS,
) -> list[StoppingRow]:
    """Optional stopping by simulation, for a linear-scale directional claim judged by Welch t.

    Every draw looks at n = ``looks`` seeds per group (the same draw growing) and stops at the
    first look with a confident finding. "sequential": the plan's design (repeated p < α ⟺ a
    one-sided z_k ≥ c_k(α/2) by look k, :mod:`resode.sequential`); "naive fixed-n": each look
    judged alone by the fixed rule of :func:`resode.verdicts.judge` (p < α at that look);
    "one look": a fixed design of max(``looks``) seeds judged once (what planning the largest n
    from the start would give).
    """
    from resode.analysis_plan import SEQUENTIAL

    design = design or SEQUENTIAL
    if claim.direction == "equivalent" or claim.scale != "linear":
        raise ValueError("optional_stopping simulates linear directional claims")
    rng = np.random.default_rng(seed)
    sign = -1.0 if claim.direction == "less" else 1.0
    rows = []
    for label, k in effects:
        delta = claim.reference + sign * k * claim.margin
        b = rng.normal(0.0, sd[1], (draws, max(looks)))
        t = rng.normal(delta, sd[0], (draws, max(looks)))
        for method, (final, first) in stopping_findings(claim, t, b, looks, design).items():
            rows.append(
                StoppingRow(
                    method,
                    label,
                    delta,
                    float(np.mean(_wrong(final, k * claim.margin, claim.margin))),
                    float(np.mean(first >= 0)),
                    float(np.mean([FINDING_VERDICT[f] == REPRODUCED for f in final])),
                    {n: float(np.mean(first == j)) for j, n in enumerate(looks)},
                    draws,
                )
            )
    return rows


def tolerance(p: float, draws: int, k: float = 4.0) -> float:
    """k binomial standard errors of a probability p estimated from ``draws`` draws."""
    return k * math.sqrt(p * (1 - p) / draws)


__all__ = [
    "EFFECTS",
    "LOOKS",
    "NULL_EFFECTS",
    "OCRow",
    "StoppingRow",
    "operating_characteristics",
    "optional_stopping",
    "stopping_findings",
    "tolerance",
]
