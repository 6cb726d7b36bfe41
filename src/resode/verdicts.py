"""The one verdict engine: every claim of both papers is judged here, with three outcomes.

Rule (δ the effect, [lo, hi] its confidence interval, r the reference, m > 0 the declared margin):

* ``"greater"``: reproduced if lo > r; else contradicted if hi < r + m (the interval excludes the
  smallest effect the claim needs, which includes lying wholly below r); else inconclusive.
  ``"less"`` mirrors it (hi < r; lo > r − m).
* ``"equivalent"`` (TOST): the (1 − 2α) interval; reproduced if r − m < lo and hi < r + m,
  contradicted if lo > r + m or hi < r − m, else inconclusive.
* Precedence: reproduced is tested first, so an effect significantly on the claimed side but
  smaller than the margin is reproduced, and the reason sentence says it is smaller.
* Fewer than two values in a group, a non-finite value (or a non-positive one on the log scale) or
  zero variance in *every* group gives CI (−inf, inf), MDE inf, no seeds estimate, and
  inconclusive. One flat group with the other varying is well defined for Welch (df = n − 1 of
  the varying group, the Satterthwaite limit) and is judged.
* Finer words (``Judgement.finding``, :data:`FINDINGS`): "shown at least the margin" (lo > r + m),
  "shown in the claimed direction" (r < lo ≤ r + m), "opposite direction" (hi < r), "smaller
  than the margin" (hi < r + m, lo ≤ r), "equivalent within the margin" / "outside the
  equivalence band" (TOST), "inconclusive"; each maps onto one verdict (:data:`FINDING_VERDICT`).
  :func:`p_values` gives the four one-sided p-values behind them (for Holm's adjustment in
  :mod:`resode.analysis_plan`).

Intervals: Welch t with Satterthwaite df (unpaired), t on per-seed differences (paired), one-sample
t against r (no baseline); t quantiles from ``scipy.stats.t``. ``scale="log"`` compares means of
log values (positive quantities such as ratios); effect, CI, MDE and margin are reported as ratios
exp(·); the margin is given as a ratio > 1 and ``reference`` in log units (0 = ratio 1).

Minimum detectable effect at power 0.8 (``POWER``), α = 1 − confidence, SE and df of this run:
directional claims MDE = (t_{1−α/2,df} + t_{0.8,df})·SE; equivalence claims MDE =
(t_{1−α,df} + t_{0.9,df})·SE, the smallest margin for which TOST at level α shows equivalence
with power 0.8 when the true difference is zero. ``seeds_needed`` is the smallest n per group
(same spread, df iterated) with MDE ≤ margin; more than ``SEEDS_CAP`` is stored as
``SEEDS_CAP + 1`` and written ">10000" by ``format_seeds``; None means no spread estimate.

JSON (``Judgement.to_dict``): non-finite floats are written as the strings "inf", "-inf", "nan"
(``float()`` reads them back; ``Judgement.from_dict`` does), so ``json.dumps(allow_nan=False)``
works. Verdict words are written only in ``VERDICTS``.

Accumulating evidence: this module judges one set of seeds (fixed n). When a run is judged
again after seeds were added, paper A's verdicts are read across the looks by the
group-sequential design of :mod:`resode.sequential` (repeated p-values on the same four one-sided
hypotheses, then Holm); the fixed-n judgement of each look stays beside it as the raw reading.

Beyond the spec (additions only): Judgement fields reference (reporting scale), direction, scale,
unit, level, df; ``to_dict`` adds ``seeds_needed_text``; a zero-width interval in
:func:`judge_interval` counts as zero variance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from resode.errors import ResodeError

VERDICTS = ("reproduced", "contradicted", "inconclusive")
REPRODUCED, CONTRADICTED, INCONCLUSIVE = VERDICTS
#: The finer words (``Judgement.finding``); each maps onto one verdict (:data:`FINDING_VERDICT`).
FINDINGS = (
    "shown at least the margin",
    "shown in the claimed direction",
    "smaller than the margin",
    "opposite direction",
    "equivalent within the margin",
    "outside the equivalence band",
    "inconclusive",
)
(
    SHOWN_MARGIN,
    SHOWN_DIRECTION,
    BELOW_MARGIN,
    OPPOSITE,
    EQUIVALENT,
    NOT_EQUIVALENT,
    NO_FINDING,
) = FINDINGS
FINDING_VERDICT = {
    SHOWN_MARGIN: REPRODUCED,
    SHOWN_DIRECTION: REPRODUCED,
    BELOW_MARGIN: CONTRADICTED,
    OPPOSITE: CONTRADICTED,
    EQUIVALENT: REPRODUCED,
    NOT_EQUIVALENT: CONTRADICTED,
    NO_FINDING: INCONCLUSIVE,
}
POWER = 0.8
SEEDS_CAP = 10_000
Direction = Literal["greater", "less", "equivalent"]
NO_CI = (-math.inf, math.inf)


@dataclass(frozen=True)
class Claim:
    """A claim: ``direction`` of the effect against ``reference``, needing at least ``margin``."""

    name: str
    text: str
    direction: Direction
    margin: float
    reference: float = 0.0
    unit: str = ""
    scale: Literal["linear", "log"] = "linear"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.direction not in ("greater", "less", "equivalent"):
            raise ResodeError(
                f"claim {self.name!r}: direction {self.direction!r} is unknown; "
                "use 'greater', 'less' or 'equivalent'"
            )
        if self.scale not in ("linear", "log"):
            raise ResodeError(f"claim {self.name!r}: scale {self.scale!r}; use 'linear' or 'log'")
        low = 1.0 if self.scale == "log" else 0.0
        if not (math.isfinite(self.margin) and self.margin > low):
            raise ResodeError(
                f"claim {self.name!r}: margin {self.margin} must be finite and > "
                f"{low:g}" + (" (a ratio, e.g. 1.1)" if low else "")
            )
        if not 0.5 < self.confidence < 1.0:
            raise ResodeError(
                f"claim {self.name!r}: confidence {self.confidence} must lie in (0.5, 1), e.g. 0.95"
            )

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def level(self) -> float:
        """Level of the interval judged: 1 − 2α for equivalence (TOST), else 1 − α."""
        return 1.0 - 2.0 * self.alpha if self.direction == "equivalent" else self.confidence

    @property
    def margin_a(self) -> float:
        """The margin on the analysis scale (log of the ratio on the log scale)."""
        return math.log(self.margin) if self.scale == "log" else self.margin


@dataclass(frozen=True)
class Judgement:
    """The verdict on one claim; effect, ci, margin, MDE on the reporting scale (ratios if log)."""

    claim: str
    verdict: str
    effect: float
    ci: tuple[float, float]
    margin: float
    min_detectable_effect: float
    n_seeds: tuple[int, ...]
    test: str
    seeds_needed: int | None
    reason: str
    reference: float = 0.0
    direction: str = "greater"
    scale: str = "linear"
    unit: str = ""
    level: float = 0.95
    df: float = math.nan
    finding: str = NO_FINDING
    p_values: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite floats as "inf"/"-inf"/"nan" strings."""
        d = asdict(self)
        for k in ("effect", "margin", "min_detectable_effect", "reference", "level", "df"):
            d[k] = _jf(d[k])
        d["ci"] = [_jf(x) for x in self.ci]
        d["n_seeds"] = list(self.n_seeds)
        d["p_values"] = [_jf(x) for x in self.p_values]
        d["seeds_needed_text"] = format_seeds(self.seeds_needed)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Judgement:
        """Inverse of :meth:`to_dict`."""
        kw = {k: v for k, v in d.items() if k != "seeds_needed_text"}
        for k in ("effect", "margin", "min_detectable_effect", "reference", "level", "df"):
            kw[k] = float(kw[k])
        kw["ci"] = (float(d["ci"][0]), float(d["ci"][1]))
        kw["n_seeds"] = tuple(d["n_seeds"])
        if "p_values" in d:
            kw["p_values"] = tuple(float(x) for x in d["p_values"])
        return cls(**kw)


