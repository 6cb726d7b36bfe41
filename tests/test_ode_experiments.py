"""Paper B experiments: cells, combine, verdicts, serialisation and the CLI."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch

from resode.ode.experiments import (
    DepthSweepConfig,
    LongTimeConfig,
    LongTimeResult,
    ReluCounterexampleConfig,
    Table1Cell,
    WeightsConfig,
    cell_key,
    depth_sweep,
    depth_sweep_cell,
    depth_sweep_combine,
    depth_sweep_reference_cell,
    long_time,
    relu_counterexample,
    relu_scalar_train,
    run_cells,
    table1_combine,
    weights_against_layer,
)
from resode.ode.experiments.depth_sweep import DepthCell, DepthSweepResult
from resode.ode.experiments.table1 import CifarConfig

F64 = torch.float64


# ---- ReLU counter-example -------------------------------------------------------------------


def test_relu_counterexample_starts_at_the_papers_weights():
    """Depth D = 2L, w_k(0) = (−1)^k/(2L) = (−1)^k/D (not half of it)."""
    D = 8
    w0, _, _ = relu_scalar_train(D, 2.0, 1.0, 0.05, 1)
    k = np.arange(1, D + 1)
    assert np.array_equal(w0.numpy(), (-1.0) ** k / D)


def test_relu_counterexample_odd_layers_never_move():
    D, C = 8, 2.0
    w0, wT, losses = relu_scalar_train(D, C, 1.0, 0.05, 800)
    assert torch.equal(wT[0::2], w0[0::2])  # k = 1, 3, 5, …: negative, relu' = 0
    w_star = D * (C ** (2 / D) - 1)
    assert torch.allclose(wT[1::2], torch.full((D // 2,), w_star, dtype=F64), atol=1e-8)
    assert w_star >= 2 * math.log(C) and losses[-1] < 1e-12
    assert float((wT[1:] - wT[:-1]).abs().max()) > 2 * math.log(C)  # O(1), not O(1/D)


def test_relu_counterexample_result_and_files(tmp_path):
    cfg = ReluCounterexampleConfig(depths=[4, 16, 64, 256], iterations=1500)
    r = relu_counterexample(cfg, tmp_path, progress=False)
    assert r.odd_layers_unchanged and r.even_max_error < 1e-6
    assert abs(r.fit.slope) < 0.25 and r.judgement.verdict == "reproduced"
    assert [c.depth for c in r.cells] == [4, 16, 64, 256]
    assert all(c.max_abs_dw > 2 * math.log(cfg.C) for c in r.cells)
    summary = json.loads((tmp_path / "relu_counterexample.json").read_text())
    assert summary["judgement"]["verdict"] == "reproduced"
    for name in ("relu_counterexample.png", "relu_counterexample.md", "relu_counterexample.csv"):
        assert (tmp_path / name).is_file()


# ---- depth sweep ----------------------------------------------------------------------------


def _sweep_config(**kw):
    base = dict(
        n=20,
        d=4,
        m=8,
        iterations=30,
        depths=[4, 8, 16, 32, 64],
        reference_depth=0,
        seeds=2,
        ode_check=False,
        snapshots=2,
    )
    return DepthSweepConfig(**{**base, **kw})


@pytest.mark.slow
def test_small_depth_sweep_slopes_and_verdicts(tmp_path):
    tied = depth_sweep(_sweep_config(seeds=4), tmp_path / "tied", progress=False)
    assert tied.fit.slope == pytest.approx(-1.0, abs=0.1)
    assert tied.judgement.claim == "depth_slope_ode" and tied.judgement.verdict == "reproduced"
    iid = depth_sweep(_sweep_config(init="iid", seeds=4), tmp_path / "iid", progress=False)
    assert abs(iid.fit.slope) < 0.15
    assert iid.judgement.claim == "depth_slope_iid" and iid.judgement.verdict == "reproduced"
    for name in ("fig1_left.png", "depth_sweep.json", "depth_sweep.csv", "depth_sweep.md"):
        assert (tmp_path / "tied" / name).is_file()


def test_sqrt_scaling_sweep_runs_to_the_end_and_measures_its_slope():
    """α = 1/2 with the consistent residual rate L^{2α−1}·lr = lr: finite and decreasing losses
    at L = 256 (the rate L·lr gave NaN at iteration 3), and a slope fitted with its CI. A tied
    init then moves like ΔZ ∝ L^{α−2} (module docstring): slope −3/2, not the ODE's −1."""
    cfg = _sweep_config(
        n=100, d=16, m=32, iterations=10, depths=[16, 64, 256], scaling_exponent=0.5
    )
    assert cfg.rate_exponent == 0.0
    r = depth_sweep(cfg, progress=False)
    for c in r.cells:
        loss = c.history["loss"]
        assert np.all(np.isfinite(loss)) and np.all(loss[-1] < loss[0])
    assert r.fit is not None and r.fit.ci_low < r.fit.slope < r.fit.ci_high
    assert r.fit.slope == pytest.approx(-1.5, abs=0.15) and r.fit.ci_high < -1.0
    assert r.judgement is None  # the paper makes no claim for a tied init under 1/√L
    assert "3/2" in r.label


