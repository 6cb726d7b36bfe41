"""The claims of both papers, each judged by :mod:`resode.verdicts` on the measured per-seed values.

Every claim declares its direction and the smallest effect it needs (the margin); the verdict —
``reproduced``, ``contradicted`` or ``inconclusive`` — is computed from the confidence interval of
the effect over training seeds (Welch's t with Satterthwaite degrees of freedom; the models are
trained independently, so the design is unpaired), never typed by hand. Paper A claims compare
each damped model with the baseline (the first model), one row per damped model:

=======================  =======================================================  ==========
claim                    measured on (per seed)                                    margin
=======================  =======================================================  ==========
noise robustness         accuracy lost to noise: clean − noisy (pooled over       1 point
                         types and severities), each model against its own clean
adversarial robustness   mean robust accuracy over [0, ε_max] (area under the     1 point
                         curve of the per-point worst case over the declared
                         attack set, FGSM … APGD-DLR [+ AutoAttack],
                         :func:`robust_auc`)
stability                relative feature drift of h_B under noise and under      ratio 1.1
                         FGSM, joined by intersection–union (``lyapunov_stability``,
                         primary); the components and ∏ G_n (random δ) secondary
flatter landscape        loss rise along sign(∇ₓL) up to ε_max                     ratio 1.1
clean accuracy           equivalence of clean accuracy                            ±1 point
=======================  =======================================================  ==========

Directions, margins, roles and families come from :mod:`resode.analysis_plan`;
:func:`adjust_claims` applies Holm within each paper's family (the headline ``verdict``; the raw
one is ``raw_verdict``). Paper B claims are declared and judged by the experiments of
:mod:`resode.ode.experiments` (the depth-sweep slope, the long-time decay rate, the roughness
of trained weights, Table 1's smoothness ratio); this module collects them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from resode import analysis_plan as plan
from resode.registry import display_name
from resode.reproduce.config import ReproduceConfig
from resode.sequential import Reading
from resode.verdicts import INCONCLUSIVE, NO_FINDING, Claim, Judgement, judge


def _claim(name: str, text: str) -> Claim:
    """The :class:`Claim` of plan entry ``name`` (direction, margin, scale from the plan)."""
    e = plan.entry(name)
    assert e is not None, name
    return Claim(
        name, text, e.direction, e.margin, reference=e.reference, unit=e.unit, scale=e.scale
    )


# ---- paper A -----------------------------------------------------------------------------------
NOISE = _claim(
    "noise_drop",
    "Damping improves accuracy under stochastic noise (a smaller drop from its own clean accuracy)",
)

ADVERSARIAL = _claim(
    "robust_auc",
    "Damping improves accuracy under adversarial attacks (mean robust accuracy over [0, ε_max])",
)

DRIFT_NOISE = _claim(
    "drift_noise",
    "Damping improves Lyapunov stability: lower relative drift ‖Δh_B‖/‖h_B‖ under random noise",
)

DRIFT_ADV = _claim(
    "drift_adv",
    "Damping improves Lyapunov stability: lower relative drift ‖Δh_B‖/‖h_B‖ under FGSM",
)

GAIN = _claim(
    "normalised_gain",
    "Damping improves Lyapunov stability: lower scale-normalised amplification ∏ G_n (random δ)",
)

LANDSCAPE = _claim(
    "loss_rise_adv",
    "The loss landscape along the attack direction is flatter with damping",
)

CLEAN = _claim(
    "clean_equivalent",
    "Clean accuracy is comparable (damping costs no clean accuracy)",
)

#: claim → (metric of paper_a.metrics, factor to the claim's unit)
PAPER_A: tuple[tuple[Claim, str, float], ...] = (
    (NOISE, "noise_drop", 100.0),
    (ADVERSARIAL, "robust_auc", 100.0),
    (DRIFT_NOISE, "stability/drift_noise_last", 1.0),
    (DRIFT_ADV, "stability/drift_adv_last", 1.0),
    (GAIN, "stability/cum_gain_random", 1.0),
    (LANDSCAPE, "landscape/loss_rise_adv", 1.0),
    (CLEAN, "clean", 100.0),
)


@dataclass
class ClaimResult:
    """One judged claim: which paper, its name and sentence, which model (paper A), the
    judgement, and the evidence sentence (computed)."""

    part: str
    name: str
    text: str
    judgement: Judgement
    evidence: str
    model: str | None = None
    adjusted: plan.Adjusted | None = None
    #: the sequential reading over the run's looks (paper A; :mod:`resode.reproduce.looks`)
    sequential: Reading | None = None

    @property
    def role(self) -> str:
        """ "primary" (decides, family-wise adjusted) or "secondary" (reported, never decides)."""
        return plan.role_of(self.name, self.model)

    @property
    def raw_verdict(self) -> str:
        return self.judgement.verdict

    @property
    def verdict(self) -> str:
        """The headline: the family-wise adjusted verdict (raw until :func:`adjust_claims`)."""
        return self.adjusted.verdict if self.adjusted else self.judgement.verdict

    @property
    def finding(self) -> str:
        return self.adjusted.finding if self.adjusted else self.judgement.finding

    @property
    def title(self) -> str:
        return self.text + (f" — {display_name(self.model)}" if self.model else "")

    def headline_note(self, text: str) -> str:
        """``text`` (the unadjusted judgement's sentence), introduced by the headline where the
        two differ, so that no sentence states more than the headline verdict does."""
        j = self.judgement
        if (self.verdict, self.finding) == (j.verdict, j.finding):
            return text
        return f"headline {self.verdict} ({self.finding}); unadjusted: {text}"

    def to_dict(self) -> dict[str, Any]:
        """JSON/CSV: ``verdict``, ``finding``, ``reason``, ``evidence`` are the headline's (the
        unadjusted sentence follows "unadjusted:"), ``raw_*`` the fixed-n judgement's."""
        a = self.adjusted
        return {
            "part": self.part,
            "text": self.text,
            "model": self.model,
            "evidence": self.headline_note(self.evidence),
            **self.judgement.to_dict(),
            "reason": self.headline_note(self.judgement.reason),
            "raw_verdict": self.judgement.verdict,
            "raw_finding": self.judgement.finding,
            "raw_reason": self.judgement.reason,
            "verdict": self.verdict,
            "finding": self.finding,
            "adjusted_finding": self.finding,
            "adjusted_p_values": list(a.p_values) if a else list(self.judgement.p_values),
            "role": self.role,
            "family": a.family if a else None,
            "sequential": None if self.sequential is None else self.sequential.to_dict(),
        }


