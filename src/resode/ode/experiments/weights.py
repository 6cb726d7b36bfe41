"""Trained weights against the layer s = k/L for each initialisation (paper B, the "smooth init
stays smooth, i.i.d. init stays rough" statement of the general bound
‖Z_{k+1}(t) − Z_k(t)‖ ≤ (‖Z_{k+1}(0) − Z_k(0)‖ + βT/L)·e^{αT}).

One network per init (seeds batched) is trained for T iterations. Shown: entry (0, 0) of W_k and
V_k against s at init and after training; measured per seed: the roughness
R = max_k‖Z_{k+1} − Z_k‖_F at t = 0 and t = T, and the lag smoothness of the trained weights.

Claim (:data:`WEIGHT_CLAIMS`, direction and margin from :data:`resode.analysis_plan.PLAN`,
over seeds, each seed its own data draw and initialisation):

* ``iid_not_smoothed``: training does not smooth an i.i.d. init. With M = max_k‖Z_k(T) −
  Z_k(0)‖_F (how far the weights moved), the triangle inequality gives |R(T) − R(0)| ≤ 2M, so
  the smoothing fraction φ = (R(0) − R(T))/(2M) lies in [−1, 1]; φ = 1 means all of the
  movement went into smoothing. Claimed: φ < 1/2 (one-sample t over seeds). The former ratio
  R(T)/R(0) could not fail: training moves R ≈ 34 by ≈ 0.05 whatever it does, so the ratio is
  ≈ 1.001 for a smoothing and a roughening training alike; φ is the change in units of the
  movement. (The i.i.d.-against-tied comparison moved to the depth sweep's scale-free slope gap,
  :func:`resode.ode.experiments.depth_sweep.slope_gap_judgement`: a ratio of trained roughness
  at one depth is set by the iteration count.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import GDConfig, Record, seeds_of, train_network
from resode.ode.experiments.protocol import (
    Cell,
    Experiment,
    FilesOf,
    claim_texts,
    gd_seconds,
    register,
    run_experiment,
)

if TYPE_CHECKING:
    from resode.ode.measures import LagSmoothness
    from resode.verdicts import Judgement

#: claim sentences; direction and margin live in :data:`resode.analysis_plan.PLAN`
WEIGHT_CLAIMS: dict[str, dict[str, str]] = {
    "iid_not_smoothed": {
        "name": "iid_not_smoothed",
        "text": "An i.i.d. initialisation stays rough: training realises less than half of the "
        "smoothing its weight movement allows (φ = (R(0) − R(T))/(2·max_k‖Z_k(T) − Z_k(0)‖) "
        "< 1/2, R = max_k‖Z_{k+1} − Z_k‖_F)",
    },
}


@dataclass
class WeightsConfig(GDConfig):
    """Trained weights against layer s = k/L for each init (Fig. 1 settings, one depth)."""

    inits: list[str] = option(
        ["tied", "iid"], "initialisations to train", choices=("tied", "iid", "gp")
    )
    n: int = option(100, "number of samples", min=1)
    m: int = option(32, "width", min=1)
    depth: int = option(64, "depth L", min=4)
    iterations: int = option(500, "GD iterations T", min=1)
    lr: float = option(1e-2, "base learning rate (residual rate L^(2α−1) × lr)", min=0.0)
    seeds: int = option(3, "seeds per init (batched; ≥ 2 for a verdict)", min=1)

    def check(self) -> None:
        if not self.inits or len(set(self.inits)) != len(self.inits):
            raise ConfigError(f"inits must list distinct initialisations, got {self.inits}")


@dataclass
class WeightsCell(Record):
    """One init, all seeds: entry (0, 0) of V_k, W_k at t = 0 and T (S, L); roughness
    R = max_k‖ΔZ‖ and mean_k‖ΔZ‖ at 0 and T (S,); the loss (T+1, S); lag smoothness at T."""

    init: str
    depth: int
    seeds: list[int]
    v_init: np.ndarray
    w_init: np.ndarray
    v: np.ndarray
    w: np.ndarray
    max_dz_init: np.ndarray
    max_dz_trained: np.ndarray
    mean_dz_init: np.ndarray
    mean_dz_trained: np.ndarray
    loss: np.ndarray
    lag_trained: list[LagSmoothness]
    seconds: float
    max_move: np.ndarray | None = None

    def smoothing_fraction(self) -> np.ndarray:
        """φ = (R(0) − R(T)) / (2·max_k‖Z_k(T) − Z_k(0)‖_F) per seed (NaN: nothing moved)."""
        if self.max_move is None:
            return np.full(len(self.seeds), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = (self.max_dz_init - self.max_dz_trained) / (2.0 * self.max_move)
        return np.where(self.max_move > 0, phi, np.nan)


@dataclass
class WeightsResult(Record):
    config: WeightsConfig
    cells: list[WeightsCell]
    judged: list[Judgement]
    seconds: float

    def cell(self, init: str) -> WeightsCell:
        return next(c for c in self.cells if c.init == init)

    def judgements(self) -> list[Judgement]:
        return list(self.judged)


def weights_cell(config: WeightsConfig, init: str, *, progress: bool = False) -> WeightsCell:
    """Train ``init`` (all seeds batched) for T iterations; weights and roughness at 0 and T."""
    import torch

    from resode.ode.measures import flatten_z, lag_smoothness

    if init not in ("tied", "iid", "gp"):
        raise ResodeError(f"unknown init {init!r}; use tied, iid or gp")
    T = config.iterations
    _model, res = train_network(
        config,
        init=init,
        n=config.n,
        width=config.m,
        depth=config.depth,
        lr=config.lr,
        iterations=T,
        seed=config.seed,
        n_seeds=config.seeds,
        snapshot_at=(0, T),
        progress=progress,
        desc=f"weights {init} L={config.depth}",
    )
    (V0, W0), (V, W) = res.snapshots[0], res.snapshots[T]
    h = res.history
    Z = flatten_z(V, W)
    move = (Z - flatten_z(V0, W0)).to(torch.float64).norm(dim=-1).amax(dim=-1)
    return WeightsCell(
        init=init,
        depth=config.depth,
        seeds=seeds_of(config.seed, config.seeds),
        v_init=V0[:, :, 0, 0].double().numpy(),
        w_init=W0[:, :, 0, 0].double().numpy(),
        v=V[:, :, 0, 0].double().numpy(),
        w=W[:, :, 0, 0].double().numpy(),
        max_dz_init=h["max_dz"][0],
        max_dz_trained=h["max_dz"][-1],
        mean_dz_init=h["mean_dz"][0],
        mean_dz_trained=h["mean_dz"][-1],
        loss=h["loss"],
        lag_trained=[lag_smoothness(Z[s]) for s in range(Z.shape[0])],
        seconds=res.seconds,
        max_move=move.numpy(),
    )


def weights_combine(config: WeightsConfig, cells: Sequence[WeightsCell]) -> WeightsResult:
    """Judge :data:`WEIGHT_CLAIMS` for the inits present (the i.i.d. smoothing fraction)."""
    from resode.analysis_plan import plan_claim
    from resode.verdicts import judge

    by = {c.init: c for c in cells}
    out = []
    if "iid" in by:
        phi = by["iid"].smoothing_fraction()
        out.append(judge(plan_claim(**WEIGHT_CLAIMS["iid_not_smoothed"]), phi.tolist()))
    ordered = [by[i] for i in config.inits if i in by]
    return WeightsResult(config, ordered, out, sum(c.seconds for c in cells))


def weights_rows(result: WeightsResult) -> list[dict[str, Any]]:
    from resode.verdicts import ratio_text

    return [
        {
            "init": c.init,
            "seed": seed,
            "max_k‖ΔZ‖ t=0": float(c.max_dz_init[s]),
            "max_k‖ΔZ‖ t=T": float(c.max_dz_trained[s]),
            "T/0 ratio": ratio_text(float(c.max_dz_trained[s] / c.max_dz_init[s]))
            if c.max_dz_init[s] > 0
            else None,
            "max_k‖Z_k(T) − Z_k(0)‖": None if c.max_move is None else float(c.max_move[s]),
            "smoothing fraction φ": float(c.smoothing_fraction()[s]),
            "L·max_k‖ΔZ‖ t=T": float(c.depth * c.max_dz_trained[s]),
            "mean_k‖ΔZ‖ t=T": float(c.mean_dz_trained[s]),
            "loss t=T": float(c.loss[-1, s]),
            "lag smoothness t=T": c.lag_trained[s].label,
        }
        for c in result.cells
        for s, seed in enumerate(c.seeds)
    ]


def write(result: WeightsResult, out_dir: str | Path) -> list[Path]:
    """weights.png, weights.{json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json

    out = Path(out_dir)
    cfg = result.config
    paths = plots.plot_weights(result, out)
    rows = weights_rows(result)
    summary = {
        "experiment": "weights",
        "config": cfg.to_dict(),
        "rows": rows,
        "judgements": [j.to_dict() for j in result.judgements()],
        "seconds": result.seconds,
    }
    paths.append(write_json(out / "weights.json", summary))
    curves = [
        {
            "init": c.init,
            "seed": seed,
            "k": k + 1,
            "s": (k + 1) / c.depth,
            "W_init": c.w_init[i, k],
            "W": c.w[i, k],
            "V_init": c.v_init[i, k],
            "V": c.v[i, k],
        }
        for c in result.cells
        for i, seed in enumerate(c.seeds)
        for k in range(c.depth)
    ]
    paths.append(write_csv(out / "weights.csv", curves))
    rep = Report("Trained weights against layer (paper B)", out)
    rep.paragraph(
        f"n={cfg.n}, d={cfg.d}, m={cfg.m}, L={cfg.depth}, T={cfg.iterations}, residual rate "
        f"L^{cfg.rate_exponent:g} × {cfg.lr:g}, seeds {cfg.seed}..{cfg.seed + cfg.seeds - 1}."
    )
    rep.table(rows)
    texts = {c["name"]: c["text"] for c in WEIGHT_CLAIMS.values()}
    for j in result.judgements():
        rep.claim(texts[j.claim], j.verdict, j.reason)
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("weights"))
    return paths


