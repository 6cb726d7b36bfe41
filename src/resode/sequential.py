"""Accumulating evidence: a group-sequential design, so a run may be judged, extended, re-judged.

``resode reproduce --out RUN --resume --paper-a.seeds 0 … 7`` adds seeds to a finished run and
judges it again. Each judgement is a *look* (recorded in ``RUN/looks.json``). A user who looks,
sees "inconclusive" and adds seeds is optional stopping: judging every look with the fixed-n rule
of :mod:`resode.verdicts` would make a confident wrong verdict more likely than α (measured in
``docs/operating_characteristics.md``). So every paper-A verdict is read through a pre-registered
**group-sequential design with a Lan–DeMets α-spending function** (:class:`Design`, declared in
:data:`resode.analysis_plan.SEQUENTIAL`):

* Information at a look: t = n/n_max, n the seeds per group (the harmonic mean 2·n₁n₂/(n₁ + n₂)
  for two groups of unequal size), n_max declared in the plan; t is capped at 1.
* Spending (power family, Kim & DeMets 1987; Jennison & Turnbull 2000, §7.2): each one-sided
  hypothesis of the verdict rule may spend α₁(t) = a·t^ρ by information t, where a is its
  one-sided level (α/2 for a directional statement, α for each half of TOST, as in the fixed
  rule). ρ < 1 spends *early*: the first look of an unextended run keeps most of α (see
  :meth:`Design.first_look_cost`), the price is paid by the extensions.
* Boundaries: c₁ = Φ⁻¹(1 − α₁(t₁)); c_k solves P(Z₁ < c₁, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) =
  α₁(t_k) − α₁(t_{k−1}) for the canonical joint law of Z_k = W(t_k)/√t_k (W a Brownian motion),
  by recursive numerical integration (Armitage, McPherson & Rowe 1969) on a Simpson grid. The
  boundaries are *non-binding*: stopping for any other reason (a confident verdict on another
  hypothesis, or giving up) only lowers the error.
* Statistics: each look's t statistic (Welch / one-sample, its own df) is mapped to the z scale
  through its nominal p-value, Z_k = Φ⁻¹(F_t(T_k; df_k)) (the "significance level approach",
  Jennison & Turnbull §3.8); its marginal law under H₀ is exact, the joint law approximate (the
  simulation in :mod:`resode.analysis.operating` measures it).
* Repeated p-value (Jennison & Turnbull §9.1): q_K = inf{a : Z_k ≥ c_k(a) for some k ≤ K}. For
  every a, P(q_K ≤ a for some K) ≤ a, so q is a valid p-value at any look the user stops at, and
  Holm's step-down (:func:`resode.analysis_plan.adjust`) applies to it unchanged: the headline
  verdict is sequential *and* family-wise. Once a boundary is crossed the finding stays
  (``decided_at``); later seeds are reported beside it but cannot undo it.

Why not an anytime-valid confidence sequence: with unknown variance the exact one (Lai's 1976
scale-invariant mixture, a t-type CS) is ≈ 2–3× as wide as the fixed-n interval at 4 seeds per
group (:func:`confidence_sequence_halfwidth`, printed by the benchmark), so the first look of
every run would lose most of its power; the group-sequential design costs the first look far
less. What the design assumes, honestly: (1) the per-seed values are close to normal (as every
t interval here assumes); (2) *when* to look (how many seeds to add) is not chosen from the
observed effect — adding seeds because the verdict is inconclusive is fine (that is the design),
but choosing 2 more seeds when the estimate is just short of the boundary and 20 when it is far
can inflate the error somewhat (Proschan, Follmann & Waclawiw 1992); a confidence sequence would
not have that caveat; (3) n ≤ n_max: a look beyond n_max has no α left (its boundary is +∞) and
cannot change a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, stats

from resode.verdicts import FINDING_VERDICT, NO_FINDING, Judgement, finding_from_p

#: grid points of the recursive integration (odd: Simpson's rule)
GRID = 241
#: lower end of the integration grid on the z scale (P(Z < −10) ≈ 8e−24)
Z_LOW = -10.0
#: the smallest repeated p-value resolved (smaller ones are reported as this)
P_FLOOR = 1e-9


@dataclass(frozen=True)
class Design:
    """A group-sequential design: Lan–DeMets power-family spending a·t^ρ up to ``n_max``."""

    n_max: int = 16
    rho: float = 0.15
    method: str = (
        "group-sequential: Lan–DeMets α-spending, power family a·t^ρ over t = n/n_max "
        "(non-binding one-sided boundaries, repeated p-values, then Holm)"
    )

    def __post_init__(self) -> None:
        if self.n_max < 2 or not (0 < self.rho <= 5):
            raise ValueError(f"sequential design: n_max {self.n_max} ≥ 2, ρ {self.rho} in (0, 5]")

    def information(self, n_seeds: Sequence[int]) -> float:
        """t = n/n_max (two groups: harmonic mean of their sizes), capped at 1."""
        return information(n_seeds, self.n_max)

    def spent(self, t: float, a: float) -> float:
        """Cumulative one-sided α spent by information t at one-sided level a: a·min(t, 1)^ρ."""
        return a * min(max(t, 0.0), 1.0) ** self.rho

    def boundaries(self, ts: Sequence[float], a: float) -> tuple[float, ...]:
        """One-sided z boundaries c_k at looks of information ``ts`` (increasing) and level a."""
        return boundaries(tuple(ts), a, self.rho)

    def nominal_levels(self, ts: Sequence[float], a: float) -> tuple[float, ...]:
        """The nominal one-sided p-value each look must beat: 1 − Φ(c_k)."""
        return tuple(float(stats.norm.sf(c)) for c in self.boundaries(ts, a))

    def first_look_cost(self, n: int, alpha: float = 0.05) -> float:
        """The two-sided level a first look at n seeds per group is judged at (α today)."""
        return self.spent(n / self.n_max, alpha / 2) * 2


def information(n_seeds: Sequence[int], n_max: int) -> float:
    """t = n/n_max, n = the group size (harmonic mean 2ab/(a + b) for two groups), ≤ 1."""
    ns = [int(x) for x in n_seeds]
    if not ns or min(ns) <= 0:
        return 0.0
    n = ns[0] if len(ns) == 1 else len(ns) / sum(1.0 / x for x in ns)
    return min(1.0, n / n_max)


def _simpson(z: np.ndarray) -> np.ndarray:
    """Simpson weights on the equally spaced odd-length grid ``z``."""
    h = (z[-1] - z[0]) / (len(z) - 1)
    w = np.ones(len(z))
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


@lru_cache(maxsize=4096)
def boundaries(ts: tuple[float, ...], a: float, rho: float) -> tuple[float, ...]:
    """c_k for cumulative one-sided spending a·t_k^ρ (module docstring); +inf where a look
    spends nothing (t not larger than the last look's, or nothing left)."""
    out: list[float] = []
    z = w = g = None  # grid, weights, sub-density of the surviving paths at the last look
    t_prev, spent_prev = 0.0, 0.0
    for t in ts:
        spent = a * min(t, 1.0) ** rho
        inc = spent - spent_prev
        if t <= t_prev or inc <= 1e-15:
            out.append(math.inf)
            continue
        if g is None:  # first look that spends: Z ~ N(0, 1)
            c = float(stats.norm.isf(inc))
            z = np.linspace(Z_LOW, c, GRID)
            w, g = _simpson(z), stats.norm.pdf(z)
        else:
            assert z is not None and w is not None
            sd = math.sqrt(t - t_prev)
            mean = z * math.sqrt(t_prev)  # S = Z·√t, S_k = S_{k−1} + N(0, t_k − t_{k−1})
            mass = w * g

            rt = math.sqrt(t)

            def cross(
                c: float, mean: np.ndarray = mean, sd: float = sd, mass=mass, rt=rt, inc=inc
            ) -> float:  # P(survived so far, Z_k ≥ c) − the increment to spend
                return float(mass @ stats.norm.sf((c * rt - mean) / sd)) - inc

            hi = 40.0
            c = -10.0 if cross(-10.0) <= 0 else float(optimize.brentq(cross, -10.0, hi))
            znew = np.linspace(Z_LOW, c, GRID)
            dens = stats.norm.pdf((znew[:, None] * math.sqrt(t) - mean[None, :]) / sd)
            g = dens @ mass * (math.sqrt(t) / sd)
            z, w = znew, _simpson(znew)
        out.append(c)
        t_prev, spent_prev = t, spent
    return tuple(out)


def z_of_t(tstat: float, df: float) -> float:
    """The z with the same one-sided p-value as ``tstat`` on ``df`` degrees of freedom."""
    if not math.isfinite(tstat):
        return tstat if not math.isnan(tstat) else -math.inf
    if not (df > 0):
        return -math.inf
    if not math.isfinite(df):
        return float(tstat)
    return float(stats.norm.isf(stats.t.sf(tstat, df)))


def crossing_levels(zs: Sequence[float], ts: Sequence[float], rho: float) -> list[float]:
    """Per look k, the smallest one-sided level a whose boundary c_k(a) the observed z_k meets
    (1 where none ≤ 0.5 does, or the look adds no information); q_K = min over k ≤ K."""
    ts = _mono(ts)
    out = []
    for k, zk in enumerate(zs):
        if not zk > 0 or ts[k] <= (ts[k - 1] if k else 0.0):
            out.append(1.0)
            continue
        if k == 0:  # closed form: a·t₁^ρ = 1 − Φ(z₁)
            a = float(stats.norm.sf(zk)) / ts[0] ** rho
        else:
            prefix = ts[: k + 1]

            def gap(la: float, prefix: tuple[float, ...] = prefix, zk: float = zk) -> float:
                return boundaries(prefix, math.exp(la), rho)[-1] - zk

            lo, hi = math.log(P_FLOOR), math.log(0.5)
            if gap(hi) > 0:  # not even a = 0.5 crosses here
                out.append(1.0)
                continue
            a = P_FLOOR if gap(lo) <= 0 else math.exp(optimize.brentq(gap, lo, hi, xtol=1e-7))
        out.append(max(a, P_FLOOR) if a <= 0.5 else 1.0)
    return out


def repeated_p(zs: Sequence[float], ts: Sequence[float], rho: float) -> float:
    """One-sided repeated p-value q = inf{a ≤ 0.5 : z_k ≥ c_k(a) for some k} (else 1)."""
    return min(crossing_levels(zs, ts, rho), default=1.0)


def confidence_sequence_halfwidth(n: int, sd: float = 1.0, alpha: float = 0.05, c: float = 0.1):
    """Half-width of Lai's (1976) anytime-valid CS for a normal mean with unknown variance at
    n observations of sample sd ``sd`` (mixture precision ``c``): {μ : M_n(μ) < 1/α} with
    M_n = √(c/(n+c))·(1 − S²/((n+c)V))^{−n/2}, S = Σ(xᵢ − μ), V = Σ(xᵢ − μ)². inf if unbounded.
    (Used only to state what the alternative would cost.)"""
    q = (alpha * math.sqrt(c / (n + c))) ** (2.0 / n)
    k = (1.0 - q) * (n + c)
    if n <= k:
        return math.inf
    ss = (n - 1) * sd * sd
    return math.sqrt(k * ss / (n * (n - k)))


# ---- one claim's statistic at one look, and its sequential reading -----------------------------


@dataclass(frozen=True)
class LookStat:
    """One claim's statistic at one look, on the analysis scale (log units for log claims):
    the effect, its standard error and df; ``voided`` (a masking red flag) counts as no
    evidence at that look."""

    n_seeds: tuple[int, ...]
    effect: float
    se: float
    df: float
    voided: bool = False

    @classmethod
    def of(cls, j: Judgement) -> LookStat:
        """From a :class:`~resode.verdicts.Judgement` (SE recovered from its interval)."""
        log = j.scale == "log"
        lo, hi = j.ci

        def a(x: float) -> float:
            if not log:
                return float(x)
            return math.log(x) if x > 0 else -math.inf

        est, alo, ahi = a(j.effect), a(lo), a(hi)
        se = math.inf
        if all(map(math.isfinite, (alo, ahi))) and ahi > alo and j.df > 0:
            q = stats.norm if not math.isfinite(j.df) else stats.t(j.df)
            se = (ahi - alo) / (2.0 * float(q.ppf((1 + j.level) / 2)))
        voided = tuple(j.p_values) == (1.0, 1.0, 1.0, 1.0) and math.isfinite(se)
        return cls(tuple(int(n) for n in j.n_seeds), est, se, float(j.df), voided)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_seeds": list(self.n_seeds),
            "effect": _jf(self.effect),
            "se": _jf(self.se),
            "df": _jf(self.df),
            "voided": self.voided,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LookStat:
        return cls(
            tuple(int(n) for n in d["n_seeds"]),
            float(d["effect"]),
            float(d["se"]),
            float(d["df"]),
            bool(d.get("voided", False)),
        )


def elementary_z(
    direction: str, reference: float, margin: float, s: LookStat
) -> tuple[float, float, float, float]:
    """The z statistics of the four one-sided tests behind the verdict rule (analysis scale).

    Directional (e = effect − r on the claimed side): (e, e − m, m − e, −e)/SE, i.e. for, margin,
    against, opposite. Equivalence: ((e + m), (m − e), (e − m), (−e − m))/SE — the two TOST
    halves, then the two out-of-band tests. Each t is mapped to z by :func:`z_of_t`.
    """
    if s.voided or not (math.isfinite(s.se) and s.se > 0 and math.isfinite(s.effect)):
        return (-math.inf,) * 4  # type: ignore[return-value]
    if direction == "equivalent":
        e = s.effect - reference
        ts = ((e + margin), (margin - e), (e - margin), (-e - margin))
    else:
        e = (s.effect - reference) if direction == "greater" else (reference - s.effect)
        ts = (e, e - margin, margin - e, -e)
    return tuple(z_of_t(x / s.se, s.df) for x in ts)  # type: ignore[return-value]


@dataclass(frozen=True)
class Reading:
    """The sequential reading of one claim at look ``look``: repeated p-values in the
    convention of :func:`resode.verdicts.p_values` (p < α ⟺ the statement), the finding and
    verdict they give at level α, and the first look whose data made that finding."""

    look: int
    p_values: tuple[float, float, float, float]
    finding: str
    verdict: str
    decided_at: int | None
    information: float
    nominal_level: float

    def judged(self, j: Judgement) -> Judgement:
        """``j`` with the sequential p-values, finding and verdict (what Holm adjusts)."""
        import dataclasses

        return dataclasses.replace(
            j, p_values=self.p_values, finding=self.finding, verdict=self.verdict
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "look": self.look,
            "p_values": [_jf(p) for p in self.p_values],
            "finding": self.finding,
            "verdict": self.verdict,
            "decided_at": self.decided_at,
            "information": self.information,
            "nominal_level": self.nominal_level,
        }


def _pvals(direction: str, q: Sequence[float]) -> tuple[float, float, float, float]:
    """Repeated one-sided q's → the four p-values of the verdict rule's convention."""
    if direction == "equivalent":
        p_in, p_out = max(q[0], q[1]), min(q[2], q[3])
        return (p_in, p_in, p_out, p_out)
    return tuple(min(1.0, 2.0 * x) for x in q)  # type: ignore[return-value]


def read(
    direction: str,
    reference: float,
    margin: float,
    history: Sequence[LookStat],
    design: Design,
    alpha: float,
) -> Reading:
    """The sequential reading after the looks ``history`` (oldest first) of one claim.

    A look whose information does not exceed an earlier one's adds nothing (the same data judged
    again) and is skipped by the boundaries. Directional p = 2·q (q one-sided, the fixed rule's
    factor 2); equivalence: p_for = max of the TOST halves' q, p_against = min of the other two.
    ``decided_at``: the first look by which the data already gave the final finding.
    """
    ts = _mono([design.information(s.n_seeds) for s in history])
    zs = [elementary_z(direction, reference, margin, s) for s in history]
    levels = [crossing_levels([z[i] for z in zs], ts, design.rho) for i in range(4)]

    def p_by(k: int) -> tuple[float, float, float, float]:
        return _pvals(direction, [min(lv[:k]) for lv in levels])

    p = p_by(len(history))
    finding = finding_from_p(direction, p, alpha)
    decided = None
    if finding != NO_FINDING:
        decided = next(
            k
            for k in range(1, len(history) + 1)
            if finding_from_p(direction, p_by(k), alpha) == finding
        )
    a1 = alpha if direction == "equivalent" else alpha / 2
    fresh = len(ts) == 1 or ts[-1] > ts[-2]
    nominal = design.nominal_levels(ts, a1)[-1] if fresh else 0.0
    return Reading(
        len(history), p, finding, FINDING_VERDICT[finding], decided, ts[-1], float(nominal)
    )


def _mono(ts: Sequence[float]) -> tuple[float, ...]:
    """Information levels made non-decreasing (a repeated look keeps the earlier level)."""
    out, run = [], 0.0
    for t in ts:
        run = max(run, t)
        out.append(run)
    return tuple(out)


def _jf(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


__all__ = [
    "Design",
    "LookStat",
    "Reading",
    "boundaries",
    "confidence_sequence_halfwidth",
    "crossing_levels",
    "elementary_z",
    "information",
    "read",
    "repeated_p",
    "z_of_t",
]
