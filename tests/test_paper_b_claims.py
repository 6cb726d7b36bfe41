"""Paper B's claims can fail: each judged on controlled (synthetic, deterministic) inputs that
make it reproduced and inputs that make it contradicted or inconclusive; margins come only from
the plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resode import analysis_plan as plan
from resode.ode import experiments as ex
from resode.ode.experiments import (
    DepthSweepConfig,
    LongTimeCell,
    LongTimeConfig,
    ReluCounterexampleConfig,
    Table1Cell,
    WeightsCell,
    WeightsConfig,
    decay_exponent,
    depth_sweep_combine,
    long_time_combine,
    relu_combine,
    slope_gap_judgement,
    table1_combine,
    weights_combine,
)
from resode.ode.experiments.common import GDConfig, data_seeds, seed_data
from resode.ode.experiments.depth_sweep import DepthCell, convergence_judgement
from resode.ode.experiments.relu import ReluCell
from resode.ode.experiments.table1 import PAPER_TABLE1, CifarConfig

CONTRADICTED, INCONCLUSIVE, REPRODUCED = "contradicted", "inconclusive", "reproduced"


# ---- one place for margins -------------------------------------------------------------------


def test_experiments_hold_sentences_only_and_every_margin_comes_from_the_plan() -> None:
    dicts = [
        *ex.DEPTH_CLAIMS.values(),
        ex.BOUND_CLAIM,
        ex.GAP_CLAIM,
        ex.CONVERGENCE_CLAIM,
        ex.DECAY_CLAIM,
        ex.RATE_CLAIM,
        *ex.WEIGHT_CLAIMS.values(),
        ex.RELU_CLAIM,
    ]
    for d in dicts:
        assert set(d) == {"name", "text"}, d  # no direction / margin / reference here
        e = plan.entry(d["name"])
        assert e is not None and e.paper == "B"
        c = plan.plan_claim(**d)
        assert (c.direction, c.margin, c.reference, c.scale) == (
            e.direction,
            e.margin,
            e.reference,
            e.scale,
        )
    assert set(ex.SMOOTHER_CLAIM) == {"text"} and set(ex.ACCURACY_CLAIM) == {"test", "train"}
    for name in ("table1_tied_smoother_gelu", "table1_test_acc_relu_iid", "table1_train_acc_x_y"):
        assert plan.entry(name) is not None
    assert plan.entry("iid_stays_rough") is None and plan.entry("iid_rougher_than_tied") is None
    with pytest.raises(KeyError):
        plan.plan_claim("no_such_claim", "x")


def test_each_seed_draws_its_own_data() -> None:
    cfg = GDConfig(d=3, seed=4, data_seed=10)
    assert data_seeds(cfg, 4, 3) == [10, 11, 12] and data_seeds(cfg, 6, 1) == [12]
    x, y = seed_data(cfg, 5, 4, 3)
    assert y.shape == (3, 5, 3)
    assert x.shape == (3, 5, 3) and not np.allclose(x[0].numpy(), x[1].numpy())
    shared = cfg.replace(data_per_seed=False)
    xs, _ = seed_data(shared, 5, 4, 3)
    assert xs.shape == (5, 3) and np.array_equal(xs.numpy(), x[0].numpy())  # seed 0 unchanged


# ---- long time: exponential against power-law decay ------------------------------------------


def test_decay_exponent_on_analytic_curves() -> None:
    """β = 0 for exp(−ct), −1 for (1 + t)^−1 (r = 1/(1+t)), a − 1 for exp(−t^a)."""
    t = np.arange(20001, dtype=np.float64)
    assert decay_exponent(np.exp(-3e-4 * t), 10000, 20000, 8) == pytest.approx(0.0, abs=1e-6)
    assert decay_exponent(1.0 / (1.0 + t), 10000, 20000, 8) == pytest.approx(-1.0, abs=1e-3)
    stretched = np.exp(-(t**0.5) / 10)
    assert decay_exponent(stretched, 10000, 20000, 8) == pytest.approx(-0.5, abs=1e-3)
    assert math.isnan(decay_exponent(np.full(20001, 0.5), 10000, 20000, 8))  # no decay
    assert math.isnan(decay_exponent(np.exp(-t), 0, 20000, 8))  # no log t at 0


def _lt_cell(loss: np.ndarray, seed: int) -> LongTimeCell:
    T = len(loss) - 1
    hist = {"loss": loss, "pl_ratio": np.full(T + 1, 0.5), "max_dz": np.full(T + 1, 0.1)}
    return LongTimeCell(seed, [0, T], hist, np.zeros((2, 4)), np.zeros((2, 4)), {}, 0.0)


def test_long_time_claim_tells_exponential_from_power_law_over_seeds() -> None:
    cfg = LongTimeConfig(iterations=4000, rate_blocks=8)
    t = np.arange(4001, dtype=np.float64)
    # exponential-like per seed: exp(−c t^a) with a near 1 (β = a − 1 ∈ ±0.02)
    expo = [
        _lt_cell(2.0 * np.exp(-c * t**a), s)
        for s, (c, a) in enumerate([(3e-4, 1.0), (4e-4, 0.98), (2e-4, 1.02), (3e-4, 0.99)])
    ]
    r = long_time_combine(cfg, expo)
    assert r.judgement.claim == "long_time_exponential_decay" and r.judgement.n_seeds == (4,)
    assert r.judgement.verdict == REPRODUCED and np.all(np.abs(r.exponents) < 0.03)
    assert r.rate_judgement.claim == "long_time_log_loss_rate"
    assert r.rate_judgement.verdict == REPRODUCED  # the loss decreases
    # power laws (1 + t/τ)^−1: β ≈ −t/(τ + t) → −1; the loss decreases as well
    power = [_lt_cell(1.0 / (1.0 + t / tau), s) for s, tau in enumerate([1.0, 20.0, 50.0, 100.0])]
    p = long_time_combine(cfg, power)
    assert p.judgement.verdict == CONTRADICTED and np.all(p.exponents < -0.9)
    assert p.rate_judgement.verdict == REPRODUCED  # the old claim passed a power law
    assert long_time_combine(cfg, expo[:1]).judgement.verdict == INCONCLUSIVE  # one seed
    mixed = long_time_combine(cfg, [expo[0], power[1], expo[2], power[3]])
    assert mixed.judgement.verdict == INCONCLUSIVE


# ---- depth sweep: per-seed slopes, the L·max bound, the slope gap, convergence ---------------


def _sweep(init: str, exponents: list[float]) -> object:
    """A sweep whose seed s has max_{k,t≤T}‖ΔZ‖ = K_s·L^{p_s} exactly (T = 2, depths 4 … 256)."""
    cfg = DepthSweepConfig(
        init=init, iterations=2, depths=[4, 16, 64, 256], reference_depth=0, snapshots=2
    )
    S = len(exponents)
    cells = []
    for L in cfg.depths:
        dz = np.array([(1.0 + 0.1 * s) * L**p for s, p in enumerate(exponents)])
        hist = {"max_dz": np.tile(dz, (3, 1)), "loss": np.ones((3, S))}
        cells.append(DepthCell(init, L, list(range(S)), [0, 2], hist, {}, None, 0.0))
    return depth_sweep_combine(cfg, cells)


def _verdicts(result: object) -> dict[str, str]:
    return {j.claim: j.verdict for j in result.judgements()}


def test_depth_claims_are_judged_on_one_slope_per_seed() -> None:
    tied = _sweep("tied", [-1.0, -0.99, -1.01, -1.0])
    assert tied.seed_slopes == pytest.approx([-1.0, -0.99, -1.01, -1.0], abs=1e-9)
    assert _verdicts(tied) == {"depth_slope_ode": REPRODUCED, "depth_bounded_ode": REPRODUCED}
    assert all(j.n_seeds == (4,) for j in tied.judgements())
    # the slope the former ±0.25 band accepted: L·max ∝ L^0.25 grows without bound
    loose = _sweep("tied", [-0.75, -0.74, -0.76, -0.75])
    assert _verdicts(loose) == {
        "depth_slope_ode": CONTRADICTED,
        "depth_bounded_ode": CONTRADICTED,
    }
    # steeper than −1 (smoother than the bound needs): bounded, but not the paper's rate
    steep = _sweep("tied", [-1.5, -1.49, -1.51, -1.5])
    assert _verdicts(steep) == {"depth_slope_ode": CONTRADICTED, "depth_bounded_ode": REPRODUCED}
    vague = _sweep("tied", [-1.0, -0.7, -1.3, -0.9])
    assert _verdicts(vague)["depth_slope_ode"] == INCONCLUSIVE
    iid = _sweep("iid", [0.0, 0.01, -0.01, 0.02])
    assert _verdicts(iid) == {"depth_slope_iid": REPRODUCED}


def test_slope_gap_fails_when_an_iid_init_is_smoothed_like_a_tied_one() -> None:
    tied = _sweep("tied", [-1.0, -0.99, -1.01, -1.0])
    rough = _sweep("iid", [0.0, 0.01, -0.01, 0.02])
    gap = slope_gap_judgement(tied, rough)
    assert gap.claim == "depth_slope_gap" and gap.verdict == REPRODUCED
    assert gap.effect == pytest.approx(1.0 + 0.005, abs=1e-9)
    smoothed = _sweep("iid", [-1.0, -0.98, -1.02, -1.01])
    assert slope_gap_judgement(tied, smoothed).verdict == CONTRADICTED


def test_convergence_claim_needs_the_distance_to_shrink_with_depth() -> None:
    depths = [4, 16, 64, 256]
    L = np.asarray(depths, dtype=np.float64)[:, None]
    c = np.array([[1.0, 1.1, 0.9, 1.2]])
    p = np.array([[1.0, 0.98, 1.02, 1.01]])
    j = convergence_judgement(depths, c / L**p)
    assert j.claim == "ode_convergence" and j.verdict == REPRODUCED
    assert j.finding == "shown at least the margin"  # faster than L^−1/2
    flat = convergence_judgement(depths, c * L ** np.array([[0.0, 0.01, -0.01, 0.02]]))
    assert flat.verdict == CONTRADICTED  # no convergence
    assert convergence_judgement(depths, (c / L**p)[:, :1]).verdict == INCONCLUSIVE  # one seed


# ---- weights: the smoothing fraction of an i.i.d. init ---------------------------------------


def _w_cell(r0: list[float], rT: list[float], move: list[float]) -> WeightsCell:
    S, L = len(r0), 8
    z = np.zeros((S, L))
    a0, aT = np.asarray(r0, float), np.asarray(rT, float)
    return WeightsCell(
        "iid", L, list(range(S)), z, z, z, z, a0, aT, a0, aT, np.ones((3, S)), [], 0.0,
        max_move=np.asarray(move, float),
    )  # fmt: skip


def test_smoothing_fraction_claim_can_fail() -> None:
    cfg = WeightsConfig()
    r0, move = [30.0, 31.0, 29.0, 30.5], [0.1, 0.12, 0.08, 0.11]
    # the former ratio R(T)/R(0) reads ≈ 1 in both cases below; φ tells them apart
    rough = _w_cell(r0, [r + 0.01 for r in r0], move)
    (j,) = weights_combine(cfg, [rough]).judgements()
    assert j.claim == "iid_not_smoothed" and j.verdict == REPRODUCED
    phi = rough.smoothing_fraction()
    assert phi == pytest.approx([-0.01 / (2 * m) for m in move])
    frac = [0.9, 0.85, 0.95, 0.92]
    smoothing = _w_cell(r0, [r - 2 * f * m for r, f, m in zip(r0, frac, move, strict=True)], move)
    assert smoothing.smoothing_fraction() == pytest.approx(frac)
    assert weights_combine(cfg, [smoothing]).judgements()[0].verdict == CONTRADICTED
    # smoothing shown (φ > 0) and not shown below 1/2: contradicted, as the plan declares
    half = _w_cell(r0, [r - 2 * f * m for r, f, m in zip(r0, [0.2, 0.8, 0.5, 0.6], move)], move)
    assert weights_combine(cfg, [half]).judgements()[0].verdict == CONTRADICTED
    wide = _w_cell(r0, [r - 2 * f * m for r, f, m in zip(r0, [-0.3, 0.8, 0.2, 0.9], move)], move)
    assert weights_combine(cfg, [wide]).judgements()[0].verdict == INCONCLUSIVE


# ---- the ReLU counter-example ----------------------------------------------------------------


def _relu_cell(depth: int, dw: list[float]) -> ReluCell:
    S = len(dw)
    w = np.cumsum(np.tile(np.asarray(dw)[:, None], (1, depth)), axis=1)  # |w_{k+1} − w_k| = dw
    return ReluCell(
        depth, np.zeros(depth), w, np.zeros((1, S)), np.zeros(S), np.full(S, 2.0), np.ones(S)
    )


def test_relu_claim_reproduced_in_a_real_run_and_contradicted_by_a_smooth_net() -> None:
    cfg = ReluCounterexampleConfig(depths=[4, 16, 64], iterations=1500, seeds=4)
    from resode.ode.experiments import relu_cell

    r = relu_combine(cfg, [relu_cell(cfg, D) for D in cfg.depths])
    C, _x = cfg.samples()
    assert r.judgement.verdict == REPRODUCED and r.judgement.n_seeds == (4,)
    assert r.odd_layers_unchanged and r.even_max_error < 1e-6
    assert np.all(r.cells[-1].max_abs_dw_seeds > 2 * np.log(C))  # O(1) for every sample
    assert C[0] == cfg.C and len(set(C.tolist())) == 4  # seed 0: the paper's sample, others drawn
    smooth = [_relu_cell(D, [D**-p for p in (1.0, 0.98, 1.02, 1.01)]) for D in cfg.depths]
    assert relu_combine(cfg, smooth).judgement.verdict == CONTRADICTED  # slope −1


# ---- Table 1: per-row claims -----------------------------------------------------------------


def _t1(act: str, init: str, seed: int, dw: float, test: float, train: float) -> Table1Cell:
    smooth = {"mean_dw": dw, "mean_dz": 2 * dw, "lag": {"label": "x"}}
    return Table1Cell(act, init, seed, train / 100, test / 100, [], smooth, "")


def test_table1_rows_judge_accuracy_against_the_paper_and_smoothness_where_it_says_smooth():
    cfg = CifarConfig(activations=["gelu", "relu"], seeds=3)
    cells = []
    for act in ("gelu", "relu"):
        for init in ("tied", "iid"):
            train, test, _ = PAPER_TABLE1[(act, init)]
            off = -20.0 if (act, init) == ("relu", "iid") else 0.0  # one row far off the paper
            for s, jitter in enumerate([-0.5, 0.2, 0.4]):
                dw = (0.1 if init == "tied" else 1.0) * (1 + 0.1 * s)
                cells.append(_t1(act, init, s, dw, test + off + jitter, train + off - jitter))
    v = {j.claim: j.verdict for j in table1_combine(cfg, cells).judgements()}
    assert v["table1_tied_smoother_gelu"] == REPRODUCED
    assert "table1_tied_smoother_relu" not in v  # the paper: ReLU tied is not smooth
    assert (
        v["table1_test_acc_gelu_tied"] == REPRODUCED
        and v["table1_train_acc_gelu_iid"] == REPRODUCED
    )
    assert v["table1_test_acc_relu_iid"] == CONTRADICTED
    assert v["table1_train_acc_relu_iid"] == CONTRADICTED
    assert plan.role_of("table1_test_acc_gelu_tied") == "primary"
    assert plan.role_of("table1_train_acc_gelu_tied") == "secondary"
    one = table1_combine(cfg, [c for c in cells if c.seed == 0]).judgements()
    assert {j.verdict for j in one} == {INCONCLUSIVE}  # one seed per row: no interval


def test_plan_table_cells_escape_the_pipes_of_absolute_values() -> None:
    """|R(T) − R(0)| and max_k|w_{k+1} − w_k| must not split a row of the README table."""
    rows = plan.plan_markdown().splitlines()
    assert {r.replace("\\|", "").count("|") for r in rows} == {8}
    assert any("\\|" in r for r in rows)
