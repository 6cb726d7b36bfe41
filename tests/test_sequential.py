"""Accumulating evidence: the group-sequential design, looks.json, resume with more seeds."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from resode.analysis.operating import optional_stopping, stopping_findings, tolerance
from resode.analysis_plan import ALPHA, SEQUENTIAL, adjust
from resode.errors import ResodeError
from resode.reproduce import get_preset
from resode.reproduce import looks as looks_mod
from resode.reproduce.claims import ClaimResult
from resode.reproduce.job import check_out_dir
from resode.sequential import (
    Design,
    LookStat,
    boundaries,
    confidence_sequence_halfwidth,
    crossing_levels,
    information,
    read,
    repeated_p,
)
from resode.verdicts import NO_FINDING, Claim, judge

GREATER = Claim("robust_auc", "x", "greater", 1.0, unit="points")


# ---- the design's mathematics ------------------------------------------------------------------


def test_boundaries_spend_exactly_the_declared_alpha() -> None:
    """c₁, c₂ against an independent computation: the bivariate normal law of (Z₁, Z₂) with
    correlation √(t₁/t₂) (scipy's mvn CDF, not the recursive integration)."""
    d, a = SEQUENTIAL, ALPHA / 2
    ts = (4 / 16, 8 / 16)
    c1, c2 = boundaries(ts, a, d.rho)
    assert stats.norm.sf(c1) == pytest.approx(d.spent(ts[0], a), rel=1e-9)
    rho = math.sqrt(ts[0] / ts[1])
    mvn = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
    # P(Z1 < c1, Z2 ≥ c2) = P(Z1 < c1) − P(Z1 < c1, Z2 < c2)
    second = stats.norm.cdf(c1) - mvn.cdf([c1, c2])
    assert second == pytest.approx(d.spent(ts[1], a) - d.spent(ts[0], a), abs=2e-6)
    assert c2 > stats.norm.isf(a)  # each look is stricter than a fixed test at a


def test_a_look_without_new_information_spends_nothing() -> None:
    assert boundaries((0.5, 0.5), 0.025, 0.15)[1] == math.inf
    assert boundaries((1.0, 1.0), 0.025, 0.15)[1] == math.inf
    assert information((4, 4), 16) == 0.25
    assert information((2, 6), 16) == pytest.approx(3 / 16)  # harmonic mean of 2 and 6
    assert information((40, 40), 16) == 1.0


def test_repeated_p_is_the_smallest_level_whose_boundary_is_crossed() -> None:
    d = SEQUENTIAL
    ts = (4 / 16, 6 / 16, 8 / 16)
    zs = (1.2, 2.0, 2.9)
    q = repeated_p(zs, ts, d.rho)
    for a in (q * 0.98, q * 1.02):
        crossed = any(z >= c for z, c in zip(zs, boundaries(ts, a, d.rho), strict=True))
        assert crossed == (a > q)
    levels = crossing_levels(zs, ts, d.rho)
    assert q == min(levels) and levels[0] == pytest.approx(stats.norm.sf(1.2) / 0.25**d.rho)


def test_one_look_at_n_max_is_todays_fixed_n_verdict() -> None:
    """Information 1 at the first look spends all of α: the sequential p-values are the fixed
    rule's, so an unextended run planned at n_max reads exactly as today."""
    rng = np.random.default_rng(3)
    n = SEQUENTIAL.n_max
    for shift in (0.0, 0.8, 1.6, -1.2):
        t, b = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
        j = judge(GREATER, t, b)
        r = read("greater", 0.0, 1.0, [LookStat.of(j)], SEQUENTIAL, ALPHA)
        assert r.p_values == pytest.approx(j.p_values, rel=1e-6, abs=1e-9)
        assert r.finding == j.finding


def test_first_look_of_the_default_design_costs_little() -> None:
    """The first look of the default design (4 of n_max seeds) keeps most of α (ρ < 1), and
    its sequential p is the fixed one divided by t^ρ."""
    level = SEQUENTIAL.first_look_cost(4, ALPHA)
    assert 0.8 * ALPHA < level < ALPHA
    rng = np.random.default_rng(0)
    j = judge(GREATER, rng.normal(2.5, 1.0, 4), rng.normal(0.0, 1.0, 4))
    r = read("greater", 0.0, 1.0, [LookStat.of(j)], SEQUENTIAL, ALPHA)
    assert r.p_values[0] > j.p_values[0]
    # the Lai confidence sequence (the rejected alternative) is much wider at 4 values
    assert confidence_sequence_halfwidth(4) * 2 > 1.5 * stats.t.isf(0.025, 3)


def test_a_finding_stays_once_a_boundary_was_crossed() -> None:
    """The repeated p-value is a running minimum: seeds added after a crossing cannot undo it."""
    rng = np.random.default_rng(5)
    t, b = rng.normal(3.0, 1.0, 12), rng.normal(0.0, 1.0, 12)
    t[4:] -= 3.0  # later seeds show nothing
    hist = [LookStat.of(judge(GREATER, t[:n], b[:n])) for n in (4, 8, 12)]
    reads = [read("greater", 0.0, 1.0, hist[:k], SEQUENTIAL, ALPHA) for k in (1, 2, 3)]
    assert reads[0].finding != NO_FINDING and reads[2].finding == reads[0].finding
    assert reads[2].decided_at == 1
    assert all(r2.p_values[0] <= r1.p_values[0] for r1, r2 in itertools.pairwise(reads))


def test_equivalence_and_voided_looks() -> None:
    eq = Claim("clean_equivalent", "x", "equivalent", 1.0, unit="points")
    rng = np.random.default_rng(1)
    t, b = rng.normal(0.0, 0.3, 16), rng.normal(0.0, 0.3, 16)
    j = judge(eq, t, b)
    r = read("equivalent", 0.0, 1.0, [LookStat.of(j)], SEQUENTIAL, ALPHA)
    assert r.finding == j.finding == "equivalent within the margin"
    void = LookStat((4, 4), 5.0, 0.1, 6.0, voided=True)
    assert read("greater", 0.0, 1.0, [void], SEQUENTIAL, ALPHA).p_values == (1.0,) * 4


# ---- optional stopping: the operating characteristics -------------------------------------------


def test_optional_stopping_keeps_wrong_verdicts_below_alpha_and_naive_does_not() -> None:
    """Looks at n = 4, 6, 8, 12, stop at the first confident verdict (seeded, so it cannot fail
    by chance; the tolerance is 4 binomial standard errors of this simulation's size)."""
    draws = 4000
    rows = optional_stopping(GREATER, (1.9, 1.9), draws=draws, seed=11)
    by = {(r.method, r.effect_label): r for r in rows}
    tol = tolerance(ALPHA, draws)
    for label in ("opposite (−m)", "0"):
        seq = by[("sequential", label)]
        assert seq.wrong <= ALPHA + tol
        assert seq.reproduced <= ALPHA / 2 + tolerance(ALPHA / 2, draws)
    assert by[("naive fixed-n", "0")].wrong > ALPHA + tol  # repeated fixed-n testing inflates
    assert by[("naive fixed-n", "0")].reproduced > ALPHA / 2 + tolerance(ALPHA / 2, draws)


def test_the_simulation_decides_as_the_engine_does() -> None:
    """The vectorised simulation's sequential findings equal those of the real engine (judge →
    LookStat → read), draw by draw, stopping included."""
    rng = np.random.default_rng(2)
    looks = (4, 6, 8, 12)
    t, b = rng.normal(1.6, 1.9, (40, 12)), rng.normal(0.0, 1.9, (40, 12))
    final, first = stopping_findings(GREATER, t, b, looks, SEQUENTIAL)["sequential"]
    for i in range(len(t)):
        hist, got, at = [], NO_FINDING, -1
        for k, n in enumerate(looks):
            hist.append(LookStat.of(judge(GREATER, t[i, :n], b[i, :n])))
            f = read("greater", 0.0, 1.0, hist, SEQUENTIAL, ALPHA).finding
            if f != NO_FINDING:
                got, at = f, k
                break
        assert (got, at) == (final[i], first[i])
    assert (first >= 0).sum() >= 5  # the comparison covered confident draws


# ---- looks.json and the resume rule ------------------------------------------------------------


def _claims(n: int, shift: float = 2.0) -> list[ClaimResult]:
    rng = np.random.default_rng(n)
    j = judge(GREATER, rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n))
    return [ClaimResult("A", "robust_auc", "x", j, "", model="inresnet20")]


