"""The claims of ``resode reproduce`` on constructed per-seed results with known verdicts.

Each claim must read the right metric in the right direction: a damped model that is clearly
better on exactly that metric is ``reproduced``, clearly worse is ``contradicted``, and
differences on other metrics do not move it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from resode.reproduce import get_preset
from resode.reproduce.claims import (
    ADVERSARIAL,
    CLEAN,
    DRIFT_ADV,
    DRIFT_NOISE,
    GAIN,
    LANDSCAPE,
    NOISE,
    paper_a_claims,
    paper_b_claims,
)
from resode.reproduce.paper_a import PaperAResult, RunRecord, robust_auc

BASE = {
    "clean": 0.95,
    "noise_pooled": 0.85,
    "noise_drop": 0.10,
    "robust_auc": 0.60,
    "stability/drift_noise_last": 0.20,
    "stability/drift_adv_last": 0.50,
    "stability/cum_gain_random": 2.0,
    "landscape/loss_rise_adv": 1.0,
}
JITTER = (-0.002, 0.0, 0.002, 0.001, -0.001)  # seed-to-seed spread, same for every metric


def _runs(model: str, metrics: dict[str, float]) -> list[RunRecord]:
    out = []
    for seed, j in enumerate(JITTER):
        m = {k: v * (1 + j) for k, v in metrics.items()}
        out.append(RunRecord(model, seed, Path("."), None, m))
    return out


def _result(damped: dict[str, float]) -> PaperAResult:
    runs = _runs("resnet20", BASE) + _runs("inresnet20", {**BASE, **damped})
    return PaperAResult(runs, [], {}, [8 / 255], ["8/255"], 100, 100)


def _verdicts(damped: dict[str, float]) -> dict[str, str]:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    return {c.name: c.verdict for c in paper_a_claims(cfg, _result(damped))}


def test_identical_models_reproduce_only_equivalence() -> None:
    v = _verdicts({})
    assert v[CLEAN.name] == "reproduced"
    for claim in (NOISE, ADVERSARIAL, DRIFT_NOISE, DRIFT_ADV, GAIN, LANDSCAPE):
        assert v[claim.name] == "contradicted", claim.name  # zero effect excludes the margin


@pytest.mark.parametrize(
    ("claim", "metric", "better", "worse"),
    [
        (NOISE, "noise_drop", 0.05, 0.15),
        (ADVERSARIAL, "robust_auc", 0.70, 0.50),
        (DRIFT_NOISE, "stability/drift_noise_last", 0.10, 0.40),
        (DRIFT_ADV, "stability/drift_adv_last", 0.25, 1.0),
        (GAIN, "stability/cum_gain_random", 1.0, 4.0),
        (LANDSCAPE, "landscape/loss_rise_adv", 0.5, 2.0),
    ],
)
def test_each_claim_reads_its_metric_in_its_direction(
    claim: object, metric: str, better: float, worse: float
) -> None:
    name = claim.name  # type: ignore[attr-defined]
    assert _verdicts({metric: better})[name] == "reproduced"
    assert _verdicts({metric: worse})[name] == "contradicted"
    # the other claims do not move with this metric
    for other, verdict in _verdicts({metric: better}).items():
        if other not in (name, CLEAN.name):
            assert verdict == "contradicted", (name, other)


def test_noise_claim_is_judged_on_the_drop_not_on_raw_accuracy() -> None:
    # damped: 3 points more clean accuracy and 3 points more noisy accuracy = the same drop
    v = _verdicts({"clean": 0.98, "noise_pooled": 0.88})
    assert v[NOISE.name] == "contradicted"
    assert v[CLEAN.name] == "contradicted"  # 3 points is outside the ±1 point band


def test_one_seed_is_never_significant() -> None:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    runs = _runs("resnet20", BASE)[:1] + _runs("inresnet20", {**BASE, "robust_auc": 0.9})[:1]
    judged = paper_a_claims(cfg, PaperAResult(runs, [], {}, [], [], 1, 1))
    assert {c.verdict for c in judged} == {"inconclusive"}


def test_missing_runs_are_named_in_the_evidence() -> None:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    res = _result({"robust_auc": 0.7})
    res.failed = {"paper_a/inresnet20-seed5": "worker process died"}
    res.failed_models = {"paper_a/inresnet20-seed5": "inresnet20"}
    judged = paper_a_claims(cfg, res)
    assert all("paper_a/inresnet20-seed5" in c.evidence for c in judged)


def test_robust_auc_is_the_mean_accuracy_over_the_eps_range() -> None:
    # constant accuracy: AUC is that accuracy; linear decay from 1 to 0 over [0, ε]: 1/2
    assert robust_auc([0.1, 0.2], [0.8, 0.8], 0.8) == pytest.approx(0.8)
    assert robust_auc([0.5, 1.0], [0.5, 0.0], 1.0) == pytest.approx(0.5)
    assert robust_auc([2 / 255, 4 / 255], [0.9, 0.7], 1.0) == pytest.approx(
        (2 * (1 + 0.9) / 2 + 2 * (0.9 + 0.7) / 2) / 4
    )


def test_paper_b_claims_come_from_the_experiments_judgements() -> None:
    from types import SimpleNamespace

    from resode.analysis_plan import plan_claim
    from resode.ode.experiments import DEPTH_CLAIMS
    from resode.verdicts import judge_interval

    claim = plan_claim(**DEPTH_CLAIMS["ode"])
    j = judge_interval(claim, -1.0, -1.05, -0.95, n=4, test="t")
    judged = paper_b_claims(get_preset("tiny"), SimpleNamespace(judgements=lambda: [j]))
    assert [(c.part, c.name, c.verdict) for c in judged] == [("B", claim.name, "reproduced")]
    assert judged[0].text == claim.text and judged[0].evidence == j.reason


# ---- what each judged claim carries (written from mutation testing's survivors) ---------------


def test_each_result_carries_part_text_model_and_evidence() -> None:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    judged = paper_a_claims(cfg, _result({"robust_auc": 0.7}))
    claims = (NOISE, ADVERSARIAL, DRIFT_NOISE, DRIFT_ADV, GAIN, LANDSCAPE, CLEAN)
    assert [c.name for c in judged] == [c.name for c in claims] + ["lyapunov_stability"]
    ly = judged[-1]  # intersection–union: the component with the larger p_for decides
    weak = max(judged[2:4], key=lambda r: r.judgement.p_values[0])
    assert ly.judgement.p_values == weak.judgement.p_values and ly.role == "primary"
    for res, claim in zip(judged, claims):
        assert (res.part, res.text, res.model) == ("A", claim.text, "inresnet20")
        assert res.title == f"{claim.text} — In-ResNet-20"
        assert res.evidence == f"In-ResNet-20 vs ResNet-20: {res.judgement.reason}"  # no note
        d = res.to_dict()
        assert (d["part"], d["text"], d["model"], d["evidence"]) == (
            "A",
            claim.text,
            "inresnet20",
            res.evidence,
        )
        assert {k: d[k] for k in res.judgement.to_dict()} == res.judgement.to_dict()
        assert d["claim"] == claim.name and d["verdict"] == res.verdict


def test_missing_runs_of_other_models_are_not_named() -> None:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    res = _result({"robust_auc": 0.7})
    # the model comes from the failed task's parameters, never from parsing its key
    res.failed = {"cell-1": "oom", "cell-2": "died", "paper_a/inresnet20-seed5": "died"}
    res.failed_models = {
        "cell-1": "resnet20",
        "cell-2": "lambda_inresnet20",  # not one of the two compared models
        "paper_a/inresnet20-seed5": "resnet20",  # a key that names another model
    }
    for c in paper_a_claims(cfg, res):
        assert c.evidence.endswith(
            f"{c.judgement.reason} Missing runs (failed): cell-1, paper_a/inresnet20-seed5."
        )


def test_no_claims_without_the_baseline_or_a_second_model() -> None:
    models = ["resnet20", "inresnet20", "lambda_inresnet20"]
    cfg = get_preset("tiny", paper_a={"models": models})
    runs = _runs("inresnet20", BASE) + _runs("lambda_inresnet20", {**BASE, "robust_auc": 0.7})
    assert paper_a_claims(cfg, PaperAResult(runs, [], {}, [], [], 100, 100)) == []  # no baseline
    only_base = PaperAResult(_runs("resnet20", BASE), [], {}, [], [], 100, 100)
    assert paper_a_claims(cfg, only_base) == []
    # every damped model is judged against the baseline, in the configured order
    runs = _runs("resnet20", BASE) + runs
    judged = paper_a_claims(cfg, PaperAResult(runs, [], {}, [], [], 100, 100))
    assert [c.model for c in judged] == ["inresnet20", "lambda_inresnet20"] * 8
    auc = {c.model: c.verdict for c in judged if c.name == ADVERSARIAL.name}
    assert auc == {"inresnet20": "contradicted", "lambda_inresnet20": "reproduced"}


def test_a_metric_missing_everywhere_skips_only_its_claim() -> None:
    cfg = get_preset("tiny", paper_a={"models": ["resnet20", "inresnet20"]})
    partial = {k: v for k, v in BASE.items() if k != "noise_drop"}
    runs = _runs("resnet20", partial) + _runs("inresnet20", {**partial, "robust_auc": 0.7})
    judged = paper_a_claims(cfg, PaperAResult(runs, [], {}, [], [], 100, 100))
    assert [c.name for c in judged] == [
        c.name for c in (ADVERSARIAL, DRIFT_NOISE, DRIFT_ADV, GAIN, LANDSCAPE, CLEAN)
    ] + ["lyapunov_stability"]


def test_paper_b_texts_per_activation_and_unknown_names() -> None:
    from types import SimpleNamespace

    from resode.analysis_plan import plan_claim
    from resode.ode.experiments import ACCURACY_CLAIM, RELU_CLAIM, SMOOTHER_CLAIM
    from resode.verdicts import Claim, judge_interval

    def j(claim: Claim):  # an interval of positive values (ratios on a log scale)
        return judge_interval(claim, 0.2, 0.1, 0.3, n=4, test="t")

    js = [
        j(plan_claim("table1_tied_smoother_gelu", SMOOTHER_CLAIM["text"])),
        j(plan_claim("table1_test_acc_gelu_iid", ACCURACY_CLAIM["test"])),
        j(plan_claim(**RELU_CLAIM)),
        j(Claim("some_new_claim", text="x", direction="less", margin=0.1)),
    ]
    judged = paper_b_claims(get_preset("tiny"), SimpleNamespace(judgements=lambda: js))
    assert [c.text for c in judged] == [
        f"{SMOOTHER_CLAIM['text']} — gelu",
        f"{ACCURACY_CLAIM['test']} — gelu, iid",
        RELU_CLAIM["text"],
        "some_new_claim",  # a claim this module does not know keeps its name as text
    ]
    assert [c.model for c in judged] == [None] * 4 and {c.part for c in judged} == {"B"}