def _jf(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


def welch_df(v1: float, n1: int, v2: float, n2: int) -> float:
    """Satterthwaite df = (v1/n1 + v2/n2)² / ((v1/n1)²/(n1−1) + (v2/n2)²/(n2−1)), v = s²."""
    a, b = v1 / n1, v2 / n2
    return (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))


def min_detectable_effect(
    se: float,
    df: float,
    *,
    confidence: float = 0.95,
    equivalence: bool = False,
    power: float = POWER,
) -> float:
    """(t_{1−α/2,df} + t_{power,df})·SE, or (t_{1−α,df} + t_{(1+power)/2,df})·SE for TOST."""
    if not (math.isfinite(se) and se > 0 and df > 0):
        return math.inf
    alpha = 1.0 - confidence
    if equivalence:
        q = stats.t.ppf(1 - alpha, df) + stats.t.ppf((1 + power) / 2, df)
    else:
        q = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    return float(q * se)


def seeds_to_detect(
    sd: float | tuple[float, float],
    margin: float,
    *,
    confidence: float = 0.95,
    equivalence: bool = False,
    power: float = POWER,
    df_lost: float = 1.0,
    cap: int = SEEDS_CAP,
) -> int | None:
    """Smallest n per group with MDE(n) ≤ ``margin`` (analysis scale: log units for log claims).

    ``sd`` a number: one sample (or paired differences), SE = sd/√n, df = n − ``df_lost``.
    ``sd`` a pair (s1, s2): two groups of n each, SE = √((s1² + s2²)/n), Satterthwaite
    df = (n − 1)(s1² + s2²)² / (s1⁴ + s2⁴). None without a positive finite spread;
    ``cap + 1`` when even ``cap`` seeds are not enough. MDE(n) decreases in n: bisection.
    """
    sds = sd if isinstance(sd, tuple) else (sd,)
    if not all(math.isfinite(s) and s >= 0 for s in sds) or not max(sds) > 0 or not margin > 0:
        return None

    def mde(n: int) -> float:
        if len(sds) == 2:
            v1, v2 = sds[0] ** 2, sds[1] ** 2
            se, df = math.sqrt((v1 + v2) / n), (n - 1) * (v1 + v2) ** 2 / (v1 * v1 + v2 * v2)
            # one group without spread: df = n − 1 (the limit of the Satterthwaite formula)
        else:
            se, df = sds[0] / math.sqrt(n), n - df_lost
        return min_detectable_effect(
            se, df, confidence=confidence, equivalence=equivalence, power=power
        )

    lo, hi = max(2, math.floor(df_lost) + 1), cap
    if mde(hi) > margin:
        return cap + 1
    while lo < hi:  # invariant: mde(hi) <= margin
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if mde(mid) <= margin else (mid + 1, hi)
    return hi


