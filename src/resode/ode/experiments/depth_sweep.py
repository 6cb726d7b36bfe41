"""Fig. 1 of paper B: max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against the depth L, and the L²-in-s
distance ‖Z^L − Z^ref‖ to a deeper reference network over (t, L).

Cells (independent, picklable, cacheable): :func:`depth_sweep_cell` trains one depth with all
seeds batched; :func:`depth_sweep_reference_cell` trains the reference depth and keeps only its
projection onto each sweep depth's grid. :func:`depth_sweep_combine` fits the log-log slope with
its t interval and judges the claim of the config's init and scaling through
:mod:`resode.verdicts`; :func:`write` makes PNG + JSON + CSV + Markdown; :func:`summary` and
:func:`report` are its entry in ``resode reproduce``'s results and report; :data:`EXPERIMENT`
registers all of it (:mod:`resode.ode.experiments.protocol`); :func:`depth_sweep` runs everything.

Claims (sentences here, direction and margin from :data:`resode.analysis_plan.PLAN`), each
judged on one value per seed (each seed its own data draw and initialisation; one-sample t over
seeds), never on seeds × depths pooled as independent points:

* tied/GP init, α = 1: ``depth_slope_ode``, slope −1 within ±0.1 (Prop. 3, Thm 4: ‖ΔZ‖ ≤ K/L);
  ``depth_bounded_ode``, the slope of log(L·max‖ΔZ‖) (= slope + 1) at most 0.1, one-sided;
  with a reference depth ``ode_convergence``, the slope of the L²-in-s distance to it < 0
  (shown at least the margin below −1/2);
* i.i.d. init (any α): ``depth_slope_iid``, slope 0 within ±0.25;
* both inits (:func:`slope_gap_judgement`): ``depth_slope_gap``, i.i.d. slope − tied slope > 0
  (at least 1/2), Welch over seeds.

A smooth init under another residual factor L^{-α} (e.g. α = 1/2, rate L^{2α−1}·lr) has no claim
of the paper (its "1/√L gives an SDE limit" concerns i.i.d. weights): the slope is measured and
described only. A heuristic for it: Z_k moves by rate·L^{-α}·g_k, and g_k changes from layer to
layer as h_k does, by L^{-α}·‖V‖ with ‖V‖ ~ rate·L^{-α}, i.e. by 1/L; so ΔZ ∝ L^{α−2}, slope
α − 2 (−1 for α = 1, −3/2 for α = 1/2) while the weights stay near their initialisation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import GDConfig, Init, Record, seeds_of, train_network
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
    from resode.ode.measures import SlopeFit
    from resode.verdicts import Claim, Judgement

#: claim sentences; direction, margin and reference live in :data:`resode.analysis_plan.PLAN`
DEPTH_CLAIMS: dict[str, dict[str, str]] = {
    "ode": {
        "name": "depth_slope_ode",
        "text": "A smooth (tied) initialisation stays smooth under 1/L scaling: "
        "max_{k,t≤T}‖Z_{k+1} − Z_k‖_F ∝ 1/L (log-log slope −1; Prop. 3, Thm 4)",
    },
    "iid": {
        "name": "depth_slope_iid",
        "text": "An i.i.d. initialisation stays rough: max_{k,t≤T}‖Z_{k+1} − Z_k‖_F does not "
        "shrink with L (log-log slope 0)",
    },
}
BOUND_CLAIM: dict[str, str] = {
    "name": "depth_bounded_ode",
    "text": "L·max_{k,t≤T}‖Z_{k+1} − Z_k‖_F stays bounded as L grows (tied init, the K/L bound "
    "of Prop. 3 / Thm 4): its log-log slope against L is at most the declared tolerance",
}
GAP_CLAIM: dict[str, str] = {
    "name": "depth_slope_gap",
    "text": "An i.i.d. init stays rougher than a tied one in L: its depth slope exceeds the tied "
    "init's by at least half the paper's gap of 1",
}
CONVERGENCE_CLAIM: dict[str, str] = {
    "name": "ode_convergence",
    "text": "The trained weights converge as L grows (to the neural ODE's Lipschitz weights): "
    "the L²-in-s distance to a deeper reference network decays with L (the paper: O(1/L))",
}


@dataclass
class DepthSweepConfig(GDConfig):
    """Fig. 1: max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against L, and ‖Z^L − Z^ref‖_{L²(s)} over (t, L)."""

    init: Init = option("tied", "initialisation of Z_k(0)")
    n: int = option(100, "number of samples", min=1)
    m: int = option(32, "width of the residual MLPs", min=1)
    iterations: int = option(500, "full-batch GD iterations T", min=1)
    depths: list[int] = option([2, 16, 64, 256, 1024], "depths L of the sweep", min=2)
    reference_depth: int = option(
        4096, "depth of the reference network for the L²-in-s distances (0: skip)", min=0
    )
    seeds: int = option(3, "number of seeds (run together in one batched matmul)", min=1)
    lr: float = option(1e-2, "base learning rate (residual rate L^(2α−1) × lr)", min=0.0)
    clip: float | None = option(
        None, "bound on each layer's depth-scaled gradient norm (per seed and layer)", min=0.0
    )
    snapshots: int = option(11, "training times (evenly spaced) for the L² heat map", min=2)
    ode_check: bool = option(True, "solve the neural ODE (dopri5) with the trained weights")
    ode_max_depth: int = option(256, "solve the neural ODE only for depths up to this", min=2)

    def check(self) -> None:
        if len(set(self.depths)) < 2:
            raise ConfigError(
                "depths needs at least two distinct depths to fit a slope (e.g. --depths 2 16 64)"
            )
        if self.init == "gp" and self.gp_grid() > 8192:
            raise ConfigError(
                f"GP init samples one path on a grid of lcm(depths) = {self.gp_grid()} points; "
                "use depths that divide each other (powers of 2) and a reference depth <= 8192"
            )

    def gp_grid(self) -> int | None:
        """GP init: the common grid lcm(depths, reference) on which one path per seed is drawn."""
        if self.init != "gp":
            return None
        return math.lcm(*self.depths, *([self.reference_depth] if self.reference_depth else []))

    def snapshot_times(self) -> list[int]:
        T = self.iterations
        return sorted({int(np.rint(v)) for v in np.linspace(0, T, self.snapshots)})

    def sweep_depths(self) -> list[int]:
        return sorted(set(self.depths))


@dataclass
class DepthCell(Record):
    """One depth of the sweep, all seeds: history curves (T+1, S) keyed by
    :data:`resode.ode.train.HISTORY_KEYS`, Z = (V, W) flattened per layer at the snapshot times
    (S, L, P) (kept only when a reference depth is set), the ODE discrepancy per seed."""

    init: str
    depth: int
    seeds: list[int]
    times: list[int]
    history: dict[str, np.ndarray]
    snapshots: dict[int, np.ndarray]
    ode_relative_error: np.ndarray | None
    seconds: float

    def running_max_dz(self) -> np.ndarray:
        """max_{k, t' ≤ t}‖Z_{k+1}(t') − Z_k(t')‖_F: (T+1, S)."""
        return np.maximum.accumulate(self.history["max_dz"], axis=0)


@dataclass
class ReferenceCell(Record):
    """The reference depth: its history and, per sweep depth L and snapshot time t, the block
    means (S, L, P) and spread (S,) of :func:`resode.ode.measures.block_projection`."""

    init: str
    depth: int
    seeds: list[int]
    times: list[int]
    history: dict[str, np.ndarray]
    block_means: dict[int, dict[int, np.ndarray]]
    block_spread: dict[int, dict[int, np.ndarray]]
    seconds: float


@dataclass
class DepthSweepResult(Record):
    """The combined sweep. ``running_max_dz``: (n_depths, n_times, S) at the snapshot times;
    ``fit``: pooled slope at t = T (a description); ``seed_slopes`` (S,): one slope per seed at
    t = T, the values the claims are judged on (each seed its own data draw and init);
    ``distances``: L²-in-s distances (n_depths, n_times, S) or None, ``distance_seed_slopes``
    their per-seed slopes at T; ``judged``: every claim of this sweep (slope, bound,
    convergence)."""

    config: DepthSweepConfig
    depths: list[int]
    times: list[int]
    seeds: list[int]
    cells: list[DepthCell]
    reference: ReferenceCell | None
    running_max_dz: np.ndarray
    fit: SlopeFit | None
    fits_by_time: dict[int, SlopeFit]
    label: str
    judgement: Judgement | None
    distances: np.ndarray | None
    distance_fit: SlopeFit | None
    seconds: float
    seed_slopes: np.ndarray | None = None
    distance_seed_slopes: np.ndarray | None = None
    judged: list[Judgement] = dataclasses.field(default_factory=list)

    def cell(self, depth: int) -> DepthCell:
        return next(c for c in self.cells if c.depth == depth)

    def judgements(self) -> list[Judgement]:
        if self.judged:
            return list(self.judged)
        return [self.judgement] if self.judgement is not None else []  # a record without judged


def depth_claim(config: DepthSweepConfig) -> Claim | None:
    """The claim the sweep of ``config`` tests (:data:`DEPTH_CLAIMS`), None when the paper makes
    none (a smooth init with a scaling exponent α ≠ 1)."""
    from resode.analysis_plan import plan_claim

    if config.init == "iid":
        key = "iid"
    elif config.scaling_exponent == 1.0:
        key = "ode"
    else:
        return None
    return plan_claim(**DEPTH_CLAIMS[key])


def ode_like(config: DepthSweepConfig) -> bool:
    """A smooth init under the 1/L scaling: the paper's ODE claims (bound, convergence) apply."""
    return config.init != "iid" and config.scaling_exponent == 1.0


def per_seed_slopes(depths: Sequence[int], values: np.ndarray) -> np.ndarray:
    """Least-squares slope of log values[:, s] against log L for every seed s (``values``:
    (n_depths, S)); NaN for a seed with a non-positive value (no log)."""
    from resode.ode.measures import fit_loglog_slope

    out = []
    for s in range(values.shape[1]):
        col = values[:, s]
        out.append(fit_loglog_slope(depths, col).slope if np.all(col > 0) else math.nan)
    return np.asarray(out, dtype=np.float64)


def depth_sweep_cell(config: DepthSweepConfig, depth: int, *, progress: bool = False) -> DepthCell:
    """Train depth L (``config.init``, seeds ``seed..seed+seeds−1`` batched) for T iterations."""
    from resode.ode.experiments.common import seed_data
    from resode.ode.measures import flatten_z, ode_discrepancy

    times = config.snapshot_times()
    model, res = train_network(
        config,
        init=config.init,
        n=config.n,
        width=config.m,
        depth=depth,
        lr=config.lr,
        iterations=config.iterations,
        seed=config.seed,
        n_seeds=config.seeds,
        gp_grid=config.gp_grid(),
        clip=config.clip,
        snapshot_at=times if config.reference_depth else (),
        progress=progress,
        desc=f"depth-sweep {config.init} L={depth}",
    )
    snaps = {t: flatten_z(V, W).numpy() for t, (V, W) in res.snapshots.items()}
    ode = None
    if config.ode_check and depth <= config.ode_max_depth:
        x, _ = seed_data(config, config.n, config.seed, config.seeds)
        ode = ode_discrepancy(model, x, interpolation="linear")
    seeds = seeds_of(config.seed, config.seeds)
    return DepthCell(config.init, depth, seeds, times, res.history, snaps, ode, res.seconds)


def depth_sweep_reference_cell(
    config: DepthSweepConfig, *, progress: bool = False
) -> ReferenceCell:
    """Train the reference depth; at every snapshot time project its Z onto each sweep depth."""
    import torch

    from resode.ode.measures import block_projection, flatten_z

    if not config.reference_depth:
        raise ResodeError("the config has reference_depth = 0: there is no reference to train")
    depths = config.sweep_depths()
    means: dict[int, dict[int, np.ndarray]] = {L: {} for L in depths}
    spread: dict[int, dict[int, np.ndarray]] = {L: {} for L in depths}

    def on_snapshot(t: int, V: torch.Tensor, W: torch.Tensor) -> None:
        Z = flatten_z(V, W)
        for L in depths:
            m, r = block_projection(Z, L)
            means[L][t], spread[L][t] = m.to(Z.dtype).numpy(), r.numpy()

    times = config.snapshot_times()
    _, res = train_network(
        config,
        init=config.init,
        n=config.n,
        width=config.m,
        depth=config.reference_depth,
        lr=config.lr,
        iterations=config.iterations,
        seed=config.seed,
        n_seeds=config.seeds,
        gp_grid=config.gp_grid(),
        clip=config.clip,
        snapshot_at=times,
        on_snapshot=on_snapshot,
        progress=progress,
        desc=f"reference {config.init} L={config.reference_depth}",
    )
    seeds = seeds_of(config.seed, config.seeds)
    return ReferenceCell(
        config.init, config.reference_depth, seeds, times, res.history, means, spread, res.seconds
    )


def _distances(cells: dict[int, DepthCell], ref: ReferenceCell, times: list[int]) -> np.ndarray:
    import torch

    from resode.ode.measures import l2_distance_to_projection

    out = []
    for L, cell in sorted(cells.items()):
        row = []
        for t in times:
            m, r = ref.block_means[L][t], ref.block_spread[L][t]
            d = l2_distance_to_projection(
                torch.as_tensor(cell.snapshots[t]), torch.as_tensor(m), torch.as_tensor(r)
            )
            row.append(d.numpy())
        out.append(np.stack(row))
    return np.stack(out)  # (n_depths, n_times, S)


def depth_sweep_combine(
    config: DepthSweepConfig,
    cells: Sequence[DepthCell],
    reference: ReferenceCell | None = None,
) -> DepthSweepResult:
    """Fit log max_{k,t'≤t}‖ΔZ‖ against log L at every snapshot time t (all seeds pooled: a
    description), fit one slope per seed at t = T and judge the claims on those (one-sample t
    over seeds): the slope claim of the init; for a smooth init under 1/L also the bound on
    L·max‖ΔZ‖ (its slope is the slope + 1) and, with a reference, the per-seed slope of the
    L²-in-s distance to it."""
    from resode.analysis_plan import plan_claim
    from resode.ode.measures import fit_loglog_slope, slope_label
    from resode.verdicts import judge

    by_depth = {c.depth: c for c in cells}
    depths = config.sweep_depths()
    if sorted(by_depth) != depths:
        raise ResodeError(f"cells for depths {sorted(by_depth)} do not match the config {depths}")
    times = config.snapshot_times()
    running = np.stack([by_depth[L].running_max_dz()[times] for L in depths])
    fits = {
        t: fit_loglog_slope(depths, running[:, j])
        for j, t in enumerate(times)
        if np.all(running[:, j] > 0)  # t = 0 of a tied init has ΔZ = 0
    }
    fit = fits.get(config.iterations)
    slopes = per_seed_slopes(depths, running[:, -1])
    claim = depth_claim(config)
    judged = []
    judgement = judge(claim, slopes.tolist()) if claim is not None else None
    if judgement is not None:
        judged.append(judgement)
    if ode_like(config):
        judged.append(judge(plan_claim(**BOUND_CLAIM), (slopes + 1.0).tolist()))
    distances = dist_fit = dist_slopes = None
    if reference is not None and config.reference_depth:
        distances = _distances(by_depth, reference, times)
        if np.all(distances[:, -1] > 0):
            dist_fit = fit_loglog_slope(depths, distances[:, -1])
        dist_slopes = per_seed_slopes(depths, distances[:, -1])
        if ode_like(config):
            judged.append(convergence_judgement(depths, distances[:, -1]))
        reference = dataclasses.replace(reference, block_means={}, block_spread={})
    return DepthSweepResult(
        config=config,
        depths=depths,
        times=times,
        seeds=seeds_of(config.seed, config.seeds),
        cells=[dataclasses.replace(by_depth[L], snapshots={}) for L in depths],
        reference=reference,
        running_max_dz=running,
        fit=fit,
        fits_by_time=fits,
        label=slope_label(fit) if fit is not None else "undefined (a ΔZ of exactly 0)",
        judgement=judgement,
        distances=distances,
        distance_fit=dist_fit,
        seconds=sum(c.seconds for c in cells) + (reference.seconds if reference else 0.0),
        seed_slopes=slopes,
        distance_seed_slopes=dist_slopes,
        judged=judged,
    )


def convergence_judgement(depths: Sequence[int], distances: np.ndarray) -> Judgement:
    """:data:`CONVERGENCE_CLAIM` on the per-seed slopes of log ‖Z^L − Z^ref‖ against log L
    (``distances``: (n_depths, S) at t = T), one-sample t over seeds."""
    from resode.analysis_plan import plan_claim
    from resode.verdicts import judge

    slopes = per_seed_slopes(depths, np.asarray(distances, dtype=np.float64))
    return judge(plan_claim(**CONVERGENCE_CLAIM), slopes.tolist())


def slope_gap_judgement(tied: DepthSweepResult, iid: DepthSweepResult) -> Judgement | None:
    """:data:`GAP_CLAIM`: per-seed slope of the i.i.d. sweep minus the tied sweep's (Welch over
    seeds); None unless both have per-seed slopes."""
    from resode.analysis_plan import plan_claim
    from resode.verdicts import judge

    if tied.seed_slopes is None or iid.seed_slopes is None:
        return None
    return judge(plan_claim(**GAP_CLAIM), iid.seed_slopes.tolist(), tied.seed_slopes.tolist())


def depth_sweep_rows(result: DepthSweepResult) -> list[dict[str, Any]]:
    """One summary row per depth (means over seeds)."""
    rows = []
    for i, L in enumerate(result.depths):
        c = result.cell(L)
        h = c.history
        rows.append(
            {
                "L": L,
                "max_{k,t≤T}‖ΔZ‖": float(result.running_max_dz[i, -1].mean()),
                "L·max": float(L * result.running_max_dz[i, -1].mean()),
                "max_k‖ΔZ‖ at t=0": float(h["max_dz"][0].mean()),
                "max_k‖ΔZ‖ at t=T": float(h["max_dz"][-1].mean()),
                "loss t=0": float(h["loss"][0].mean()),
                "loss t=T": float(h["loss"][-1].mean()),
                "min PL ratio": float(h["pl_ratio"].min(0).mean()),
                "ODE rel. error": None
                if c.ode_relative_error is None
                else float(np.mean(c.ode_relative_error)),
                "seconds": c.seconds,
            }
        )
    return rows


def _summary(result: DepthSweepResult) -> dict[str, Any]:
    ref = result.reference
    return {
        "experiment": "depth-sweep",
        "config": result.config.to_dict(),
        "seeds": result.seeds,
        "snapshot_times": result.times,
        "depths": depth_sweep_rows(result),
        "running_max_dz": result.running_max_dz,
        "slope_fit_T": None if result.fit is None else result.fit.to_dict(),
        "label": result.label,
        "judgement": None if result.judgement is None else result.judgement.to_dict(),
        "judgements": [j.to_dict() for j in result.judgements()],
        "seed_slopes_T": result.seed_slopes,
        "distance_seed_slopes_T": result.distance_seed_slopes,
        "slope_fits_by_time": {str(t): f.to_dict() for t, f in result.fits_by_time.items()},
        "reference": None
        if ref is None
        else {
            "depth": ref.depth,
            "loss_final": ref.history["loss"][-1],
            "L_max_dz_final": ref.depth * ref.history["max_dz"][-1],
            "seconds": ref.seconds,
        },
        "l2_distance_to_reference": result.distances,
        "l2_distance_slope_T": None
        if result.distance_fit is None
        else result.distance_fit.to_dict(),
        "seconds": result.seconds,
    }


def write(result: DepthSweepResult, out_dir: str | Path) -> list[Path]:
    """fig1_left.png, fig1_right.png (with a reference), loss.png,
    depth_sweep.{json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json

    out = Path(out_dir)
    paths = plots.plot_depth_sweep(result, out)
    paths.append(write_json(out / "depth_sweep.json", _summary(result)))
    rows = [
        {
            "depth": c.depth,
            "seed": seed,
            "iteration": t,
            **{k: v[t, s] for k, v in c.history.items()},
        }
        for c in result.cells
        for t in range(result.config.iterations + 1)
        for s, seed in enumerate(c.seeds)
    ]
    paths.append(write_csv(out / "depth_sweep.csv", rows))
    cfg = result.config
    rep = Report("Depth sweep (paper B, Fig. 1)", out)
    rep.paragraph(
        f"n={cfg.n}, d={cfg.d}, m={cfg.m}, T={cfg.iterations}, residual rate "
        f"L^{cfg.rate_exponent:g} × {cfg.lr:g}, init={cfg.init}, residual factor "
        f"L^-{cfg.scaling_exponent:g}, normalisation {cfg.normalisation}, activation "
        f"{cfg.activation}, seeds {result.seeds}."
    )
    rep.table(depth_sweep_rows(result))
    texts = {c["name"]: c["text"] for c in (*DEPTH_CLAIMS.values(), BOUND_CLAIM, CONVERGENCE_CLAIM)}
    for j in result.judgements():
        rep.claim(texts.get(j.claim, j.claim), j.verdict, j.reason)
    if result.seed_slopes is not None:
        per = ", ".join(f"{v:.4f}" for v in result.seed_slopes)
        rep.paragraph(f"Per-seed slopes at T (the claims' values): {per}.")
    rep.paragraph(f"Pooled slope at T (a description): {result.label}.")
    if result.distance_fit is not None and result.reference is not None:
        f = result.distance_fit
        rep.paragraph(
            f"L²-in-s distance to the reference depth {result.reference.depth} at T decays with "
            f"slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] in L."
        )
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("depth_sweep"))
    return paths


def cells(config: DepthSweepConfig, files_of: FilesOf | None = None) -> list[Cell]:
    """The reference depth (when set; the deepest network, first) and one cell per sweep depth,
    deepest first."""
    size = config.iterations * config.seeds * config.n * config.m
    out = [
        Cell(f"L{L}", depth_sweep_cell, (config, L), gd_seconds(L * size))
        for L in config.sweep_depths()[::-1]
    ]
    if config.reference_depth:
        ref = Cell(
            "reference",
            depth_sweep_reference_cell,
            (config,),
            gd_seconds(config.reference_depth * size),
        )
        out.insert(0, ref)
    return out


def combine(config: DepthSweepConfig, records: Sequence[Any]) -> DepthSweepResult:
    """:func:`depth_sweep_combine` of the cells' records (the reference one found by its type)."""
    ref = next((r for r in records if isinstance(r, ReferenceCell)), None)
    return depth_sweep_combine(config, [r for r in records if isinstance(r, DepthCell)], ref)


def summary(r: DepthSweepResult) -> dict[str, Any]:
    """The entry of one depth sweep in ``resode reproduce``'s ``results.json``."""
    final = r.running_max_dz[:, -1, :]
    return {
        "depths": r.depths,
        "seeds": r.seeds,
        "max_dz": final.tolist(),
        "L_max_dz": [(L * final[i]).tolist() for i, L in enumerate(r.depths)],
        "final_loss": [r.cell(L).history["loss"][-1].tolist() for L in r.depths],
        "fit": r.fit.to_dict() if r.fit is not None else None,
        "label": r.label,
        "config": r.config.to_dict(),
        # one slope per seed (each its own data draw): the values the claims are judged on
        "seed_slopes": None if r.seed_slopes is None else r.seed_slopes.tolist(),
        "distance_seed_slopes": None
        if r.distance_seed_slopes is None
        else r.distance_seed_slopes.tolist(),
        "distance_fit": r.distance_fit.to_dict() if r.distance_fit is not None else None,
    }


def report(rep: Any, results: Mapping[str, DepthSweepResult], figures: Mapping[str, Path]) -> None:
    """The report section: max‖ΔZ‖ and L·max per init and depth, the fitted slopes, Fig. 1."""
    from resode.report import fmt_mean_std

    rows = []
    for init, r in results.items():
        for i, L in enumerate(r.depths):
            final = [float(v) for v in r.running_max_dz[i][-1]]
            rows.append(
                {
                    "init": init,
                    "L": L,
                    "max ‖ΔZ‖": fmt_mean_std(final),
                    "L·max": fmt_mean_std([L * v for v in final]),
                    "final loss": fmt_mean_std([float(x) for x in r.cell(L).history["loss"][-1]]),
                }
            )
    rep.table(rows)
    fits = [
        {
            "init": init,
            "slope": f"{r.fit.slope:.3f}",
            f"{100 * r.fit.confidence:.0f} % CI": f"[{r.fit.ci_low:.3f}, {r.fit.ci_high:.3f}]",
            "R²": f"{r.fit.r2:.3f}",
            "points": r.fit.n_points,
            "reading": r.label,
        }
        for init, r in results.items()
        if r.fit is not None
    ]
    rep.table(fits)
    if "depth_sweep" in figures:
        T = next(iter(results.values())).config.iterations
        rep.figure(
            figures["depth_sweep"], f"max_(k, t≤{T}) ‖Z_(k+1) − Z_k‖ against L, fitted power law"
        )


EXPERIMENT = register(
    Experiment(
        name="depth_sweep",
        command="depth-sweep",
        title="depth sweep",
        help="Fig. 1: smoothness slope of max‖ΔZ‖ vs L",
        config=DepthSweepConfig,
        cells=cells,
        combine=combine,
        write=write,
        summary=summary,
        report=report,
        output="depth_sweep.json",
        claim_text=claim_texts(*DEPTH_CLAIMS.values(), BOUND_CLAIM, GAP_CLAIM, CONVERGENCE_CLAIM),
        order=10,
        # `resode reproduce`: a short sweep without the reference depth (paper-b-full has it)
        reproduce={
            "depths": [2, 8, 32, 128, 512],
            "iterations": 100,
            "seeds": 5,
            "reference_depth": 0,
            "snapshots": 2,
            "ode_check": False,
        },
        job_keys={
            "seed": "seed",
            "data_seed": "seed",
            "init": "paper_b.inits (one depth sweep per init)",
        },
    )
)


def depth_sweep(
    config: DepthSweepConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> DepthSweepResult:
    """Run every depth cell and the reference cell (in ``workers`` processes, cached under
    ``cache_dir``), combine, and write into ``out_dir`` when given."""
    return run_experiment(
        EXPERIMENT, config, out_dir, progress=progress, workers=workers, cache_dir=cache_dir
    )
