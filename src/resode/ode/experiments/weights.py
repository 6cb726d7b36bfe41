"""Trained weights against the layer s = k/L for each initialisation (paper B, the "smooth init
stays smooth, i.i.d. init stays rough" statement of the general bound
‖Z_{k+1}(t) − Z_k(t)‖ ≤ (‖Z_{k+1}(0) − Z_k(0)‖ + βT/L)·e^{αT}).

One network per init (seeds batched) is trained for T iterations. Shown: entry (0, 0) of W_k and
V_k against s at init and after training; measured per seed: the roughness
R = max_k‖Z_{k+1} − Z_k‖_F at t = 0 and t = T, and the lag smoothness of the trained weights.

Claims (:data:`WEIGHT_CLAIMS`, through :mod:`resode.verdicts`, log scale, over seeds):

* ``iid_stays_rough``: training does not smooth an i.i.d. init: R(T)/R(0) is equivalent to 1
  within a factor 2 (one-sample t on ln R(T)/R(0) over seeds, TOST).
* ``iid_rougher_than_tied``: after training, i.i.d.-initialised weights are rougher than
  tied-initialised ones by at least an order of magnitude: R_iid(T)/R_tied(T) > 1 with margin 10×
  (Welch t on ln R(T)). Needs both inits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import Call, GDConfig, Record, run_cells, seeds_of, train_network

if TYPE_CHECKING:
    from resode.ode.measures import LagSmoothness
    from resode.verdicts import Judgement

WEIGHT_CLAIMS: dict[str, dict[str, Any]] = {
    "iid_stays_rough": {
        "name": "iid_stays_rough",
        "text": "An i.i.d. initialisation stays rough: after training, max_k‖Z_{k+1} − Z_k‖_F "
        "is its value at initialisation within a factor 2",
        "direction": "equivalent",
        "margin": 2.0,
        "reference": 0.0,
        "scale": "log",
        "unit": "×",
    },
    "iid_rougher_than_tied": {
        "name": "iid_rougher_than_tied",
        "text": "Trained weights of an i.i.d. initialisation are rougher than those of a tied "
        "one by an order of magnitude or more: max_k‖Z_{k+1} − Z_k‖_F ratio ≥ 10",
        "direction": "greater",
        "margin": 10.0,
        "reference": 0.0,
        "scale": "log",
        "unit": "×",
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
    )


def weights_combine(config: WeightsConfig, cells: Sequence[WeightsCell]) -> WeightsResult:
    """Judge :data:`WEIGHT_CLAIMS` for the inits present."""
    from resode.verdicts import Claim, judge

    by = {c.init: c for c in cells}
    out = []
    if "iid" in by:
        c = by["iid"]
        ratio = c.max_dz_trained / c.max_dz_init
        out.append(judge(Claim(**WEIGHT_CLAIMS["iid_stays_rough"]), ratio.tolist()))
    if "iid" in by and "tied" in by:
        claim = Claim(**WEIGHT_CLAIMS["iid_rougher_than_tied"])
        out.append(
            judge(claim, by["iid"].max_dz_trained.tolist(), by["tied"].max_dz_trained.tolist())
        )
    ordered = [by[i] for i in config.inits if i in by]
    return WeightsResult(config, ordered, out, sum(c.seconds for c in cells))


def weights_rows(result: WeightsResult) -> list[dict[str, Any]]:
    return [
        {
            "init": c.init,
            "seed": seed,
            "max_k‖ΔZ‖ t=0": float(c.max_dz_init[s]),
            "max_k‖ΔZ‖ t=T": float(c.max_dz_trained[s]),
            "T/0 ratio": float(c.max_dz_trained[s] / c.max_dz_init[s])
            if c.max_dz_init[s] > 0
            else None,
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


def weights_against_layer(
    config: WeightsConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> WeightsResult:
    """One cell per init, combine, and write into ``out_dir`` when given."""
    calls: list[Call] = [(weights_cell, (config, init)) for init in config.inits]
    cells = run_cells(calls, workers=workers, cache_dir=cache_dir, progress=progress)
    result = weights_combine(config, cells)
    if out_dir is not None:
        write(result, out_dir)
    return result