def format_seeds(n: int | None, cap: int = SEEDS_CAP) -> str:
    """Seeds as text: "12", ">10000" (more than ``cap``) or "unknown" (no spread estimate)."""
    return "unknown" if n is None else (f">{cap}" if n > cap else str(n))


def _values(x: Iterable[float], log: bool) -> np.ndarray:
    a = np.asarray(list(x), dtype=float).ravel()
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), np.nan)
    return a


def _problem(groups: Sequence[np.ndarray], log: bool) -> str | None:
    """Why no interval can be computed from these groups, or None."""
    if any(len(g) < 2 for g in groups):
        return "fewer than two seeds in a group"
    if any(not np.all(np.isfinite(g)) for g in groups):
        return "a non-positive or non-finite value" if log else "a non-finite value"
    flat = [float(np.std(g, ddof=1)) <= 1e-12 * abs(float(np.mean(g))) for g in groups]
    if all(flat):  # Welch stays defined while one group varies (SE from the other alone)
        return "zero variance across seeds" + (" in every group" if len(groups) > 1 else "")
    return None


def judge(
    claim: Claim,
    treatment: Sequence[float],
    baseline: Sequence[float] | None = None,
    *,
    paired: bool = False,
) -> Judgement:
    """Judge ``claim`` on per-seed values: effect = mean(treatment) − mean(baseline).

    No baseline: one-sample t of treatment against ``claim.reference``, SE = s/√n, df = n − 1.
    Unpaired: Welch, SE = √(s_t²/n_t + s_b²/n_b), Satterthwaite df (:func:`welch_df`).
    Paired: one-sample t on the per-seed differences (equal lengths required).
    Interval: effect ± t_{(1+level)/2, df}·SE (level = 1 − 2α for "equivalent").
    """
    log = claim.scale == "log"
    t = _values(treatment, log)
    tag = ", TOST" if claim.direction == "equivalent" else ""
    tag += " on log values" if log else ""
    if baseline is None:
        if paired:
            raise ResodeError(
                f"claim {claim.name!r}: paired=True needs a baseline; pass one or drop paired"
            )
        groups, n_seeds = [t], (len(t),)
        effect = float(np.mean(t)) if len(t) else math.nan
        test = "one-sample t"
    else:
        b = _values(baseline, log)
        if paired and len(t) != len(b):
            raise ResodeError(
                f"claim {claim.name!r}: paired test needs equal seed counts, got "
                f"{len(t)} and {len(b)}; pair the seeds or use paired=False"
            )
        groups = [t - b] if paired else [t, b]
        n_seeds = (len(t), len(b))
        effect = float(np.mean(t) - np.mean(b)) if len(t) and len(b) else math.nan
        test = "paired t" if paired else "Welch t"
    problem = _problem(groups, log)
    if problem:
        return _judgement(
            claim, effect, NO_CI, math.inf, math.nan, n_seeds, test + tag, None, problem
        )
    v = [float(np.var(g, ddof=1)) for g in groups]
    v = [0.0 if x <= 1e-24 * float(np.mean(g)) ** 2 else x for x, g in zip(v, groups, strict=True)]
    sd: float | tuple[float, float]
    if len(groups) == 2:
        se, df = math.sqrt(v[0] / len(t) + v[1] / len(b)), welch_df(v[0], len(t), v[1], len(b))
        sd = (math.sqrt(v[0]), math.sqrt(v[1]))
        test += f", Satterthwaite df={df:.3g}"
    else:
        se, df, sd = math.sqrt(v[0] / len(groups[0])), len(groups[0]) - 1.0, math.sqrt(v[0])
        test += f", df={df:g}"
    h = float(stats.t.ppf((1 + claim.level) / 2, df)) * se
    eq = claim.direction == "equivalent"
    mde = min_detectable_effect(se, df, confidence=claim.confidence, equivalence=eq)
    need = seeds_to_detect(sd, claim.margin_a, confidence=claim.confidence, equivalence=eq)
    return _judgement(claim, effect, (effect - h, effect + h), mde, df, n_seeds, test + tag, need)


