"""The verdict engine: every outcome and edge on constructed inputs, intervals against scipy."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from resode.errors import ResodeError
from resode.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_FINDING,
    REPRODUCED,
    SEEDS_CAP,
    VERDICTS,
    Claim,
    Judgement,
    format_judgement,
    format_seeds,
    judge,
    judge_interval,
    min_detectable_effect,
    seeds_to_detect,
    summary_rows,
    welch_df,
)

GREATER = Claim("robust", "damping improves robust accuracy", "greater", 1.0, unit="points")
LESS = Claim("drop", "damping reduces the accuracy drop", "less", 1.0, unit="points")
EQUIV = Claim("clean", "clean accuracy is comparable", "equivalent", 1.0, unit="points")
BASE = [10.0, 10.5, 11.0, 9.5, 10.2]


def shifted(values: list[float], d: float) -> list[float]:
    return [v + d for v in values]


def test_verdict_words() -> None:
    assert VERDICTS == ("reproduced", "contradicted", "inconclusive")
    assert (REPRODUCED, CONTRADICTED, INCONCLUSIVE) == VERDICTS


@pytest.mark.parametrize(
    ("treatment", "baseline"),
    [([12.0], BASE), (BASE, [3.0]), ([12.0], None), ([], BASE)],
)
def test_one_seed_is_never_significant(treatment, baseline) -> None:
    j = judge(GREATER, treatment, baseline)
    assert j.verdict == INCONCLUSIVE
    assert j.ci == (-math.inf, math.inf)
    assert j.min_detectable_effect == math.inf and j.seeds_needed is None
    assert "fewer than two seeds" in j.reason


@pytest.mark.parametrize(
    ("treatment", "baseline", "paired"),
    [
        ([0.3, 0.1 + 0.2, 0.3], [0.0, 0.0, 0.0], False),  # equal up to rounding, both groups
        ([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], True),  # constant per-seed difference
        ([7.0, 7.0, 7.0], None, False),  # one sample
    ],
)
def test_zero_variance_is_never_significant(treatment, baseline, paired) -> None:
    j = judge(GREATER, treatment, baseline, paired=paired)
    assert j.verdict == INCONCLUSIVE and j.ci == (-math.inf, math.inf)
    assert "zero variance" in j.reason and j.seeds_needed is None


def test_one_zero_variance_group_is_judged_by_welch() -> None:
    """Welch stays defined with one flat group: SE = s_b/√n_b, df = n_b − 1 (Satterthwaite's
    limit), so the interval is the one-sample interval of the baseline shifted by the constant."""
    base = [0.0, 0.1, 0.2]
    j = judge(GREATER, [5.0, 5.0, 5.0], base)
    s = stats.tstd(base) / math.sqrt(3)
    h = stats.t.ppf(0.975, 2) * s
    assert j.df == pytest.approx(2.0)
    assert j.ci == pytest.approx((4.9 - h, 4.9 + h))
    assert j.verdict == REPRODUCED and j.seeds_needed is not None


def test_ratios_near_one_show_their_difference() -> None:
    from resode.verdicts import ratio_text

    assert ratio_text(1.0015) != "1" and float(ratio_text(1.0015)) != 1.0
    assert ratio_text(1.0000042) == "1.000004" and ratio_text(0.99999) == "0.99999"
    assert ratio_text(34.2) == "34.2"


def test_non_finite_values_are_inconclusive() -> None:
    assert judge(GREATER, [1.0, math.nan, 3.0], BASE).verdict == INCONCLUSIVE
    assert judge(GREATER, [1.0, math.inf, 3.0], BASE).ci == (-math.inf, math.inf)
    log = Claim("ratio", "x", "greater", 1.1, scale="log")
    j = judge(log, [0.0, 1.0, 2.0], [1.0, 1.5, 2.0])
    assert j.verdict == INCONCLUSIVE and "non-positive" in j.reason


def test_welch_interval_and_df_match_scipy_and_closed_form() -> None:
    t, b = [3.1, 2.2, 4.0, 3.5], [1.0, 1.9, 0.4, 1.2, 2.6, 0.8]
    j = judge(GREATER, t, b)
    ref = stats.ttest_ind(t, b, equal_var=False)
    lo, hi = ref.confidence_interval(0.95)
    assert j.ci == pytest.approx((lo, hi), rel=1e-10)
    assert j.effect == pytest.approx(np.mean(t) - np.mean(b))
    v1, v2, n1, n2 = np.var(t, ddof=1), np.var(b, ddof=1), len(t), len(b)
    closed = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    assert j.df == pytest.approx(closed) == pytest.approx(float(ref.df))
    assert welch_df(v1, n1, v2, n2) == pytest.approx(closed)
    assert j.n_seeds == (4, 6) and "Welch" in j.test


def test_one_sample_interval_matches_scipy() -> None:
    c = Claim("slope", "slope is -1", "less", 0.2, reference=-0.5)
    x = [-1.1, -0.9, -1.05, -0.95, -1.2]
    j = judge(c, x)
    assert j.ci == pytest.approx(stats.ttest_1samp(x, -0.5).confidence_interval(0.95), rel=1e-10)
    assert j.verdict == REPRODUCED and j.n_seeds == (5,) and j.reference == -0.5


def test_wide_interval_is_inconclusive_with_mde_above_margin() -> None:
    t, b = [12.0, 6.0, 15.0], [9.0, 14.0, 7.0]
    j = judge(GREATER, t, b)
    assert j.verdict == INCONCLUSIVE
    assert j.ci[0] < 0 < GREATER.margin < j.ci[1]
    assert j.min_detectable_effect > GREATER.margin
    assert j.seeds_needed is not None and j.seeds_needed > 3
    assert "minimum detectable effect" in j.reason and str(j.seeds_needed) in j.reason


def test_narrow_interval_on_claimed_side_reproduces() -> None:
    j = judge(GREATER, shifted(BASE, 3.0), [10.1, 10.4, 10.9, 9.6, 10.3])
    assert j.verdict == REPRODUCED and j.ci[0] > 0
    assert "smaller" not in j.reason and "estimate reaches the margin +1 points" in j.reason


def test_narrow_interval_on_opposite_side_contradicts() -> None:
    j = judge(GREATER, shifted(BASE, -3.0), [10.1, 10.4, 10.9, 9.6, 10.3])
    assert j.verdict == CONTRADICTED and j.ci[1] < 0 and "opposite" in j.reason


def test_significant_but_below_margin_reproduces_and_says_smaller() -> None:
    t, b = [10.40, 10.45, 10.50, 10.42, 10.48], [10.0, 10.05, 10.1, 10.02, 10.08]
    j = judge(GREATER, t, b)
    assert j.ci[0] > 0 and j.ci[1] < GREATER.margin  # both rules would fire: precedence
    assert j.verdict == REPRODUCED and "smaller than the claim's margin" in j.reason


def test_interval_containing_zero_but_excluding_margin_contradicts() -> None:
    t, b = [10.0, 10.2, 9.9, 10.1, 10.05], [10.0, 10.1, 10.0, 9.95, 10.05]
    j = judge(GREATER, t, b)
    assert j.ci[0] < 0 < j.ci[1] < GREATER.margin
    assert j.verdict == CONTRADICTED and "excludes the margin" in j.reason


def test_less_direction_mirrors_greater() -> None:
    b = [10.1, 10.4, 10.9, 9.6, 10.3]
    assert judge(LESS, shifted(BASE, -3.0), b).verdict == REPRODUCED
    assert judge(LESS, shifted(BASE, 3.0), b).verdict == CONTRADICTED
    assert judge(LESS, [10.0, 10.2, 9.9, 10.1, 10.05], b).verdict == CONTRADICTED
    assert judge(LESS, [4.0, 16.0, 10.0], [9.0, 14.0, 7.0]).verdict == INCONCLUSIVE


@pytest.mark.parametrize(
    ("shift", "spread", "verdict"),
    [
        (0.1, 0.2, REPRODUCED),
        (3.0, 0.2, CONTRADICTED),
        (-3.0, 0.2, CONTRADICTED),
        (1.0, 0.2, INCONCLUSIVE),
        (0.0, 3.0, INCONCLUSIVE),
    ],
)
def test_equivalence_inside_outside_straddling(shift, spread, verdict) -> None:
    noise = np.array([-1.0, 0.5, 0.2, -0.3, 0.6])
    t = 98.0 + shift + spread * noise
    b = 98.0 + spread * noise[::-1] * 0.8
    j = judge(EQUIV, t, b)
    assert j.verdict == verdict
    lo, hi = stats.ttest_ind(t, b, equal_var=False).confidence_interval(0.90)  # TOST: 1 - 2α
    assert j.ci == pytest.approx((lo, hi), rel=1e-10) and j.level == pytest.approx(0.90)
    assert "TOST" in j.test and "90 % CI" in j.reason


def test_log_scale_compares_log_means_and_reports_ratios() -> None:
    c = Claim("drift", "damping shrinks the feature drift", "less", 1.1, scale="log")
    t, b = [0.50, 0.55, 0.60, 0.52], [1.00, 1.10, 0.90, 1.05]
    j = judge(c, t, b)
    lt, lb = np.log(t), np.log(b)
    lo, hi = stats.ttest_ind(lt, lb, equal_var=False).confidence_interval(0.95)
    assert j.effect == pytest.approx(math.exp(lt.mean() - lb.mean()))
    assert j.ci == pytest.approx((math.exp(lo), math.exp(hi)))
    assert j.margin == 1.1 and j.reference == 1.0 and j.scale == "log"
    assert j.verdict == REPRODUCED and "log scale" in j.reason and "ratios" in j.reason
    # a mere 5 % reduction measured precisely is significant but smaller than the 10 % margin
    tight = [1.00, 1.01, 0.99, 1.005]
    k = judge(c, [0.95 * v for v in tight[::-1]], tight)
    assert k.ci[1] < 1.0 and k.ci[0] > 1 / 1.1
    assert k.verdict == REPRODUCED and "smaller" in k.reason and "0.909×" in k.reason


def test_pairing_narrows_the_interval_on_a_designed_example() -> None:
    # seeds differ a lot (shared offsets) but the per-seed difference is nearly constant
    b = [70.0, 80.0, 60.0, 90.0, 75.0, 65.0]
    t = [v + d for v, d in zip(b, [2.0, 2.4, 1.8, 2.2, 2.1, 1.9])]
    paired, unpaired = judge(GREATER, t, b, paired=True), judge(GREATER, t, b)
    assert paired.ci[1] - paired.ci[0] < 0.1 * (unpaired.ci[1] - unpaired.ci[0])
    assert paired.verdict == REPRODUCED and unpaired.verdict == INCONCLUSIVE
    ref = stats.ttest_rel(t, b).confidence_interval(0.95)
    assert paired.ci == pytest.approx(ref, rel=1e-10) and paired.df == 5
    assert paired.effect == pytest.approx(unpaired.effect)


def test_paired_needs_equal_lengths_and_a_baseline() -> None:
    with pytest.raises(ResodeError, match="equal seed counts"):
        judge(GREATER, [1.0, 2.0, 3.0], [1.0, 2.0], paired=True)
    with pytest.raises(ResodeError, match="needs a baseline"):
        judge(GREATER, [1.0, 2.0, 3.0], paired=True)


SLOPE = Claim("slope", "the log-log slope is -1 (ODE-like)", "equivalent", 0.25, reference=-1.0)


@pytest.mark.parametrize(
    ("est", "lo", "hi", "verdict"),
    [
        (-0.95, -1.1, -0.8, REPRODUCED),
        (-0.5, -0.6, -0.4, CONTRADICTED),
        (-1.6, -1.7, -1.3, CONTRADICTED),
        (-0.8, -1.0, -0.6, INCONCLUSIVE),
    ],
)
def test_judge_interval_for_a_slope_claim(est, lo, hi, verdict) -> None:
    j = judge_interval(SLOPE, est, lo, hi, n=8, test="OLS slope, t df=6", se=0.05, df=6)
    assert j.verdict == verdict and j.effect == est and j.ci == (lo, hi)
    assert j.min_detectable_effect == pytest.approx(
        min_detectable_effect(0.05, 6, equivalence=True)
    )
    assert "[-1.25, -0.75]" in j.reason and j.n_seeds == (8,)


def test_judge_interval_without_se_recovers_it_from_the_width() -> None:
    c = Claim("gain", "x", "greater", 0.5)
    q = stats.norm.ppf(0.975)
    j = judge_interval(c, 1.0, 1.0 - q * 0.2, 1.0 + q * 0.2, n=10, test="bootstrap")
    assert j.verdict == REPRODUCED
    assert j.min_detectable_effect == pytest.approx(0.2 * (q + stats.norm.ppf(0.8)))
    k = judge_interval(c, 1.0, 0.0, 2.0, n=1, test="bootstrap")
    assert k.verdict == INCONCLUSIVE and k.ci == (-math.inf, math.inf)
    for lo, hi, se in ((1.0, 1.0, None), (0.9, 1.1, 0.0), (math.nan, 1.1, None)):
        z = judge_interval(c, 1.0, lo, hi, n=10, test="bootstrap", se=se)
        assert z.verdict == INCONCLUSIVE and z.ci == (-math.inf, math.inf)


def test_mde_achieves_the_stated_power() -> None:
    """At a true effect = MDE the two-sided t test rejects with power ≈ 0.8 (noncentral t)."""
    for n in (3, 5, 10, 30):
        se, df = 1 / math.sqrt(n), n - 1
        q, nc = stats.t.ppf(0.975, df), min_detectable_effect(se, df) / se
        power = stats.nct.sf(q, df, nc) + stats.nct.cdf(-q, df, nc)
        assert 0.75 < power < 0.85


def test_equivalence_mde_gives_tost_power_at_zero_difference() -> None:
    """With margin = MDE and no true difference, TOST shows equivalence in ≈ 80 % of runs."""
    n, df = 6, 5
    m = min_detectable_effect(1 / math.sqrt(n), df, equivalence=True)
    x = np.random.default_rng(0).standard_normal((20000, n))
    mean, se = x.mean(1), x.std(1, ddof=1) / math.sqrt(n)
    h = stats.t.ppf(0.95, df) * se
    assert 0.75 < np.mean((mean - h > -m) & (mean + h < m)) < 0.87


def welch_equal_n_mde(s1: float, s2: float, n: int, **kw) -> float:
    v1, v2 = s1 * s1, s2 * s2
    return min_detectable_effect(math.sqrt((v1 + v2) / n), welch_df(v1, n, v2, n), **kw)


def test_mde_decreases_with_n() -> None:
    mdes = [welch_equal_n_mde(2.0, 5.0, n) for n in range(2, 60)]
    assert all(a > b for a, b in itertools.pairwise(mdes))
    one = [min_detectable_effect(1 / math.sqrt(n), n - 1, equivalence=True) for n in range(2, 60)]
    assert all(a > b for a, b in itertools.pairwise(one))


@pytest.mark.parametrize("claim", [GREATER, EQUIV])
def test_seeds_needed_is_the_smallest_sufficient_n(claim) -> None:
    t, b = [12.0, 6.0, 15.0, 9.0], [9.0, 14.0, 7.0]
    j = judge(claim, t, b)
    s1, s2 = np.std(t, ddof=1), np.std(b, ddof=1)
    n, eq = j.seeds_needed, claim.direction == "equivalent"
    assert n is not None and 3 < n <= SEEDS_CAP
    assert welch_equal_n_mde(s1, s2, n, equivalence=eq) <= claim.margin
    assert welch_equal_n_mde(s1, s2, n - 1, equivalence=eq) > claim.margin


def test_seeds_to_detect_one_sample_cap_and_no_spread() -> None:
    n = seeds_to_detect(2.0, 1.0)
    assert min_detectable_effect(2 / math.sqrt(n), n - 1) <= 1.0
    assert min_detectable_effect(2 / math.sqrt(n - 1), n - 2) > 1.0
    assert seeds_to_detect(100.0, 1e-3) == SEEDS_CAP + 1
    assert format_seeds(SEEDS_CAP + 1) == ">10000" and format_seeds(None) == "unknown"
    assert seeds_to_detect(0.0, 1.0) is None and seeds_to_detect(math.nan, 1.0) is None


def test_to_dict_is_json_and_round_trips() -> None:
    for j in (judge(GREATER, [1.0], BASE), judge(GREATER, shifted(BASE, 3.0), BASE[::-1])):
        d = j.to_dict()
        text = json.dumps(d, allow_nan=False)
        back = Judgement.from_dict(json.loads(text))
        assert back.to_dict() == d and back.ci == j.ci and back.verdict == j.verdict
        for key in (
            "verdict",
            "effect",
            "ci",
            "margin",
            "min_detectable_effect",
            "n_seeds",
            "test",
            "seeds_needed",
            "reason",
            "claim",
        ):
            assert key in d
    assert judge(GREATER, [1.0], BASE).to_dict()["ci"] == ["-inf", "inf"]


def test_reason_is_one_computed_sentence() -> None:
    j = judge(GREATER, [12.0, 6.0, 15.0], [9.0, 14.0, 7.0])
    assert (
        j.reason.startswith(f"{j.verdict}:" if j.finding == NO_FINDING else f"{j.verdict} (")
        and j.reason.count(". ") == 0
    )
    assert f"{j.effect:+.3g} points" in j.reason and f"{j.ci[0]:.3g}" in j.reason
    assert format_judgement(j) == f"{GREATER.name}: {j.reason}"


def test_summary_rows() -> None:
    rows = summary_rows([judge(GREATER, [12.0, 6.0, 15.0], [9.0, 14.0, 7.0])])
    assert set(rows[0]) >= {"claim", "verdict", "effect", "ci", "margin", "mde", "n_seeds", "test"}
    assert rows[0]["n_seeds"] == "3/3" and rows[0]["verdict"] == INCONCLUSIVE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"margin": 0.0},
        {"margin": math.inf},
        {"direction": "bigger"},
        {"confidence": 1.0},
        {"scale": "log", "margin": 0.9},
        {"scale": "sqrt"},
    ],
)
def test_invalid_claims_raise(kwargs) -> None:
    base = {"name": "c", "text": "t", "direction": "greater", "margin": 1.0} | kwargs
    with pytest.raises(ResodeError):
        Claim(**base)


# ---- written from mutation testing's survivors ------------------------------------------------


def test_invalid_claim_messages_name_the_problem() -> None:
    with pytest.raises(ResodeError, match=r"claim 'c': margin 0\.0 must be finite and > 0$"):
        Claim("c", "t", "greater", 0.0)
    with pytest.raises(ResodeError, match=r"margin 0\.9 must be finite and > 1 \(a ratio, e\.g"):
        Claim("c", "t", "greater", 0.9, scale="log")


def test_mde_at_one_degree_of_freedom_is_the_closed_form() -> None:
    # t_{0.975,1} = tan(0.475π), t_{0.8,1} = tan(0.3π): the Cauchy quantiles
    expected = 2.0 * (math.tan(0.475 * math.pi) + math.tan(0.3 * math.pi))
    assert min_detectable_effect(2.0, 1.0) == pytest.approx(expected, rel=1e-12)
    assert min_detectable_effect(2.0, 0.0) == math.inf
    assert min_detectable_effect(0.0, 5.0) == math.inf


def test_reasons_without_an_interval_are_exact() -> None:
    j = judge(GREATER, [7.0, 7.0, 7.0])
    assert j.reason.startswith(
        "inconclusive: effect +7 points, no interval (zero variance across seeds), "
        "so this run cannot tell whether it meets the margin +1 points; "
        "minimum detectable effect not estimable, seeds per group to detect the margin: unknown"
    )
    k = judge_interval(GREATER, 1.0, 0.5, 0.5, n=10, test="t")
    assert "no interval (a zero-width interval)," in k.reason
    z = judge_interval(GREATER, 1.0, 0.0, 2.0, n=10, test="t", se=0.0)
    assert "no interval (a zero-width interval)," in z.reason


def test_judge_interval_on_the_log_scale_takes_ratios() -> None:
    c = Claim("drift", "damping shrinks the drift", "less", 1.1, scale="log")
    j = judge_interval(c, 0.8, 0.7, 0.9, n=6, test="t", se=0.05, df=5.0)
    assert j.verdict == REPRODUCED  # the ratio interval lies below 1
    assert j.effect == pytest.approx(0.8) and j.ci == pytest.approx((0.7, 0.9))
    assert j.min_detectable_effect == pytest.approx(math.exp(min_detectable_effect(0.05, 5.0)))
    assert judge_interval(c, 1.3, 1.2, 1.4, n=6, test="t").verdict == CONTRADICTED
    bad = judge_interval(c, 0.8, -0.1, 0.9, n=6, test="t")  # a non-positive ratio
    assert bad.verdict == INCONCLUSIVE and bad.ci == (0.0, math.inf)  # exp of (−∞, ∞)


def test_summary_rows_format_differences_signed_and_ratios_plain() -> None:
    log = Claim("drift", "x", "less", 1.1, scale="log")
    lin = judge_interval(GREATER, 2.0, 1.5, 2.5, n=8, test="t", se=0.2, df=6.0)
    rat = judge_interval(log, 0.8, 0.7, 0.9, n=8, test="t", se=0.05, df=6.0)
    rows = summary_rows([lin, rat])
    assert (rows[0]["effect"], rows[0]["ci"], rows[0]["margin"]) == ("+2", "[+1.5, +2.5]", "1")
    assert (rows[1]["effect"], rows[1]["ci"], rows[1]["margin"]) == ("0.8", "[0.7, 0.9]", "1.1")
    assert rows[0]["mde"] == f"{lin.min_detectable_effect:.3g}" and rows[0]["n_seeds"] == "8"
    assert rows[0]["test"] == "t" and rows[0]["seeds_needed"] == format_seeds(lin.seeds_needed)


SMALLER = "the effect is smaller than the claim's margin"
R_GREATER = Claim("g", "x", "greater", 1.0, reference=0.5, unit="points")
R_LESS = Claim("l", "x", "less", 1.0, reference=0.5, unit="points")


def _why(claim: Claim, est: float, lo: float, hi: float) -> tuple[str, str]:
    """(verdict, reason after "(t) ") of an interval judged with a known SE and df."""
    j = judge_interval(claim, est, lo, hi, n=8, test="t", se=0.3, df=6.0)
    return j.verdict, j.reason.split("(t) ", 1)[1]


@pytest.mark.parametrize(
    ("est", "lo", "hi", "verdict", "why"),
    [
        (
            2.0,
            1.0,
            3.0,
            REPRODUCED,
            "lies above 0.5 points, and the estimate reaches the margin +1.5 points.",
        ),
        (
            1.2,
            0.8,
            3.0,
            REPRODUCED,
            "lies above 0.5 points, and the estimate is below the margin +1.5 points.",
        ),
        (
            1.5,
            0.8,
            3.0,
            REPRODUCED,
            "lies above 0.5 points, and the estimate reaches the margin +1.5 points.",
        ),  # est − r = m
        (
            0.9,
            0.7,
            1.1,
            REPRODUCED,
            f"lies above 0.5 points, but wholly below the margin +1.5 points: {SMALLER}.",
        ),
        (
            1.0,
            0.75,
            1.5,
            REPRODUCED,
            "lies above 0.5 points, and the estimate is below the margin +1.5 points.",
        ),  # hi − r = m
        (
            0.0,
            -0.5,
            0.3,
            CONTRADICTED,
            "lies below 0.5 points, opposite to the claim (the margin +1.5 points).",
        ),
        (0.8, 0.2, 1.2, CONTRADICTED, "excludes the margin +1.5 points that the claim needs."),
        (
            0.0,
            -0.5,
            0.5,
            CONTRADICTED,
            "excludes the margin +1.5 points that the claim needs.",
        ),  # hi = r
        (
            1.0,
            0.5,
            2.0,
            INCONCLUSIVE,
            "contains 0.5 points and reaches the margin +1.5 points;",
        ),  # lo = r
        (
            0.8,
            0.0,
            1.5,
            INCONCLUSIVE,
            "contains 0.5 points and reaches the margin +1.5 points;",
        ),  # hi − r = m
    ],
)
def test_greater_regions_and_edges_with_a_reference(est, lo, hi, verdict, why) -> None:
    v, text = _why(R_GREATER, est, lo, hi)
    assert v == verdict and text.startswith(why)


@pytest.mark.parametrize(
    ("est", "lo", "hi", "verdict", "why"),
    [
        (
            -1.0,
            -2.0,
            0.0,
            REPRODUCED,
            "lies below 0.5 points, and the estimate reaches the margin -0.5 points.",
        ),
        (
            0.0,
            -1.0,
            0.2,
            REPRODUCED,
            "lies below 0.5 points, and the estimate is above the margin -0.5 points.",
        ),
        (
            0.2,
            0.0,
            0.4,
            REPRODUCED,
            f"lies below 0.5 points, but wholly above the margin -0.5 points: {SMALLER}.",
        ),
        (
            1.0,
            0.8,
            1.5,
            CONTRADICTED,
            "lies above 0.5 points, opposite to the claim (the margin -0.5 points).",
        ),
        (0.4, 0.0, 0.8, CONTRADICTED, "excludes the margin -0.5 points that the claim needs."),
        (0.0, -1.0, 1.0, INCONCLUSIVE, "contains 0.5 points and reaches the margin -0.5 points;"),
    ],
)
def test_less_regions_with_a_reference(est, lo, hi, verdict, why) -> None:
    v, text = _why(R_LESS, est, lo, hi)
    assert v == verdict and text.startswith(why)


@pytest.mark.parametrize(
    ("lo", "hi", "verdict", "why"),
    [
        (-1.1, -0.9, REPRODUCED, "lies inside"),
        (-1.25, -0.9, INCONCLUSIVE, "reaches across an edge of"),  # lo = r − m: not inside
        (-1.1, -0.75, INCONCLUSIVE, "reaches across an edge of"),  # hi = r + m
        (-0.75, -0.5, INCONCLUSIVE, "reaches across an edge of"),  # lo = r + m: not outside
        (-1.5, -1.25, INCONCLUSIVE, "reaches across an edge of"),  # hi = r − m
        (-1.4, -1.1, INCONCLUSIVE, "reaches across an edge of"),  # across the lower edge
        (-1.6, -1.3, CONTRADICTED, "lies entirely outside"),
        (-0.7, -0.5, CONTRADICTED, "lies entirely outside"),
    ],
)
def test_equivalence_edges_are_strict(lo, hi, verdict, why) -> None:
    j = judge_interval(SLOPE, (lo + hi) / 2, lo, hi, n=8, test="t", se=0.05, df=6.0)
    assert j.verdict == verdict
    assert f"(t) {why} the equivalence band [-1.25, -0.75]" in j.reason


def _mde_scipy(se: float, df: float, conf: float, power: float, eq: bool) -> float:
    a = 1 - conf
    if df <= 0:
        return math.inf
    if eq:
        return (stats.t.ppf(1 - a, df) + stats.t.ppf((1 + power) / 2, df)) * se
    return (stats.t.ppf(1 - a / 2, df) + stats.t.ppf(power, df)) * se


def _first_n(mde_of_n, margin: float, start: int = 2) -> int:
    """The smallest n ≥ start with mde(n) ≤ margin, by linear search (the definition)."""
    n = start
    while mde_of_n(n) > margin:
        n += 1
    return n


@pytest.mark.parametrize("margin", [50.0, 8.0, 3.0, 1.7, 1.2, 0.9, 0.6, 0.45])
@pytest.mark.parametrize(("conf", "power", "eq"), [(0.95, 0.8, False), (0.9, 0.9, True)])
def test_seeds_to_detect_is_the_smallest_n_by_definition(margin, conf, power, eq) -> None:
    kw = {"confidence": conf, "power": power, "equivalence": eq}
    one = seeds_to_detect(1.0, margin, **kw)
    assert isinstance(one, int)
    assert one == _first_n(lambda n: _mde_scipy(1 / math.sqrt(n), n - 1, conf, power, eq), margin)
    lost3 = seeds_to_detect(1.0, margin, df_lost=3.0, **kw)  # e.g. a slope fit: df = n − 3
    assert lost3 == _first_n(lambda n: _mde_scipy(1 / math.sqrt(n), n - 3, conf, power, eq), margin)
    s1, s2 = 0.5, 1.5  # two groups of n each, Satterthwaite df
    df2 = (s1**2 + s2**2) ** 2 / (s1**4 + s2**4)
    two = seeds_to_detect((s1, s2), margin, **kw)
    assert isinstance(two, int)
    assert two == _first_n(
        lambda n: _mde_scipy(math.sqrt((s1**2 + s2**2) / n), (n - 1) * df2, conf, power, eq), margin
    )


def test_seeds_to_detect_edges() -> None:
    assert seeds_to_detect(0.5, 100.0) == 2  # two seeds already suffice; a spread below 1
    cap_margin = min_detectable_effect(2.0 / math.sqrt(SEEDS_CAP), SEEDS_CAP - 1)
    assert seeds_to_detect(2.0, cap_margin) == SEEDS_CAP  # MDE(cap) = margin exactly: enough
    assert seeds_to_detect(1.0, 0.0) is None and seeds_to_detect((1.0, math.inf), 1.0) is None
    assert format_seeds(SEEDS_CAP) == "10000"


@pytest.mark.parametrize("direction", ["greater", "equivalent"])
def test_mde_and_seeds_use_the_claims_confidence(direction) -> None:
    t, b = [12.0, 6.0, 15.0, 9.0], [9.0, 14.0, 7.0]
    v1, v2 = np.var(t, ddof=1), np.var(b, ddof=1)
    se, df = math.sqrt(v1 / 4 + v2 / 3), welch_df(v1, 4, v2, 3)
    c = Claim("c", "x", direction, 1.0, confidence=0.9)
    eq = direction == "equivalent"
    j = judge(c, t, b)
    assert j.min_detectable_effect == pytest.approx(_mde_scipy(se, df, 0.9, 0.8, eq))
    df2 = (v1 + v2) ** 2 / (v1 * v1 + v2 * v2)
    assert j.seeds_needed == _first_n(
        lambda n: _mde_scipy(math.sqrt((v1 + v2) / n), (n - 1) * df2, 0.9, 0.8, eq), 1.0
    )
    k = judge_interval(c, 1.0, 0.0, 2.0, n=8, test="t", se=0.4, df=6.0)
    assert k.min_detectable_effect == pytest.approx(_mde_scipy(0.4, 6.0, 0.9, 0.8, eq))
    sd = 0.4 * math.sqrt(8)  # SE scales as 1/√n with df = n − (8 − 6)
    assert k.seeds_needed == _first_n(
        lambda n: _mde_scipy(sd / math.sqrt(n), n - 2, 0.9, 0.8, eq), 1.0
    )
    assert k.df == 6.0


def test_judge_interval_recovers_se_from_a_t_interval() -> None:
    c = Claim("gain", "x", "greater", 0.5)
    q = stats.t.ppf(0.975, 4)
    j = judge_interval(c, 1.0, 1.0 - q * 0.2, 1.0 + q * 0.2, n=6, test="t", df=4.0)
    assert j.min_detectable_effect == pytest.approx(0.2 * (q + stats.t.ppf(0.8, 4)))
    assert j.df == 4.0 and judge_interval(c, 1.0, 0.9, 1.1, n=6, test="t").df == math.inf
    none = judge_interval(c, 1.0, 0.0, 2.0, n=1, test="t")
    assert math.isnan(none.df) and none.n_seeds == (1,) and none.test == "t"


def test_test_names_state_the_design() -> None:
    b = [10.1, 10.4, 10.9, 9.6, 10.3]
    assert judge(GREATER, BASE).test == "one-sample t, df=4"
    assert judge(GREATER, BASE, b).test.startswith("Welch t, Satterthwaite df=")
    assert judge(GREATER, BASE, b, paired=True).test == "paired t, df=4"
    assert judge(EQUIV, BASE, b, paired=True).test == "paired t, df=4, TOST"
    log = Claim("r", "x", "less", 1.1, scale="log")
    assert judge(log, BASE, b).test.endswith(" on log values")
    assert judge(log, BASE).test == "one-sample t, df=4 on log values"
    # no interval: the design is still named
    assert judge(GREATER, [1.0], b).test == "Welch t"
    assert judge(EQUIV, [1.0], b, paired=False).test == "Welch t, TOST"
    assert judge(log, [2.0, 2.0]).test == "one-sample t on log values"


def test_empty_groups_give_nan_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for j in (judge(GREATER, []), judge(GREATER, [], BASE), judge(GREATER, BASE, [])):
            assert math.isnan(j.effect) and j.verdict == INCONCLUSIVE


def test_zero_variance_threshold_is_relative_to_the_mean() -> None:
    b = [0.0, 0.1, 0.2]

    def why(t: list[float]) -> str:
        return judge(GREATER, t).reason  # one sample: a flat group has no interval

    assert "zero variance" not in judge(GREATER, [10.0, 11.0, 12.0], b).reason  # s = 1 exactly
    assert "zero variance" in why([0.3, 0.1 + 0.2, 0.3])  # equal up to rounding
    assert "zero variance" in why([1e6, 1e6 + 2.3e-10, 1e6])  # s/|m| ≈ 1e-16
    # sample sd (ddof = 1) against 1e-12·|mean|, on both sides of the threshold
    assert "zero variance" not in why([1.0, 1.0 + 1.6e-12])  # s = 1.13e-12
    assert "zero variance" in why([1.0, 1.0, 1.0 + 1.56e-12])  # s = 0.90e-12
    two = judge(GREATER, [12.0, 13.0], [10.0, 10.5])  # two seeds per group suffice
    lo, hi = stats.ttest_ind([12.0, 13.0], [10.0, 10.5], equal_var=False).confidence_interval()
    assert two.ci == pytest.approx((lo, hi), rel=1e-10)
    assert judge_interval(GREATER, 1.0, 0.0, 2.0, n=2, test="t").verdict == INCONCLUSIVE
    assert math.isfinite(judge_interval(GREATER, 1.0, 0.0, 2.0, n=2, test="t").ci[0])


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (([1.0], BASE), "fewer than two seeds in a group"),
        (([1.0, math.nan], BASE), "a non-finite value"),
        (([7.0, 7.0], [3.0, 3.0]), "zero variance across seeds in every group"),
    ],
)
def test_problem_reasons_are_exact(args, problem) -> None:
    assert f"no interval ({problem}), so" in judge(GREATER, *args).reason
    log = Claim("r", "x", "greater", 1.1, scale="log")
    assert "no interval (a non-positive or non-finite value)" in judge(log, [1.0, -1.0]).reason


@pytest.mark.parametrize(
    ("n", "lo", "hi", "problem"),
    [
        (1, 0.0, 2.0, "fewer than two seeds"),
        (5, 2.0, 0.0, "a non-finite, non-positive (log scale) or disordered interval"),
        (5, math.nan, 2.0, "a non-finite, non-positive (log scale) or disordered interval"),
        (5, 1.0, 1.0, "a zero-width interval"),
    ],
)
def test_interval_problem_reasons_are_exact(n, lo, hi, problem) -> None:
    j = judge_interval(GREATER, 1.0, lo, hi, n=n, test="t")
    assert f"no interval ({problem}), so" in j.reason and j.verdict == INCONCLUSIVE


def test_claim_messages_and_the_confidence_range() -> None:
    with pytest.raises(ResodeError, match=r"^claim 'c': direction 'up' is unknown; use 'greater'"):
        Claim("c", "t", "up", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ResodeError, match=r"^claim 'c': scale 'sqrt'; use 'linear' or 'log'$"):
        Claim("c", "t", "greater", 1.0, scale="sqrt")  # type: ignore[arg-type]
    with pytest.raises(ResodeError, match=r"^claim 'c': confidence 0\.5 must lie in \(0\.5, 1\)"):
        Claim("c", "t", "greater", 1.0, confidence=0.5)
    assert Claim("c", "t", "greater", 1.0, confidence=0.51).level == pytest.approx(0.51)


def test_to_dict_writes_finite_numbers_as_numbers() -> None:
    j = judge(GREATER, [12.0, 6.0, 15.0], [9.0, 14.0, 7.0])
    d = j.to_dict()
    assert d["effect"] == j.effect and isinstance(d["effect"], float)
    assert d["seeds_needed_text"] == str(j.seeds_needed) and j.seeds_needed is not None


@pytest.mark.parametrize("n0", [3, 7, 40])
def test_seeds_to_detect_counts_an_mde_equal_to_the_margin_as_enough(n0) -> None:
    margin = min_detectable_effect(1.5 / math.sqrt(n0), n0 - 1)
    assert seeds_to_detect(1.5, margin) == n0
    assert min_detectable_effect(-1.0, 5.0) == math.inf  # a non-positive SE has no MDE


def test_whole_reason_sentences() -> None:
    j = judge_interval(R_GREATER, 2.0, 1.0, 3.0, n=8, test="t", se=0.3, df=6.0)
    assert j.reason == (
        "reproduced (shown in the claimed direction): effect +2 points, 95 % CI [1, 3] points "
        "(t) lies above 0.5 points, "
        "and the estimate reaches the margin +1.5 points."
    )
    assert (j.direction, j.unit, j.scale, j.reference) == ("greater", "points", "linear", 0.5)
    e = judge_interval(EQUIV, 0.2, -0.5, 0.9, n=8, test="t", se=0.3, df=6.0)
    assert e.reason == (
        "reproduced (equivalent within the margin): effect +0.2 points, 90 % CI [-0.5, 0.9] "
        "points (t) lies inside "
        "the equivalence band [-1, 1] points."
    )
    s = judge_interval(SLOPE, -0.95, -1.1, -0.8, n=8, test="t", se=0.05, df=6.0)
    assert s.reason == (
        "reproduced (equivalent within the margin): effect -0.95, 90 % CI [-1.1, -0.8] (t) "
        "lies inside "
        "the equivalence band [-1.25, -0.75]."
    )
    log = Claim("drift", "x", "less", 1.1, scale="log")
    r = judge_interval(log, 0.8, 0.7, 0.9, n=6, test="t", se=0.05, df=5.0)
    assert r.reason == (
        "reproduced (shown at least the margin): effect 0.8×, 95 % CI [0.7, 0.9]× (t) lies "
        "below 1×, and the estimate "
        "reaches the margin 0.909× (compared on the log scale; effect, CI and margin are ratios)."
    )
    assert (r.direction, r.unit, r.scale) == ("less", "", "log")


def test_float32_values_are_judged_in_float64() -> None:
    t = np.array([0.71, 0.74, 0.69, 0.73], dtype=np.float32)
    b = np.array([0.61, 0.66, 0.63, 0.60], dtype=np.float32)
    j, k = judge(GREATER, t, b), judge(GREATER, t.astype(np.float64), b.astype(np.float64))
    assert j.ci == k.ci and j.effect == k.effect


@pytest.mark.parametrize(
    ("direction", "se", "df"),
    [
        ("greater", 0.35, 4.0),
        ("equivalent", 0.4, 4.0),
        ("equivalent", 0.2, 4.0),
        ("less", 0.35, None),
    ],
)
def test_judge_interval_seeds_needed_by_definition(direction, se, df) -> None:
    """SE·√6 is the per-seed spread; df = n − (6 − df) (n − 1 without df); TOST quantiles for
    "equivalent" (the cases are chosen where these choices change the answer)."""
    c = Claim("c", "x", direction, 1.0)
    eq = direction == "equivalent"
    j = judge_interval(c, 0.0, -0.5, 0.5, n=6, test="t", se=se, df=df)
    lost = 1.0 if df is None else 6 - df
    sd = se * math.sqrt(6)
    expected = _first_n(lambda n: _mde_scipy(sd / math.sqrt(n), n - lost, 0.95, 0.8, eq), 1.0)
    assert j.seeds_needed == expected


def test_inconclusive_reason_states_the_mde() -> None:
    j = judge(GREATER, [12.0, 6.0, 15.0], [9.0, 14.0, 7.0])
    assert j.verdict == INCONCLUSIVE and math.isfinite(j.min_detectable_effect)
    assert f"; minimum detectable effect {j.min_detectable_effect:.3g} points, " in j.reason
