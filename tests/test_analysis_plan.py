"""The pre-registered plan, Holm's adjustment and the engine's operating characteristics."""

from __future__ import annotations

import math

import pytest

from resode import analysis_plan as plan
from resode.analysis.operating import operating_characteristics
from resode.ode import experiments as ex
from resode.reproduce import claims as claims_mod
from resode.verdicts import (
    BELOW_MARGIN,
    FINDING_VERDICT,
    OPPOSITE,
    SHOWN_DIRECTION,
    SHOWN_MARGIN,
    Claim,
    judge,
)


def test_every_judged_claim_has_one_plan_entry_that_matches_it() -> None:
    """The plan is the one place: paper-A claims and paper-B claims are built from it (the
    experiments hold sentences only; tests/test_paper_b_claims.py checks each)."""
    for c, _, _ in claims_mod.PAPER_A:
        e = plan.entry(c.name)
        assert e is not None and (c.direction, c.margin, c.scale) == (
            e.direction,
            e.margin,
            e.scale,
        )
    b = [*ex.DEPTH_CLAIMS.values(), ex.RATE_CLAIM, *ex.WEIGHT_CLAIMS.values(), ex.RELU_CLAIM]
    for d in [*b, {"name": "table1_tied_smoother_tanh", **ex.SMOOTHER_CLAIM}]:
        e = plan.entry(d["name"])
        assert e is not None, d["name"]
        assert "margin" not in d and "direction" not in d  # one place: the plan
    assert all(e.provenance and e.test and e.quantity for e in plan.PLAN)


def test_lyapunov_is_decided_by_propagated_perturbations_only() -> None:
    assert plan.role_of("lyapunov_stability", "inresnet20") == "primary"
    assert plan.role_of("drift_noise", "inresnet20") == "secondary"  # a component, shown beside
    assert plan.role_of("drift_adv", "inresnet20") == "secondary"
    assert plan.role_of("normalised_gain", "inresnet20") == "secondary"
    assert (
        plan.role_of("lyapunov_stability", "lambda_inresnet20") == "secondary"
    )  # not the primary pair
    assert plan.role_of("long_time_log_loss_rate") == "secondary"  # a power law passes it too
    assert plan.role_of("long_time_exponential_decay") == "primary"


def test_holm_matches_the_step_down_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    adj, mult = plan.holm(p)
    # sorted: 0.005 (×4), 0.01 (×3), 0.03 (×2), 0.04 (×1), running max
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert mult == [3, 1, 2, 4]
    assert all(a >= q for a, q in zip(adj, p, strict=True))


def test_adjustment_never_strengthens_and_weakens_a_marginal_finding() -> None:
    c = Claim("g", "x", "greater", 1.0)
    strong = judge(c, [5.0, 5.2, 4.9, 5.1], [0.0, 0.1, -0.1, 0.05])
    weak = judge(c, [1.0, 1.6, 0.9, 1.4], [0.0, 0.4, -0.3, 0.2])  # p_for ≈ 0.0021
    assert strong.finding == SHOWN_MARGIN and FINDING_VERDICT[weak.finding] == "reproduced"
    items = [(strong, "A"), (weak, "A")] + [(judge(c, [0.1, -0.2, 0.3], [0.0, 0.1, 0.2]), "A")] * 12
    adj = plan.adjust(items)
    assert adj[0].finding == SHOWN_MARGIN  # survives ×28
    assert 27 * weak.p_values[0] > 0.05 and adj[1].verdict == "inconclusive"  # Holm: ×27 of 28
    assert all(a.p_values[0] >= j.p_values[0] for a, (j, _) in zip(adj, items, strict=True))
    raw_only = plan.adjust([(weak, None)])
    assert raw_only[0].finding == weak.finding  # secondary: unadjusted


def test_operating_characteristics_follow_from_the_rule() -> None:
    """Seeded (deterministic) simulation at n = 4, the robust-AUC spreads (≈ 1.9 points)."""
    c = Claim("robust_auc", "x", "greater", 1.0, unit="points")
    rows = {r.effect_label: r for r in operating_characteristics(c, 4, (1.9, 1.9), draws=300)}
    alpha = 0.05
    # at δ = 0 the directional null holds: P(shown in the claimed direction or more) ≤ α/2 + slack
    p0 = rows["0"].probabilities
    assert p0[SHOWN_MARGIN] + p0[SHOWN_DIRECTION] <= alpha / 2 + 3 * math.sqrt(0.025 / 300)
    # at δ = m, "shown at least the margin" and "smaller than the margin" are errors ≤ α/2
    pm = rows["m"].probabilities
    assert pm[SHOWN_MARGIN] <= alpha / 2 + 3 * math.sqrt(0.025 / 300)
    assert pm[BELOW_MARGIN] + pm[OPPOSITE] <= alpha / 2 + 3 * math.sqrt(0.025 / 300)
    # the words are monotone in the true effect
    shown = [
        r.probabilities[SHOWN_MARGIN] + r.probabilities[SHOWN_DIRECTION] for r in rows.values()
    ]
    assert shown == sorted(shown)
    assert all(abs(sum(r.probabilities.values()) - 1.0) < 1e-12 for r in rows.values())


def test_readme_margins_table_is_the_plan() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert plan.plan_markdown() in readme
