"""The pre-registered analysis plan: what each claim is judged on, and how errors are controlled.

One declarative table (:data:`PLAN`), fixed before any run is looked at. Per claim: the primary
quantity, the direction, the margin with its provenance (a paper number, or a declared smallest
effect of interest with its reason), the test, the family and the role. Only ``primary`` entries
decide; ``secondary`` readings are reported beside them, raw, and never enter a family.

Family-wise control (:func:`adjust`): Holm's step-down at family-wise α = 0.05 within each
family (paper A's primary comparison; paper B), over the 2k primary hypotheses of its k claims —
per claim H₀^for (no effect in the claimed direction; rejecting it *shows the direction*) and
H₀^against (an effect at least the margin; rejecting it *shows it is smaller than the margin*);
for an equivalence claim H₀^for is "outside the band" (TOST) and H₀^against "inside the band".
Holm's adjusted p-values p̃_(j) = max_{i≤j} min(1, (M − i + 1)·p_(i)), M = 2k. The two
refinements (at least the margin; the opposite direction) are tested only after their parent is
rejected, with the parent's Holm multiplier: p̃_margin = max(p̃_for, min(1, c_for·p_margin)),
p̃_opposite = max(p̃_against, min(1, c_against·p_opposite)) — a hierarchical (gatekeeping) step
inside the closed family, since H₀^margin ⊇ H₀^for. The adjusted finding is the raw rule of
:func:`resode.verdicts.finding_from_p` applied to the adjusted p-values; it is the headline.

Accumulating evidence (:data:`SEQUENTIAL`): paper A's seeds may be added to a finished run and
the run judged again. Its p-values enter Holm as *repeated* p-values of the plan's
group-sequential design (Lan–DeMets α-spending, power family a·t^ρ, t = n/n_max;
:mod:`resode.sequential`), valid at whichever look the user stops; paper B's data do not grow
with seeds and keep their fixed-n p-values.

Lyapunov stability (paper A, ``lyapunov_stability``) is judged on perturbations actually
propagated from the input to h_B — random noise (``drift_noise``) and the FGSM direction
(``drift_adv``) — combined by the intersection–union rule: the claim holds only where *both*
show it (p = max of the components' p_for; an intersection–union test needs no adjustment). The
components are reported beside it as secondary rows. The product of per-block gains along
fresh random directions (``normalised_gain``) is neither a bound nor a propagated
perturbation: secondary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from resode.sequential import Design
from resode.verdicts import FINDING_VERDICT, NO_FINDING, Claim, Judgement, finding_from_p

ALPHA = 0.05
#: Accumulating evidence (paper A, whose seeds a run may add): the group-sequential design every
#: paper-A verdict is read with before Holm (:mod:`resode.sequential`): Lan–DeMets spending
#: a·t^ρ over t = n/n_max. ρ = 0.15 keeps most of α for the first look (the default's 8 of 16
#: seeds: two-sided 0.045 instead of 0.05; 4 seeds: 0.041); n_max = 16 seeds per group, twice
#: the default design (a larger design, like the README's 48-seed run, is judged in one look).
SEQUENTIAL = Design(n_max=16, rho=0.15)
#: Paper A's primary comparison (treatment, baseline); other damped models are secondary.
PRIMARY_COMPARISON = ("inresnet20", "resnet20")
Role = Literal["primary", "secondary"]


@dataclass(frozen=True)
class PlanEntry:
    """One pre-registered claim: what decides it and where its margin comes from."""

    name: str
    paper: Literal["A", "B"]
    quantity: str
    direction: Literal["greater", "less", "equivalent"]
    margin: float
    provenance: str
    test: str
    role: Role = "primary"
    scale: Literal["linear", "log"] = "linear"
    reference: float = 0.0
    unit: str = ""

    @property
    def family(self) -> str | None:
        """The family the entry is adjusted in (None: secondary, never decides)."""
        return self.paper if self.role == "primary" else None


_SESOI = "declared smallest effect of interest"
#: the components of the Lyapunov claim, joined by intersection–union (all must show it)
LYAPUNOV_COMPONENTS = ("drift_noise", "drift_adv")
_WELCH = "Welch t (Satterthwaite df), unpaired over training seeds"
PLAN: tuple[PlanEntry, ...] = (
    PlanEntry(
        "noise_drop",
        "A",
        "accuracy lost to noise (clean − noisy, pooled over types and severities), points",
        "less",
        1.0,
        f"{_SESOI}: 1 point is 3.6 test images of the 359 evaluated, below which a difference "
        "is not worth a claim at this scale (the paper reports several points)",
        _WELCH,
        unit="points",
    ),
    PlanEntry(
        "robust_auc",
        "A",
        "mean robust accuracy over [0, ε_max] of the per-point worst case over the declared "
        "attack set (paper_a.robustness.attacks: FGSM, IFGSM, PGD, APGD-CE, APGD-DLR; + "
        "standard AutoAttack with paper_a.robustness.autoattack), a point fooled at ε counted "
        "fooled at every "
        "larger ε, points",
        "greater",
        1.0,
        f"{_SESOI}: 1 point, as for noise (the paper's gains are several points)",
        _WELCH,
        unit="points",
    ),
    PlanEntry(
        "lyapunov_stability",
        "A",
        "relative drift ‖Δh_B‖/‖h_B‖ of input perturbations propagated to h_B, random and FGSM "
        "directions joined by intersection–union (the weaker one decides: p = max p_for)",
        "less",
        1.1,
        f"{_SESOI}: a 10 % smaller drift in both directions (the paper shows no number)",
        "Welch t on log values per component; intersection–union",
        scale="log",
    ),
    PlanEntry(
        "drift_noise",
        "A",
        "relative drift ‖Δh_B‖/‖h_B‖ of a random input perturbation propagated to h_B",
        "less",
        1.1,
        f"{_SESOI}: a 10 % smaller drift (the paper shows no number)",
        _WELCH + ", log values",
        role="secondary",
        scale="log",
    ),
    PlanEntry(
        "drift_adv",
        "A",
        "relative drift ‖Δh_B‖/‖h_B‖ of the FGSM input perturbation propagated to h_B",
        "less",
        1.1,
        f"{_SESOI}: a 10 % smaller drift; joined with drift_noise by intersection–union",
        _WELCH + ", log values",
        role="secondary",
        scale="log",
    ),
    PlanEntry(
        "normalised_gain",
        "A",
        "∏ per-block gains along a fresh random direction per block (not a bound)",
        "less",
        1.1,
        f"{_SESOI}: 10 %",
        _WELCH + ", log values",
        role="secondary",
        scale="log",
    ),
    PlanEntry(
        "loss_rise_adv",
        "A",
        "loss rise along sign(∇ₓL) up to ε_max",
        "less",
        1.1,
        f"{_SESOI}: a 10 % flatter rise (the paper's figure is qualitative)",
        _WELCH + ", log values",
        scale="log",
    ),
    PlanEntry(
        "clean_equivalent",
        "A",
        "clean test accuracy, points",
        "equivalent",
        1.0,
        f"{_SESOI}: ±1 point, the paper's 'comparable clean accuracy'",
        "TOST on Welch t (90 % interval)",
        unit="points",
    ),
    # ---- paper B (every interval is over seeds; each seed draws its own data and init) ----
    PlanEntry(
        "depth_slope_ode",
        "B",
        "log-log slope of max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against L, one slope per seed (tied init)",
        "equivalent",
        0.1,
        "paper: ΔZ = O(1/L), slope −1 in Fig. 1 (Prop. 3, Thm 4; an independent "
        "re-implementation measured −0.99 and −1.00); ±0.1 declared: at −0.9 L·max‖ΔZ‖ grows "
        "by 2^0.1 ≈ 7 % per doubling of L, the tolerance of depth_bounded_ode (the former "
        "±0.25 accepted −0.75, i.e. L·max ∝ L^0.25, unbounded)",
        "TOST on the one-sample t interval of the per-seed slopes",
        reference=-1.0,
    ),
    PlanEntry(
        "depth_bounded_ode",
        "B",
        "log-log slope of L·max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against L, one per seed (tied "
        "init): ≤ 0 when the K/L bound holds",
        "less",
        0.1,
        "paper: max‖ΔZ‖ ≤ K/L with K independent of L (Prop. 3, Thm 4), so L·max stays "
        "bounded: slope ≤ 0; declared tolerance 0.1 for finite L (reference 0.1: shown "
        "below it = bounded within 7 % per doubling; 'at least the margin' = shown not "
        "growing at all; contradicted = shown growing and not shown within the tolerance)",
        "one-sided reading of the one-sample t interval of the per-seed slopes",
        reference=0.1,
    ),
    PlanEntry(
        "depth_slope_iid",
        "B",
        "log-log slope of max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against L, one slope per seed (i.i.d. init)",
        "equivalent",
        0.25,
        "paper: slope 0 (an i.i.d. init stays rough, O(1) differences); ±0.25 declared: "
        "half-way to the SDE-like −1/2. Note: the running max includes t = 0, so this "
        "reading mostly measures the initialisation",
        "TOST on the one-sample t interval of the per-seed slopes",
    ),
    PlanEntry(
        "depth_slope_gap",
        "B",
        "per-seed depth slope of the i.i.d. init minus that of the tied init",
        "greater",
        0.5,
        "paper: 0 (i.i.d.) against −1 (tied), a gap of 1; declared: at least half of it. "
        "Replaces the ratio of trained roughness i.i.d./tied, whose size was set by the "
        "iteration count (×4.5e3 at T = 100, ×692 at T = 500); an exponent of L cannot be "
        "moved by T, and an i.i.d. init smoothed like a tied one gives a gap of 0",
        _WELCH + " of the per-seed slopes",
    ),
    PlanEntry(
        "iid_not_smoothed",
        "B",
        "smoothing fraction φ = (R(0) − R(T)) / (2·max_k‖Z_k(T) − Z_k(0)‖_F) of an i.i.d. "
        "init, R = max_k‖Z_{k+1} − Z_k‖_F (|R(T) − R(0)| ≤ 2·max_k‖Z_k(T) − Z_k(0)‖, so "
        "φ ∈ [−1, 1]; 1: all of the weights' movement smooths them)",
        "less",
        0.5,
        "paper: 'an i.i.d. init stays rough'; declared: less than half of the smoothing the "
        "weights' movement allows (reference 0.5: shown below it = reproduced; 'at least the "
        "margin' = φ < 0, no smoothing at all; contradicted = smoothing shown (φ > 0) and not "
        "shown below 1/2). Replaces R(T)/R(0), which training moves by ≈ 0.1 % whatever it "
        "does (R ≈ 34, movement ≈ 0.05): φ is the change in units of the movement, so a "
        "training that smooths gives φ near 1 and fails the claim",
        "one-sample t over seeds",
        reference=0.5,
    ),
    PlanEntry(
        "long_time_exponential_decay",
        "B",
        "log-log slope β of the local decay rate −d ln ℓ/dt against t over the run's last "
        "half (8 consecutive blocks), one per seed: exponential decay β = 0, power law "
        "ℓ ∝ t^−p β = −1",
        "equivalent",
        0.5,
        "paper: exponential decay (Thm 6: ℓ_t ≤ ℓ_0·e^{−μ t} under PL), β = 0; ±0.5 "
        "declared: the midpoint to a power law's −1, so reproduced means closer to "
        "exponential than to any power law and contradicted (below −0.5) closer to a power "
        "law. Replaces 'slope of ln ℓ < 0', which a power law also passes",
        "TOST on the one-sample t interval over ≥ 5 seeds (each its own data and init)",
    ),
    PlanEntry(
        "long_time_log_loss_rate",
        "B",
        "slope of ln(loss) per 1000 iterations over the run's last half, one per seed",
        "less",
        0.01,
        f"{_SESOI}: 0.01 per 1000 iterations; secondary: a power law passes it too",
        "one-sample t over seeds",
        role="secondary",
        unit="per 1000 iterations",
    ),
    PlanEntry(
        "ode_convergence",
        "B",
        "log-log slope of the L²-in-s distance ‖Z^L − Z^ref‖ at t = T against L, one per "
        "seed (tied init; runs with a reference depth)",
        "less",
        0.5,
        "paper: the weights converge to a Lipschitz limit at O(1/L) (Thm 4, Fig. 1 right); "
        "declared: shown at least the margin = faster than L^−1/2 (half the paper's order); "
        "a distance that does not shrink gives 0",
        "one-sample t over seeds",
    ),
    PlanEntry(
        "relu_smoothness_lost",
        "B",
        "log-log slope of max_k|w_{k+1}(T) − w_k(T)| against the depth D (ReLU scalar net), "
        "one per seed; seed s draws the sample (x, Cx)",
        "equivalent",
        0.25,
        "paper: ≥ 2 log C for every depth (slope 0); ±0.25 declared: half-way to the "
        "SDE-like −1/2 (a smooth net gives −1)",
        "TOST on the one-sample t interval of the per-seed slopes",
    ),
    PlanEntry(
        "table1_tied_smoother",
        "B",
        "layer-averaged ‖W_{k+1} − W_k‖_F, tied / i.i.d., per activation where the paper's "
        "tied row says 'smooth' (identity, GELU)",
        "less",
        2.0,
        "paper: Table 1 reports about 1/10; declared: at least a factor 2",
        _WELCH + ", log values",
        scale="log",
    ),
    PlanEntry(
        "table1_test_acc",
        "B",
        "test accuracy minus the paper's Table 1 row, per (activation, init), points",
        "equivalent",
        3.0,
        f"{_SESOI}: ±3 points around the paper's median of 5 runs (which reports no "
        "spread): the differences between its rows that the paper discusses are ≥ 6 points",
        "TOST on the one-sample t interval over seeds",
        unit="points",
    ),
    PlanEntry(
        "table1_train_acc",
        "B",
        "train accuracy minus the paper's Table 1 row, per (activation, init), points",
        "equivalent",
        3.0,
        f"{_SESOI}: ±3 points, as for test accuracy; secondary",
        "TOST on the one-sample t interval over seeds",
        role="secondary",
        unit="points",
    ),
)
_BY_NAME = {e.name: e for e in PLAN}


#: claim-name prefixes whose per-row claims share one entry (Table 1: per activation / row)
_PREFIXED = ("table1_tied_smoother", "table1_test_acc", "table1_train_acc")


def entry(claim: str) -> PlanEntry | None:
    """The plan entry of a claim name (per-activation / per-row Table 1 names share one)."""
    for prefix in _PREFIXED:
        if claim.startswith(prefix + "_") or claim == prefix:
            return _BY_NAME[prefix]
    return _BY_NAME.get(claim)


def plan_claim(name: str, text: str) -> Claim:
    """The :class:`resode.verdicts.Claim` of ``name`` with direction, margin, reference, scale
    and unit from its plan entry: the one place margins live (experiments call this)."""
    e = entry(name)
    if e is None:
        raise KeyError(f"no plan entry for claim {name!r}")
    return Claim(
        name, text, e.direction, e.margin, reference=e.reference, unit=e.unit, scale=e.scale
    )


def role_of(claim: str, model: str | None = None) -> Role:
    """Primary only for a primary plan entry and (paper A) the primary comparison's model."""
    e = entry(claim)
    if e is None or e.role == "secondary":
        return "secondary"
    if e.paper == "A" and model is not None and model != PRIMARY_COMPARISON[0]:
        return "secondary"
    return "primary"