def test_reference_cell_distances_equal_the_direct_l2_distance():
    """The reference cell keeps only block projections; the combined distances must equal
    ‖Z^L − Z^ref‖_{L²} computed from the reference's own weights."""
    from resode.ode.experiments.common import train_network
    from resode.ode.measures import flatten_z, l2_in_s_distance

    cfg = _sweep_config(iterations=6, depths=[4, 8], reference_depth=24, snapshots=3, init="gp")
    cells = [depth_sweep_cell(cfg, L) for L in (8, 4)]
    ref = depth_sweep_reference_cell(cfg)
    r = depth_sweep_combine(cfg, cells, ref)
    _, res = train_network(
        cfg,
        init="gp",
        n=cfg.n,
        width=cfg.m,
        depth=24,
        lr=cfg.lr,
        iterations=6,
        seed=cfg.seed,
        n_seeds=cfg.seeds,
        gp_grid=cfg.gp_grid(),
        snapshot_at=r.times,
    )
    for i, c in enumerate(sorted(cells, key=lambda c: c.depth)):
        for j, t in enumerate(r.times):
            direct = l2_in_s_distance(torch.as_tensor(c.snapshots[t]), flatten_z(*res.snapshots[t]))
            assert np.allclose(r.distances[i, j], direct.numpy(), rtol=1e-5)
    assert r.distances[:, 0].min() > 0  # GP paths on the lcm grid differ between depths at t = 0
    assert all(c.snapshots == {} for c in r.cells) and r.reference.block_means == {}


def test_cells_and_results_round_trip_through_json_and_pickle():
    cfg = _sweep_config(iterations=4, depths=[4, 8], reference_depth=16, snapshots=2)
    cell = depth_sweep_cell(cfg, 4)
    back = DepthCell.from_dict(json.loads(json.dumps(cell.to_dict())))
    assert back.depth == 4 and back.times == cell.times and set(back.snapshots) == {0, 4}
    assert np.array_equal(back.snapshots[4], cell.snapshots[4])
    assert all(np.array_equal(back.history[k], cell.history[k]) for k in cell.history)
    r = depth_sweep_combine(cfg, [cell, depth_sweep_cell(cfg, 8)], depth_sweep_reference_cell(cfg))
    again = DepthSweepResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.config == cfg and again.fit == r.fit and again.judgement == r.judgement
    assert np.allclose(again.distances, r.distances) and again.fits_by_time.keys() == {4}
    assert pickle.loads(pickle.dumps(r)).fit == r.fit


_CALLS: list[int] = []


def _double(config, x, *, progress=False):
    _CALLS.append(x)
    return {"x": x, "twice": 2 * x}


def test_run_cells_caches_finished_cells(tmp_path):
    cfg = ReluCounterexampleConfig()
    calls = [(_double, (cfg, 1)), (_double, (cfg, 2))]
    first = run_cells(calls, cache_dir=tmp_path)
    again = run_cells(calls, cache_dir=tmp_path)
    assert first == again == [{"x": 1, "twice": 2}, {"x": 2, "twice": 4}] and _CALLS == [1, 2]
    assert cell_key(_double, (cfg, 1)) != cell_key(_double, (cfg.replace(C=3.0), 1))
    assert len(list(tmp_path.glob("_double-*/result.json"))) == 2


# ---- long time ------------------------------------------------------------------------------


