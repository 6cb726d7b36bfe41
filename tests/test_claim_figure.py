"""The claims figure says the headline (adjusted) verdict, never only the unadjusted one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from resode.reproduce.claims import ClaimResult, adjust_claims
from resode.reproduce.figures import claim_label, claims_figure
from resode.verdicts import Claim, judge


def test_the_label_is_the_headline_with_the_unadjusted_verdict_beside_it() -> None:
    c = SimpleNamespace(
        name="robust_auc",
        model="inresnet20",
        role="primary",
        verdict="inconclusive",
        raw_verdict="contradicted",
    )
    assert claim_label(c) == "robust_auc · In-ResNet-20: inconclusive (unadjusted: contradicted)"
    c.verdict = "contradicted"
    assert claim_label(c) == "robust_auc · In-ResNet-20: contradicted"
    s = SimpleNamespace(
        name="drift_noise", model=None, role="secondary", verdict="x", raw_verdict="reproduced"
    )
    assert claim_label(s) == "drift_noise: secondary, never decides (unadjusted: reproduced)"


def test_the_figure_is_drawn_from_adjusted_claims(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    greater = Claim("robust_auc", "x", "greater", 1.0, unit="points")
    j = judge(greater, rng.normal(3.0, 1.0, 8), rng.normal(0.0, 1.0, 8))
    claims = adjust_claims([ClaimResult("A", "robust_auc", "x", j, "", model="inresnet20")])
    path = claims_figure(claims, tmp_path / "claims.png")
    assert path.exists() and path.stat().st_size > 1000


def test_the_json_words_are_the_headline_and_the_raw_sentence_is_marked() -> None:
    """Where Holm changes the verdict, results.json / claims.csv must not state the raw one as
    if it were the headline: verdict, finding, reason and evidence are the headline's."""
    from resode.analysis_plan import Adjusted

    rng = np.random.default_rng(1)
    greater = Claim("robust_auc", "x", "greater", 1.0, unit="points")
    j = judge(greater, rng.normal(3.0, 1.0, 8), rng.normal(0.0, 1.0, 8))
    c = ClaimResult("A", "robust_auc", "x", j, f"In-ResNet-20 vs ResNet-20: {j.reason}", "m")
    assert j.verdict == "reproduced"
    c.adjusted = Adjusted("inconclusive", "inconclusive", (1.0, 1.0, 1.0, 1.0), "A")
    d = c.to_dict()
    assert (d["verdict"], d["finding"]) == ("inconclusive", "inconclusive")
    assert (d["raw_verdict"], d["raw_finding"], d["raw_reason"]) == (j.verdict, j.finding, j.reason)
    for key in ("reason", "evidence"):
        assert d[key].startswith("headline inconclusive (inconclusive); unadjusted: ")