def adjust_claims(claims: list[ClaimResult], alpha: float = plan.ALPHA) -> list[ClaimResult]:
    """Holm within each paper's family of primary claims (:func:`resode.analysis_plan.adjust`);
    secondary claims keep their raw verdict, marked secondary. A claim with a sequential reading
    (``sequential``: paper A over the run's looks) enters with its repeated p-values, so the
    headline is sequential and family-wise. Returns the same list."""
    fams = [c.part if c.role == "primary" else None for c in claims]
    items = [
        (c.judgement if c.sequential is None else c.sequential.judged(c.judgement), f)
        for c, f in zip(claims, fams, strict=True)
    ]
    for c, a in zip(claims, plan.adjust(items, alpha), strict=True):
        c.adjusted = a
    return claims


# ---- the masking hook: a red flag turns a robustness verdict into inconclusive ----------------
#: claims whose evidence is an attack, so a gradient-masking red flag voids them
ROBUSTNESS_CLAIMS = frozenset({ADVERSARIAL.name})
#: how the reason of a verdict voided by a red flag begins (the CLI prints those reasons)
RED_FLAG_REASON = "gradient-masking red flag"


def apply_checks(claim: Claim, judgement: Judgement, runs: list[Any]) -> Judgement:
    """``judgement``, or ``inconclusive`` with the red flags as reason when ``claim`` rests on
    attacks and any of ``runs`` (records with their ``checks``) failed a masking check
    (:mod:`resode.robustness.checks`)."""
    import dataclasses

    from resode.robustness.checks import red_flags

    if claim.name not in ROBUSTNESS_CLAIMS:
        return judgement
    flags = []
    for r in runs:
        flags += [f"{r.label} seed {r.seed}: {f}" for f in red_flags(r.checks)]
    if not flags:
        return judgement
    return dataclasses.replace(
        judgement,
        verdict=INCONCLUSIVE,
        finding=NO_FINDING,
        p_values=(1.0, 1.0, 1.0, 1.0),  # voided: Holm can never turn it back into a finding
        reason=f"{RED_FLAG_REASON} ({'; '.join(flags)}); measured: {judgement.reason}",
    )


