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
                         worst-case-over-attacks curve, :func:`robust_auc`)
stability (3 readings)   relative feature drift of h_B under noise and under      ratio 1.1
                         FGSM; scale-normalised amplification ∏ G_n (random δ)
flatter landscape        loss rise along sign(∇ₓL) up to ε_max                     ratio 1.1
clean accuracy           equivalence of clean accuracy                            ±1 point
=======================  =======================================================  ==========

Paper B claims are declared and judged by the experiments of :mod:`resode.ode.experiments` (the
depth-sweep slope, the long-time decay rate, the roughness of trained weights, Table 1's
smoothness ratio); this module collects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resode.registry import display_name
from resode.reproduce.config import ReproduceConfig
from resode.verdicts import INCONCLUSIVE, Claim, Judgement, judge

# ---- paper A -----------------------------------------------------------------------------------
NOISE = Claim(
    "noise_drop",
    "Damping improves accuracy under stochastic noise (a smaller drop from its own clean accuracy)",
    "less",
    margin=1.0,
    unit="points",
)
ADVERSARIAL = Claim(
    "robust_auc",
    "Damping improves accuracy under adversarial attacks (mean robust accuracy over [0, ε_max])",
    "greater",
    margin=1.0,
    unit="points",
)
DRIFT_NOISE = Claim(
    "drift_noise",
    "Damping improves Lyapunov stability: lower relative drift ‖Δh_B‖/‖h_B‖ under random noise",
    "less",
    margin=1.1,
    scale="log",
)
DRIFT_ADV = Claim(
    "drift_adv",
    "Damping improves Lyapunov stability: lower relative drift ‖Δh_B‖/‖h_B‖ under FGSM",
    "less",
    margin=1.1,
    scale="log",
)
GAIN = Claim(
    "normalised_gain",
    "Damping improves Lyapunov stability: lower scale-normalised amplification ∏ G_n (random δ)",
    "less",
    margin=1.1,
    scale="log",
)
LANDSCAPE = Claim(
    "loss_rise_adv",
    "The loss landscape along the attack direction is flatter with damping",
    "less",
    margin=1.1,
    scale="log",
)
CLEAN = Claim(
    "clean_equivalent",
    "Clean accuracy is comparable (damping costs no clean accuracy)",
    "equivalent",
    margin=1.0,
    unit="points",
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

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    @property
    def title(self) -> str:
        return self.text + (f" — {display_name(self.model)}" if self.model else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "text": self.text,
            "model": self.model,
            "evidence": self.evidence,
            **self.judgement.to_dict(),
        }


# ---- the masking hook: a red flag turns a robustness verdict into inconclusive ----------------
#: claims whose evidence is an attack, so a gradient-masking red flag voids them
ROBUSTNESS_CLAIMS = frozenset({ADVERSARIAL.name})


def apply_checks(claim: Claim, judgement: Judgement, runs: list[Any]) -> Judgement:
    """``judgement``, or ``inconclusive`` with the red flags as reason when ``claim`` rests on
    attacks and any of ``runs`` (records with ``result["checks"]``) failed a masking check
    (:mod:`resode.robustness.checks`)."""
    import dataclasses

    from resode.robustness.checks import CheckResult, red_flags

    if claim.name not in ROBUSTNESS_CLAIMS:
        return judgement
    flags = []
    for r in runs:
        checks = [CheckResult.from_dict(c) for c in r.result.get("checks") or []]
        flags += [f"{r.label} seed {r.seed}: {f}" for f in red_flags(checks)]
    if not flags:
        return judgement
    return dataclasses.replace(
        judgement,
        verdict=INCONCLUSIVE,
        reason=f"gradient-masking red flag ({'; '.join(flags)}); measured: {judgement.reason}",
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
            missing = [k for k in a.failed if f"/{m}-seed" in k or f"/{base}-seed" in k]
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
    return out


def _ode_claim_texts() -> dict[str, str]:
    """Claim name → sentence of every claim :mod:`resode.ode.experiments` judges."""
    from resode.ode import experiments as ex

    claims = [*ex.DEPTH_CLAIMS.values(), ex.RATE_CLAIM, *ex.WEIGHT_CLAIMS.values(), ex.RELU_CLAIM]
    texts = {c["name"]: c["text"] for c in claims}
    return texts


def paper_b_claims(cfg: ReproduceConfig, b: Any) -> list[ClaimResult]:
    """The claims the paper-B experiments judged (depth-sweep slopes, long-time decay rate,
    trained roughness, Table 1 smoothness ratio), each with its own evidence sentence."""
    texts = _ode_claim_texts()
    out = []
    for j in b.judgements():
        text = texts.get(j.claim)
        if text is None and j.claim.startswith("table1_tied_smoother_"):  # one per activation
            from resode.ode.experiments import SMOOTHER_CLAIM

            act = j.claim.removeprefix("table1_tied_smoother_")
            text = f"{SMOOTHER_CLAIM['text']} — {act}"
        out.append(ClaimResult("B", j.claim, text or j.claim, j, j.reason))
    return out


__all__ = [
    "PAPER_A",
    "ROBUSTNESS_CLAIMS",
    "ClaimResult",
    "apply_checks",
    "paper_a_claims",
    "paper_b_claims",
]