def judge_interval(
    claim: Claim,
    estimate: float,
    lo: float,
    hi: float,
    *,
    n: int,
    test: str,
    se: float | None = None,
    df: float | None = None,
) -> Judgement:
    """The same three-way rule on an interval computed elsewhere (e.g. a fitted slope's t CI).

    [lo, hi] must be at ``claim.level`` (two-sided ``confidence``; 1 − 2α for "equivalent"); on
    the log scale estimate, lo, hi are ratios and ``se`` is in log units. Without ``se`` it is
    recovered as SE = (hi − lo)/(2·q), q the t_df (normal if df is None) quantile of that level.
    seeds_needed scales SE as 1/√n with df = n − (given n − df).
    """
    log = claim.scale == "log"
    est, a, b = (float(v) for v in _values([estimate, lo, hi], log))
    why = _interval_problem(n, est, a, b, se)
    if why:
        return _judgement(claim, est, NO_CI, math.inf, math.nan, (n,), test, None, why)
    dist = stats.norm if df is None else stats.t(df)
    if se is None:
        se = (b - a) / (2.0 * float(dist.ppf((1 + claim.level) / 2)))
    eq = claim.direction == "equivalent"
    dfe = math.inf if df is None else df
    mde = min_detectable_effect(se, dfe, confidence=claim.confidence, equivalence=eq)
    lost = 1.0 if df is None else n - df
    need = seeds_to_detect(
        se * math.sqrt(n), claim.margin_a, confidence=claim.confidence, equivalence=eq, df_lost=lost
    )
    return _judgement(claim, est, (a, b), mde, dfe, (n,), test, need)


def _interval_problem(n: int, est: float, lo: float, hi: float, se: float | None) -> str | None:
    """Why a given interval cannot be judged (the rules of :func:`_problem`), or None."""
    if n < 2:
        return "fewer than two seeds"
    if not all(map(math.isfinite, (est, lo, hi))) or lo > hi:
        return "a non-finite, non-positive (log scale) or disordered interval"
    if lo == hi or se == 0.0:
        return "a zero-width interval"
    return None


def _target(claim: Claim) -> str:
    """What the claim needs, on the reporting scale: the margin or the equivalence band."""
    r, m = claim.reference, claim.margin_a
    if claim.direction == "equivalent":
        lo, hi = _num(claim, r - m, unit=False), _num(claim, r + m, unit=False)
        return f"the equivalence band [{lo}, {hi}]{_suffix(claim)}"
    s = 1.0 if claim.direction == "greater" else -1.0
    return f"the margin {_num(claim, r + s * m, signed=True)}"