def paper_a_claims(cfg: ReproduceConfig, a: Any) -> list[ClaimResult]:
    """Every paper-A claim for every damped model against the baseline (the first model)."""
    models = [m for m in cfg.paper_a.models if a.by_model(m)]
    if len(models) < 2 or models[0] != cfg.paper_a.models[0]:
        return []
    base, out = models[0], []
    for claim, metric, factor in PAPER_A:
        b = [factor * v for v in a.values(base, metric)]
        if not b:
            continue
        for m in models[1:]:
            t = [factor * v for v in a.values(m, metric)]
            j = apply_checks(claim, judge(claim, t, b), [*a.by_model(m), *a.by_model(base)])
            missing = [*a.failed_of(m), *a.failed_of(base)]
            note = f" Missing runs (failed): {', '.join(missing)}." if missing else ""
            out.append(
                ClaimResult(
                    "A",
                    claim.name,
                    claim.text,
                    j,
                    f"{display_name(m)} vs {display_name(base)}: {j.reason}{note}",
                    model=m,
                )
            )
    return out + _lyapunov(out)


LYAPUNOV_TEXT = (
    "Damping improves Lyapunov stability: a perturbation propagated from the input to h_B "
    "drifts less, along random noise and along the FGSM direction (both must show it)"
)


def _lyapunov(rows: list[ClaimResult]) -> list[ClaimResult]:
    """The Lyapunov claim per model by the intersection–union rule of the plan: the component
    (drift_noise, drift_adv) with the larger p_for decides (p_IUT = max p_for); it is shown only
    where both are, and reads as the weaker component otherwise."""
    out = []
    for m in dict.fromkeys(r.model for r in rows):
        parts = [r for r in rows if r.model == m and r.name in plan.LYAPUNOV_COMPONENTS]
        if len(parts) != len(plan.LYAPUNOV_COMPONENTS):
            continue
        weak = max(parts, key=lambda r: r.judgement.p_values[0])
        j = replace(weak.judgement, claim="lyapunov_stability")
        ev = f"decided by {weak.name} (the weaker of {', '.join(plan.LYAPUNOV_COMPONENTS)}): "
        out.append(ClaimResult("A", j.claim, LYAPUNOV_TEXT, j, ev + weak.evidence, model=m))
    return out


def paper_b_claims(cfg: ReproduceConfig, b: Any) -> list[ClaimResult]:
    """The claims the paper-B experiments judged (depth slopes, the L·max bound, the slope gap,
    convergence to the reference, the decay exponent, the i.i.d. smoothing fraction, the ReLU
    counter-example, Table 1 per activation and row), each with its own evidence sentence."""
    from resode.ode.experiments.protocol import experiments

    def text(name: str) -> str:  # the sentence the registered experiment gives its claim
        found = (e.claim_text(name) for e in experiments())
        return next((t for t in found if t), name)

    return [ClaimResult("B", j.claim, text(j.claim), j, j.reason) for j in b.judgements()]


__all__ = [
    "PAPER_A",
    "RED_FLAG_REASON",
    "ROBUSTNESS_CLAIMS",
    "ClaimResult",
    "adjust_claims",
    "apply_checks",
    "paper_a_claims",
    "paper_b_claims",
]