def cells(config: WeightsConfig, files_of: FilesOf | None = None) -> list[Cell]:
    """One cell per initialisation (its seeds batched)."""
    cost = gd_seconds(config.depth * config.iterations * config.seeds * config.n * config.m)
    return [Cell(init, weights_cell, (config, init), cost) for init in config.inits]


def summary(w: WeightsResult) -> dict[str, Any]:
    """The entry of the weights-against-layer run in ``resode reproduce``'s ``results.json``."""
    return {
        c.init: {
            "depth": c.depth,
            "max_dz_init": c.max_dz_init.tolist(),
            "max_dz_trained": c.max_dz_trained.tolist(),
            "max_move": None if c.max_move is None else c.max_move.tolist(),
            "smoothing_fraction": c.smoothing_fraction().tolist(),
        }
        for c in w.cells
    }


def report(rep: Any, results: Mapping[str, WeightsResult], figures: Mapping[str, Path]) -> None:
    """The report section: max‖ΔZ‖ at init and trained, the largest move, φ, per init."""
    from resode.report import fmt_mean_std

    def ms(v: Any) -> str:
        return fmt_mean_std([float(x) for x in v])

    for w in results.values():
        rows = [
            {
                "init": c.init,
                "L": c.depth,
                "max ‖ΔZ‖ at init": ms(c.max_dz_init),
                "max ‖ΔZ‖ trained": ms(c.max_dz_trained),
                "max_k ‖Z_k(T) − Z_k(0)‖": "–" if c.max_move is None else ms(c.max_move),
                "smoothing fraction φ": ms(c.smoothing_fraction()),
            }
            for c in w.cells
        ]
        rep.table(rows)
    fig = figures.get("weights/weights")
    if fig is not None:
        rep.figure(fig, "Entries of W_k and V_k against s = k/L, at init and after training")


EXPERIMENT = register(
    Experiment(
        name="weights",
        command="weights",
        title="weights against layer",
        help="trained weights against layer s = k/L for each init",
        config=WeightsConfig,
        cells=cells,
        combine=weights_combine,
        write=write,
        summary=summary,
        report=report,
        output="weights.json",
        claim_text=claim_texts(*WEIGHT_CLAIMS.values()),
        order=30,
        reproduce={"iterations": 100, "seeds": 5},
        job_keys={"seed": "seed", "data_seed": "seed", "inits": "paper_b.inits"},
    )
)


def weights_against_layer(
    config: WeightsConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> WeightsResult:
    """One cell per init, combine, and write into ``out_dir`` when given."""
    return run_experiment(
        EXPERIMENT, config, out_dir, progress=progress, workers=workers, cache_dir=cache_dir
    )