def _decide(claim: Claim, est: float, lo: float, hi: float) -> tuple[str, str]:
    """(verdict, why) of the rule in the module docstring; all on the analysis scale."""
    r, m = claim.reference, claim.margin_a
    if claim.direction == "equivalent":
        band = _target(claim)
        if r - m < lo and hi < r + m:
            return REPRODUCED, f"lies inside {band}"
        if lo > r + m or hi < r - m:
            return CONTRADICTED, f"lies entirely outside {band}"
        return INCONCLUSIVE, f"reaches across an edge of {band}"
    s = 1.0 if claim.direction == "greater" else -1.0
    low, high, e = (lo - r, hi - r, est - r) if s > 0 else (r - hi, r - lo, r - est)
    side, other = ("above", "below") if s > 0 else ("below", "above")
    ref, need = _num(claim, r), _target(claim)
    if low > 0:
        if high < m:
            return REPRODUCED, (
                f"lies {side} {ref}, but wholly {other} {need}: "
                "the effect is smaller than the claim's margin"
            )
        how = "is " + other if e < m else "reaches"
        return REPRODUCED, f"lies {side} {ref}, and the estimate {how} {need}"
    if high < 0:
        return CONTRADICTED, f"lies {other} {ref}, opposite to the claim ({need})"
    if high < m:
        return CONTRADICTED, f"excludes {need} that the claim needs"
    return INCONCLUSIVE, f"contains {ref} and reaches {need}"


def ratio_text(x: float) -> str:
    """A ratio with enough significant digits that one that is not exactly 1 never reads "1"
    (3 digits, plus as many as ``|x − 1|`` needs: 1.0015 → "1.002", 34.2 → "34.2")."""
    if not math.isfinite(x) or x == 1.0 or x <= 0:
        return f"{x:.3g}"
    d = 3 + max(0, -math.floor(math.log10(abs(x - 1.0))) - 2)
    return f"{x:.{min(d, 12)}g}"


def _num(claim: Claim, x: float, signed: bool = False, unit: bool = True) -> str:
    """Format an analysis-scale value on the reporting scale: exp(x)× if log, else x unit."""
    if claim.scale == "log":
        text = ratio_text(math.exp(x)) if math.isfinite(x) else f"{math.exp(x):.3g}"
    else:
        text = f"{x:+.3g}" if signed else f"{x:.3g}"
    return text + (_suffix(claim) if unit else "")


def p_values(
    claim: Claim, est: float, ci: tuple[float, float], df: float
) -> tuple[float, float, float, float]:
    """(p_for, p_margin, p_against, p_opposite), each scaled so that p < α ⟺ the raw rule.

    Directional (e = effect − r on the claimed side, SE from the CI, T the t_df law):
    p_for = 2·P(T ≥ e/SE) (H₀: effect ≤ r, none in the claimed direction); p_margin =
    2·P(T ≥ (e − m)/SE) (H₀: effect < margin); p_against = 2·P(T ≥ (m − e)/SE) (H₀: effect ≥
    margin); p_opposite = 2·P(T ≥ −e/SE) (H₀: effect ≥ r). The factor 2 makes p < α exactly the
    two-sided (1 − α) interval's statement. Equivalence (TOST, one-sided α each):
    p_for = p_margin = max of the two one-sided p's (H₀: outside the band); p_against =
    p_opposite = min of P(T ≥ (e − m)/SE), P(T ≥ (−e − m)/SE) (H₀: inside the band).
    No interval: all 1.
    """
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        return (1.0, 1.0, 1.0, 1.0)
    dist = stats.norm if not math.isfinite(df) else stats.t(df)
    se = (hi - lo) / (2.0 * float(dist.ppf((1 + claim.level) / 2)))
    r, m = claim.reference, claim.margin_a

    def sf(z: float) -> float:
        return float(dist.sf(z))

    if claim.direction == "equivalent":
        e = est - r
        p_in = max(sf((e + m) / se), sf((m - e) / se))
        p_out = min(sf((e - m) / se), sf((-e - m) / se))
        return (p_in, p_in, p_out, p_out)
    e = (est - r) if claim.direction == "greater" else (r - est)
    return tuple(min(1.0, 2.0 * sf(z)) for z in (e / se, (e - m) / se, (m - e) / se, -e / se))  # type: ignore[return-value]