def test_long_time_short_run(tmp_path):
    cfg = LongTimeConfig(n=10, d=3, m=16, depth=8, iterations=600, lr=0.02, snapshots=4, seeds=3)
    r = long_time(cfg, tmp_path, progress=False)
    loss = r.loss[:, 0]
    a, b = r.window
    slope = np.polyfit(np.arange(a, b + 1), np.log(loss[a : b + 1]), 1)[0] * 1000
    assert r.rates[0] == pytest.approx(slope, rel=1e-8) and r.rates[0] < 0
    assert r.judgement.claim == "long_time_exponential_decay" and r.judgement.n_seeds == (3,)
    assert r.rate_judgement.claim == "long_time_log_loss_rate" and np.all(r.rates < 0)
    assert np.all(np.isfinite(r.exponents)) and r.exponents.shape == (3,)
    assert not np.array_equal(r.loss[0, 0], r.loss[0, 1])  # each seed its own data draw
    assert r.pl_min[0] == pytest.approx(r.pl_ratio[:, 0].min()) and r.pl_min[0] > 0
    assert r.max_dz_initial[0] == 0.0 and r.max_dz_final[0] > 0  # tied init, trained
    assert r.cells[0].lag[0].constant  # exactly tied at t = 0: perfectly smooth
    assert r.cells[0].v_entry.shape == (len(r.times), 8)
    again = LongTimeResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.window == r.window and again.judgement == r.judgement
    assert again.cells[0].lag[600] == r.cells[0].lag[600] and np.array_equal(again.loss, r.loss)
    for name in ("fig2.png", "long_time.json", "long_time.csv", "long_time.md"):
        assert (tmp_path / name).is_file()


# ---- weights against layer -------------------------------------------------------------------


def test_weights_experiment_short_run(tmp_path):
    cfg = WeightsConfig(n=20, d=4, m=8, depth=16, iterations=20, seeds=2)
    r = weights_against_layer(cfg, tmp_path, progress=False)
    tied, iid = r.cell("tied"), r.cell("iid")
    assert np.all(tied.max_dz_init == 0) and np.all(tied.max_dz_trained > 0)
    assert np.allclose(iid.max_dz_trained / iid.max_dz_init, 1.0, atol=0.1)
    assert tied.w.shape == (2, 16) and np.allclose(tied.w_init, tied.w_init[:, :1])
    (j,) = r.judgements()
    assert j.claim == "iid_not_smoothed" and j.verdict == "reproduced"
    phi = iid.smoothing_fraction()
    assert np.all(np.abs(phi) <= 1.0) and np.all(iid.max_move > 0)  # triangle inequality
    for name in ("weights.png", "weights.json", "weights.csv", "weights.md"):
        assert (tmp_path / name).is_file()


# ---- Table 1 --------------------------------------------------------------------------------


def _t1_cell(act: str, init: str, seed: int, dw: float, acc: float) -> Table1Cell:
    smooth = {"mean_dw": dw, "mean_dz": 2 * dw, "lag": {"label": "x"}}
    return Table1Cell(act, init, seed, acc, acc - 0.01, [], smooth, "")


def test_table1_medians_iqr_and_smoothness_ratio():
    cfg = CifarConfig(activations=["gelu"], seeds=3)
    cells = [
        _t1_cell("gelu", "tied", s, dw, a)
        for s, dw, a in [(0, 0.1, 0.5), (1, 0.2, 0.6), (2, 0.3, 0.7)]
    ]
    cells += [_t1_cell("gelu", "iid", s, dw, 0.8) for s, dw in [(0, 1.0), (1, 2.2), (2, 3.1)]]
    r = table1_combine(cfg, cells)
    tied = next(g for g in r.groups if g.init == "tied")
    assert tied.train_acc.median == pytest.approx(60.0)
    assert (tied.train_acc.q25, tied.train_acc.q75) == pytest.approx((55.0, 65.0))
    assert tied.mean_dw.median == pytest.approx(0.2) and tied.paper_test_acc == 79.9
    assert type(r).from_dict(r.to_dict()).groups == r.groups  # typed rows survive JSON
    assert r.ratios["gelu"] == pytest.approx(0.2 / 2.2)
    (j,) = [j for j in r.judgements() if j.claim.startswith("table1_tied_smoother")]
    assert j.claim == "table1_tied_smoother_gelu" and j.verdict == "reproduced"
    one_seed = table1_combine(cfg, [c for c in cells if c.seed == 0])
    assert {j.verdict for j in one_seed.judgements()} == {"inconclusive"}  # one seed: no interval


# ---- CLI ------------------------------------------------------------------------------------


def test_cli_weights_subcommand(tmp_path, capsys):
    from resode.cli import main

    argv = ["ode", "weights", "--out", str(tmp_path), "--no-progress", "--n", "10", "--d", "3"]
    argv += ["--m", "4", "--depth", "8", "--iterations", "5", "--seeds", "2", "--resume"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "iid_not_smoothed: " in out
    assert (tmp_path / "weights.png").is_file() and len(list((tmp_path / "cells").iterdir())) == 2