def test_looks_append_replace_and_restart() -> None:
    cfg = get_preset("tiny")
    looks = looks_mod.Looks(SEQUENTIAL)
    looks_mod.add_look(looks, cfg, _claims(2))
    looks_mod.add_look(looks, cfg, _claims(2))  # the same seeds judged again: no new look
    assert [k.look for k in looks.looks] == [1]
    more = cfg.replace(paper_a=cfg.paper_a.replace(seeds=[0, 1, 2]))
    claims = _claims(3)
    looks_mod.add_look(looks, more, claims)
    looks_mod.apply_sequential(looks, claims)
    assert [k.look for k in looks.looks] == [1, 2] and claims[0].sequential.look == 2
    ts = (2 / 16, 3 / 16)
    assert claims[0].sequential.nominal_level == pytest.approx(
        SEQUENTIAL.nominal_levels(ts, ALPHA / 2)[-1]
    )
    other = more.replace(paper_a={"training": {"epochs": 2}})
    looks_mod.add_look(looks, other, _claims(3))  # another measurement: a new sequence
    assert [k.sequence for k in looks.looks] == [1, 1, 2] and len(looks.sequence_looks()) == 1
    data = json.loads(json.dumps(looks.to_dict()))
    assert [looks_mod.Look.from_dict(k).to_dict() for k in data["looks"]] == data["looks"]