def finding_from_p(direction: str, p: Sequence[float], alpha: float) -> str:
    """The finer word from (p_for, p_margin, p_against, p_opposite) at level α (strict <)."""
    p_for, p_margin, p_against, p_opposite = p
    if direction == "equivalent":
        return (
            EQUIVALENT if p_for < alpha else (NOT_EQUIVALENT if p_against < alpha else NO_FINDING)
        )
    if p_margin < alpha:
        return SHOWN_MARGIN
    if p_for < alpha:
        return SHOWN_DIRECTION
    if p_opposite < alpha:
        return OPPOSITE
    if p_against < alpha:
        return BELOW_MARGIN
    return NO_FINDING


def _suffix(claim: Claim) -> str:
    return f" {claim.unit}" if claim.unit else ("×" if claim.scale == "log" else "")


def _judgement(
    claim: Claim,
    est: float,
    ci: tuple[float, float],
    mde: float,
    df: float,
    n_seeds: tuple[int, ...],
    test: str,
    need: int | None,
    problem: str | None = None,
) -> Judgement:
    """Assemble the Judgement and its one-sentence reason (analysis-scale inputs)."""
    pct = f"{100 * claim.level:.3g} %"
    pv = (1.0, 1.0, 1.0, 1.0) if problem else p_values(claim, est, ci, df)
    finding = finding_from_p(claim.direction, pv, claim.alpha)
    if problem:
        verdict = INCONCLUSIVE
        why = f"no interval ({problem}), so this run cannot tell whether it meets {_target(claim)}"
    else:
        verdict, why = _decide(claim, est, *ci)
        lo, hi = (_num(claim, x, unit=False) for x in ci)
        why = f"{pct} CI [{lo}, {hi}]{_suffix(claim)} ({test}) {why}"
    if FINDING_VERDICT[finding] != verdict:  # an interval endpoint exactly on r or r ± m
        finding = {REPRODUCED: SHOWN_DIRECTION, CONTRADICTED: BELOW_MARGIN}.get(verdict, NO_FINDING)
        if claim.direction == "equivalent" and verdict != INCONCLUSIVE:
            finding = EQUIVALENT if verdict == REPRODUCED else NOT_EQUIVALENT
    head = verdict if finding == NO_FINDING else f"{verdict} ({finding})"
    reason = f"{head}: effect {_num(claim, est, signed=True)}, {why}"
    if verdict == INCONCLUSIVE:
        reason += (
            f"; minimum detectable effect "
            f"{_num(claim, mde) if math.isfinite(mde) else 'not estimable'}, "
            f"seeds per group to detect the margin: {format_seeds(need)}"
        )
    if claim.scale == "log":
        reason += " (compared on the log scale; effect, CI and margin are ratios)"
    out = math.exp if claim.scale == "log" else float
    return Judgement(
        claim=claim.name,
        verdict=verdict,
        effect=out(est),
        ci=(out(ci[0]), out(ci[1])),
        margin=claim.margin,
        min_detectable_effect=out(mde),
        n_seeds=n_seeds,
        test=test,
        seeds_needed=need,
        reason=reason + ".",
        reference=out(claim.reference),
        direction=claim.direction,
        scale=claim.scale,
        unit=claim.unit,
        level=round(claim.level, 12),
        df=df,
        finding=finding,
        p_values=pv,
    )


def format_judgement(j: Judgement) -> str:
    """One line for a report: ``claim: reason``."""
    return f"{j.claim}: {j.reason}"


def summary_rows(judgements: Iterable[Judgement]) -> list[dict[str, str]]:
    """Table rows: claim, verdict, effect, ci, margin, mde, n_seeds, seeds_needed, test."""
    rows = []
    for j in judgements:
        f = ratio_text if j.scale == "log" else (lambda x: f"{x:+.3g}")
        rows.append(
            {
                "claim": j.claim,
                "verdict": j.verdict,
                "effect": f(j.effect),
                "ci": f"[{f(j.ci[0])}, {f(j.ci[1])}]",
                "margin": f"{j.margin:g}",
                "mde": f"{j.min_detectable_effect:.3g}",
                "n_seeds": "/".join(map(str, j.n_seeds)),
                "seeds_needed": format_seeds(j.seeds_needed),
                "test": j.test,
            }
        )
    return rows