def plan_markdown() -> str:
    """The plan as a Markdown table (the README's table of margins; a test keeps them equal)."""
    lines = [
        "| claim | paper | role | primary quantity | direction | margin | provenance |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in PLAN:
        m = f"×{e.margin:g}" if e.scale == "log" else f"{e.margin:g} {e.unit}".strip()
        word = " around" if e.direction == "equivalent" else " than"
        ref = f"{word} {e.reference:g}" if e.reference else ""
        q, prov = (t.replace("|", "\\|") for t in (e.quantity, e.provenance))  # |x| in a cell
        lines.append(
            f"| `{e.name}` | {e.paper} | {e.role} | {q} | {e.direction}{ref} | {m} | {prov} |"
        )
    return "\n".join(lines)


def holm(p: Sequence[float]) -> tuple[list[float], list[int]]:
    """Holm's adjusted p-values p̃_(j) = max_{i≤j} min(1, (M − i + 1)·p_(i)), and each
    hypothesis's multiplier M − rank + 1 (rank 1 = smallest p)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj, mult = [1.0] * m, [1] * m
    running = 0.0
    for rank, i in enumerate(order):
        mult[i] = m - rank
        running = max(running, min(1.0, mult[i] * p[i]))
        adj[i] = running
    return adj, mult


@dataclass(frozen=True)
class Adjusted:
    """The family-wise adjusted reading of one judgement."""

    finding: str
    verdict: str
    p_values: tuple[float, float, float, float]
    family: str | None


def adjust(items: Sequence[tuple[Judgement, str | None]], alpha: float = ALPHA) -> list[Adjusted]:
    """Holm within each family (module docstring); family None: raw, unadjusted."""
    out: list[Adjusted | None] = [None] * len(items)
    families: dict[str, list[int]] = {}
    for i, (j, fam) in enumerate(items):
        if fam is None:
            out[i] = Adjusted(j.finding, j.verdict, j.p_values, None)
        else:
            families.setdefault(fam, []).append(i)
    for fam, idx in families.items():
        raw = [p for i in idx for p in (items[i][0].p_values[0], items[i][0].p_values[2])]
        adj, mult = holm(raw)
        for k, i in enumerate(idx):
            j = items[i][0]
            _, p_margin, _, p_opp = j.p_values
            a_for, a_against = adj[2 * k], adj[2 * k + 1]
            pv = (
                a_for,
                max(a_for, min(1.0, mult[2 * k] * p_margin)),
                a_against,
                max(a_against, min(1.0, mult[2 * k + 1] * p_opp)),
            )
            f = finding_from_p(j.direction, pv, alpha) if j.finding != NO_FINDING else NO_FINDING
            out[i] = Adjusted(f, FINDING_VERDICT[f], pv, fam)
    return [a for a in out if a is not None]


__all__ = [
    "ALPHA",
    "PLAN",
    "PRIMARY_COMPARISON",
    "SEQUENTIAL",
    "Adjusted",
    "PlanEntry",
    "adjust",
    "entry",
    "holm",
    "plan_claim",
]