def test_a_run_made_before_looks_json_counts_its_judgement_as_look_one(tmp_path: Path) -> None:
    """A finished run without looks.json: its results.json is the first look, so extending it
    makes look 2 (its verdicts were written, so they may have been looked at)."""
    from resode.reproduce.claims import adjust_claims

    cfg = get_preset("tiny")
    claims = adjust_claims(_claims(2))
    res = {"config": cfg.to_dict(), "claims": [c.to_dict() for c in claims]}
    (tmp_path / "results.json").write_text(json.dumps(res))
    looks = looks_mod.load(tmp_path)
    assert [k.seeds for k in looks.looks] == [[0, 1]]
    assert looks.looks[0].claims[0].stat == LookStat.of(claims[0].judgement)
    assert looks.looks[0].claims[0].raw_finding == claims[0].judgement.finding
    more = cfg.replace(paper_a=cfg.paper_a.replace(seeds=[0, 1, 2]))
    assert looks_mod.add_look(looks, more, _claims(3)).look == 2
    (tmp_path / "looks.json").write_text("{}")
    with pytest.raises(ResodeError, match="not a resode looks record"):
        looks_mod.load(tmp_path)


def test_an_unreadable_looks_record_stops_a_resume_before_any_task_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record is read at the start: a bad one costs the user nothing but one line."""
    from resode.cli import main

    get_preset("tiny").to_yaml(tmp_path / "reproduce_config.yaml")
    (tmp_path / "looks.json").write_text("{}")
    args = ["reproduce", "--preset", "tiny", "--out", str(tmp_path), "--resume", "--no-progress"]
    assert main([*args, "--executor", "serial"]) == 2
    assert "not a resode looks record" in capsys.readouterr().err
    assert not (tmp_path / "paper_a").exists() and not (tmp_path / "paper_b").exists()


def test_resume_accepts_added_seeds_and_refuses_other_changes(tmp_path: Path) -> None:
    cfg = get_preset("tiny")
    cfg.to_yaml(tmp_path / "reproduce_config.yaml")
    pa = cfg.paper_a
    check_out_dir(cfg.replace(paper_a=pa.replace(seeds=[0, 1, 2, 3])), tmp_path, resume=True)
    for bad in (
        pa.replace(seeds=[0]),  # removes evidence already looked at
        pa.replace(seeds=[0, 2]),  # swaps a seed
        pa.replace(seeds=[0, 1, 2], training={"epochs": 2}),  # and another measurement
    ):
        with pytest.raises(ResodeError, match="--resume-override"):
            check_out_dir(cfg.replace(paper_a=bad), tmp_path, resume=True)


def test_design_validates() -> None:
    with pytest.raises(ValueError):
        Design(n_max=1)
    assert "Lan–DeMets" in SEQUENTIAL.method


@pytest.mark.slow
def test_resume_with_more_seeds_runs_only_the_new_cells(
    tiny_local_run: Path, tmp_path: Path
) -> None:
    """The tiny preset's run (seeds 0 1), resumed with seeds 0 1 2: exactly one new cell per
    model runs, looks.json holds two looks, and look 2's verdicts use the sequential boundary."""
    from resode.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_local_run, run)
    first = json.loads((run / "looks.json").read_text())
    assert [k["seeds"] for k in first["looks"]] == [[0, 1]]
    args = ["reproduce", "--preset", "tiny", "--out", str(run), "--no-progress", "--resume"]
    assert main([*args, "--executor", "serial", "--paper-a.seeds", "0", "1", "2"]) == 0
    res = json.loads((run / "results.json").read_text())
    ran = sorted(k for k, t in res["tasks"].items() if not t["reused"])
    models = get_preset("tiny").paper_a.models
    # the new seed's cells and its transfer attacks (reproduce/transfer.py: the second wave)
    assert ran == sorted(
        k for m in models for k in (f"paper_a/{m}-seed2", f"paper_a/transfer/{m}-seed2")
    )
    looks = json.loads((run / "looks.json").read_text())
    assert [k["seeds"] for k in looks["looks"]] == [[0, 1], [0, 1, 2]]
    assert looks["design"]["n_max"] == SEQUENTIAL.n_max
    a = [c for c in res["claims"] if c["part"] == "A"]
    level = SEQUENTIAL.nominal_levels((2 / 16, 3 / 16), ALPHA / 2)[-1]
    for c in a:
        s = c["sequential"]
        assert s["look"] == 2 and s["information"] == pytest.approx(3 / 16)
        if c["direction"] != "equivalent" and c["n_seeds"] == [3, 3]:
            assert s["nominal_level"] == pytest.approx(level)
    # the headline is Holm on the sequential p-values (not on this look's fixed-n ones)
    rows = ClaimResults.of(res["claims"])
    items = [(j, c["family"]) for j, c in rows]
    for (_j, c), adj in zip(rows, adjust(items), strict=True):
        assert adj.verdict == c["verdict"]
    assert "look 2" in (run / "report.md").read_text()


class ClaimResults:
    """The judgements of results.json as Holm saw them (sequential p-values where present)."""

    @staticmethod
    def of(claims: list[dict]) -> list[tuple]:
        import dataclasses

        from resode.verdicts import FINDING_VERDICT, Judgement

        out = []
        for c in claims:
            keys = set(Judgement.__dataclass_fields__)
            j = Judgement.from_dict({k: v for k, v in c.items() if k in keys})
            s = c.get("sequential")
            if s is not None:
                j = dataclasses.replace(
                    j,
                    p_values=tuple(float(p) for p in s["p_values"]),
                    finding=s["finding"],
                    verdict=FINDING_VERDICT[s["finding"]],
                )
            out.append((j, c))
        return out
