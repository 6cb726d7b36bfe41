"""Fig. 2 of paper B: long training of one depth (L = 64): weights against k over time, the loss,
its exponential decay rate and the PL ratio (Def. 1) along the run.

Claim (:data:`DECAY_CLAIM`, direction and margin from :data:`resode.analysis_plan.PLAN`),
Thm 6: under the PL condition (m ≥ c₁n, L ≥ c₂√(nq)) the loss decays *exponentially*. A slope
of ln ℓ below 0 cannot tell that from a power law, so the claim is judged on the shape of the
decay: the local rate r(t) = −d ln ℓ/dt is constant for ℓ = ℓ₀e^{−ct} and falls like 1/t for
ℓ ∝ t^{−p} (r = p/t). Measured per seed (:func:`decay_exponent`): r_b over ``rate_blocks``
consecutive blocks of the window (the run's last ``rate_window``, default half), and β, the
least-squares slope of ln r_b against ln t_b (t_b the block midpoints): β = 0 for an
exponential, −1 for any power law, a − 1 for a stretched exponential e^{−t^a}. Judged: β
equivalent to 0 within ±0.5 (the midpoint to −1), TOST on the one-sample t interval over seeds;
every seed draws its own data and initialisation (``data_per_seed``), so the interval is a
sampling interval (at least two seeds; the presets run 5). Secondary (:data:`RATE_CLAIM`): the
slope of ln ℓ per 1000 iterations over the window < 0 over seeds. Reported beside them: the PL
ratio P = (‖∇_A ℓ‖² + L Σ_k‖∇_{Z_k} ℓ‖² + ‖∇_B ℓ‖²)/ℓ at t = 0, its minimum over the run and
over the window (Def. 1 asks P ≥ μ > 0; GD with rate L·lr gives −d ln ℓ/dt ≈ lr·LΣ‖∇_Z ℓ‖²/ℓ ≤
lr·P), and ``pl_rate_ratio`` = the rate over the last quarter / (lr·min P over it), ≤ 1 up to
the discretisation, so that a rate which keeps pace with the PL bound reads ≈ constant.

Cells: :func:`long_time_cell` (one seed each); :func:`long_time_combine`; :func:`write`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import GDConfig, Init, Record, train_network
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
    from resode.verdicts import Claim, Judgement

#: claim sentences; direction and margin live in :data:`resode.analysis_plan.PLAN`
DECAY_CLAIM: dict[str, str] = {
    "name": "long_time_exponential_decay",
    "text": "With linear overparameterisation the training loss decays exponentially (Thm 6): "
    "the local rate −d ln ℓ/dt stays constant over the run's last half (log-log slope β "
    "against t near 0, not the −1 of a power law)",
}
RATE_CLAIM: dict[str, str] = {
    "name": "long_time_log_loss_rate",
    "text": "The training loss keeps decreasing: the slope of ln(loss) against the iteration "
    "over the run's last half is < 0",
}
PER = 1000.0  # the rate is reported per PER iterations


@dataclass
class LongTimeConfig(GDConfig):
    """Fig. 2: weights against k at many training times, the loss and its decay rate."""

    init: Init = option("tied", "initialisation")
    n: int = option(50, "number of samples", min=1)
    m: int = option(64, "width", min=1)
    depth: int = option(64, "depth L", min=2)
    iterations: int = option(80000, "GD iterations", min=2)
    lr: float = option(5e-3, "base learning rate (residual rate L^(2α−1) × lr)", min=0.0)
    seeds: int = option(
        5, "number of seeds (one cell each; each its own data and init; ≥ 2 for a verdict)", min=1
    )
    snapshots: int = option(12, "log-spaced training times at which weights are plotted", min=2)
    rate_window: float = option(
        0.5,
        "fraction of the run, at its end, over which the decay rate of ln(loss) is fitted",
        min=0.0,
        max=1.0,
        min_exclusive=True,
    )
    rate_blocks: int = option(
        8, "consecutive blocks of the window whose rates give the decay exponent β", min=3
    )

    def check(self) -> None:
        start, stop = self.window()
        if stop - start < self.rate_blocks:
            raise ConfigError(
                f"iterations = {self.iterations}: the rate window [{start}, {stop}] is too short "
                f"for rate_blocks = {self.rate_blocks}; run at least "
                f"{math.ceil(self.rate_blocks / self.rate_window) + 1} iterations or lower "
                "rate_blocks"
            )

    def snapshot_times(self) -> list[int]:
        T = self.iterations
        return sorted({0, T} | {int(v) for v in np.geomspace(1, T, self.snapshots - 1)})

    def window(self) -> tuple[int, int]:
        """First and last iteration of the rate window."""
        T = self.iterations
        return min(T - 1, round(T * (1.0 - self.rate_window))), T


@dataclass
class LongTimeCell(Record):
    """One seed: history curves (T+1,) keyed by :data:`resode.ode.train.HISTORY_KEYS`, entry
    (0, 0) of V_k and W_k at the snapshot times (n_times, L), lag smoothness at each time."""

    seed: int
    times: list[int]
    history: dict[str, np.ndarray]
    v_entry: np.ndarray
    w_entry: np.ndarray
    lag: dict[int, LagSmoothness]
    seconds: float


@dataclass
class LongTimeResult(Record):
    """Combined seeds. Per seed (S,): ``rates`` (d ln ℓ/dt per 1000 iterations over the window),
    ``block_rates`` (S, rate_blocks), ``exponents`` β (:func:`decay_exponent`), PL ratio at 0 /
    min over the run / min over the window, ``pl_rate_ratio``, max_k‖ΔZ‖ at 0 and T;
    ``judgement`` of :data:`DECAY_CLAIM` (primary), ``rate_judgement`` of :data:`RATE_CLAIM`."""

    config: LongTimeConfig
    seeds: list[int]
    times: list[int]
    cells: list[LongTimeCell]
    window: tuple[int, int]
    rates: np.ndarray
    block_rates: np.ndarray
    rate_method: str
    judgement: Judgement
    pl_initial: np.ndarray
    pl_min: np.ndarray
    pl_min_window: np.ndarray
    max_dz_initial: np.ndarray
    max_dz_final: np.ndarray
    seconds: float
    exponents: np.ndarray | None = None
    rate_judgement: Judgement | None = None
    pl_rate_ratio: np.ndarray | None = None

    @property
    def loss(self) -> np.ndarray:
        """Training loss (T+1, S)."""
        return np.stack([c.history["loss"] for c in self.cells], axis=1)

    @property
    def pl_ratio(self) -> np.ndarray:
        """PL ratio of Def. 1 along the run (T+1, S)."""
        return np.stack([c.history["pl_ratio"] for c in self.cells], axis=1)

    def judgements(self) -> list[Judgement]:
        return [self.judgement] + ([self.rate_judgement] if self.rate_judgement else [])


def decay_claim() -> Claim:
    from resode.analysis_plan import plan_claim

    return plan_claim(**DECAY_CLAIM)


def rate_claim() -> Claim:
    from resode.analysis_plan import plan_claim

    return plan_claim(**RATE_CLAIM)


def long_time_cell(config: LongTimeConfig, seed: int, *, progress: bool = False) -> LongTimeCell:
    """Train one seed for T iterations; keep the curves and weights at the snapshot times."""
    from resode.ode.measures import flatten_z, lag_smoothness

    times = config.snapshot_times()
    _, res = train_network(
        config,
        init=config.init,
        n=config.n,
        width=config.m,
        depth=config.depth,
        lr=config.lr,
        iterations=config.iterations,
        seed=seed,
        n_seeds=1,
        snapshot_at=times,
        progress=progress,
        desc=f"long-time L={config.depth} seed {seed}",
    )
    v = np.stack([res.snapshots[t][0][0, :, 0, 0].double().numpy() for t in times])
    w = np.stack([res.snapshots[t][1][0, :, 0, 0].double().numpy() for t in times])
    lag = {t: lag_smoothness(flatten_z(V[0], W[0])) for t, (V, W) in res.snapshots.items()}
    history = {k: a[:, 0] for k, a in res.history.items()}
    return LongTimeCell(seed, times, history, v, w, lag, res.seconds)


def log_loss_slope(loss: np.ndarray, start: int, stop: int) -> float:
    """Least-squares slope of ln ℓ(t) against t for t = start..stop, per :data:`PER` iterations."""
    t = np.arange(start, stop + 1, dtype=np.float64)
    y = np.log(np.asarray(loss[start : stop + 1], dtype=np.float64))
    tc = t - t.mean()
    return float((tc * (y - y.mean())).sum() / (tc**2).sum() * PER)


def block_slopes(loss: np.ndarray, start: int, stop: int, blocks: int) -> np.ndarray:
    """:func:`log_loss_slope` of ``blocks`` consecutive, equally long blocks of [start, stop]."""
    edges = block_edges(start, stop, blocks)
    return np.array([log_loss_slope(loss, a, b) for a, b in itertools.pairwise(edges)])


def block_edges(start: int, stop: int, blocks: int) -> np.ndarray:
    """``blocks`` + 1 integer edges splitting [start, stop] into equal blocks."""
    edges = np.linspace(start, stop, blocks + 1).round().astype(int)
    if np.any(np.diff(edges) < 1):
        raise ResodeError(
            f"the rate window [{start}, {stop}] is too short for {blocks} blocks; "
            "run more iterations or lower rate_blocks"
        )
    return edges


def decay_exponent(loss: np.ndarray, start: int, stop: int, blocks: int) -> float:
    """β: least-squares slope of ln r_b against ln t_b over ``blocks`` blocks of [start, stop],
    r_b = −(slope of ln ℓ over block b) (the local decay rate), t_b its midpoint iteration.

    ℓ = ℓ₀e^{−ct}: β = 0 exactly; ℓ = (1 + t/τ)^{−p}: r = p/(τ + t), β → −1 for t ≫ τ;
    NaN when a block's loss does not decrease (no log of r_b) or ``start`` is 0 (no log t).
    """
    if start <= 0:
        return math.nan
    edges = block_edges(start, stop, blocks)
    r = -np.array([log_loss_slope(loss, a, b) for a, b in itertools.pairwise(edges)])
    if not np.all(r > 0):
        return math.nan
    t = np.log(0.5 * (edges[1:] + edges[:-1]).astype(np.float64))
    y = np.log(r)
    tc = t - t.mean()
    return float((tc * (y - y.mean())).sum() / (tc**2).sum())


def last_quarter_rate(loss: np.ndarray, pl: np.ndarray, lr: float) -> float:
    """(−d ln ℓ/dt over the last quarter) / (lr·min PL ratio over it): the measured rate against
    the PL bound's rate lr·μ (≤ 1 up to the discretisation when only the Z_k are trained)."""
    T = len(loss) - 1
    a = min(T - 1, round(0.75 * T))
    mu = float(np.min(pl[a:]))
    rate = -log_loss_slope(loss, a, T) / PER
    return rate / (lr * mu) if mu > 0 else math.nan


def long_time_combine(config: LongTimeConfig, cells: Sequence[LongTimeCell]) -> LongTimeResult:
    """Decay rates, their interval and verdict, PL ratios and roughness of the trained weights."""
    from resode.verdicts import judge

    cells = sorted(cells, key=lambda c: c.seed)
    a, b = config.window()
    loss = np.stack([c.history["loss"] for c in cells], axis=1)
    if np.any(loss <= 0) or not np.all(np.isfinite(loss)):
        raise ResodeError("the loss curve has non-positive or non-finite values: no log rate")
    rates = np.array([log_loss_slope(loss[:, s], a, b) for s in range(len(cells))])
    blocks = np.stack(
        [block_slopes(loss[:, s], a, b, config.rate_blocks) for s in range(len(cells))]
    )
    betas = np.array(
        [decay_exponent(loss[:, s], a, b, config.rate_blocks) for s in range(len(cells))]
    )
    method = (
        f"one-sample t over {len(cells)} seeds (each its own data and init), "
        f"{config.rate_blocks} blocks"
    )
    pl = np.stack([c.history["pl_ratio"] for c in cells], axis=1)
    dz = np.stack([c.history["max_dz"] for c in cells], axis=1)
    return LongTimeResult(
        config=config,
        seeds=[c.seed for c in cells],
        times=config.snapshot_times(),
        cells=list(cells),
        window=(a, b),
        rates=rates,
        block_rates=blocks,
        rate_method=method + f" of ln(loss) over iterations {a}..{b}",
        judgement=judge(decay_claim(), betas.tolist()),
        rate_judgement=judge(rate_claim(), rates.tolist()),
        exponents=betas,
        pl_rate_ratio=np.array(
            [last_quarter_rate(loss[:, s], pl[:, s], config.lr) for s in range(len(cells))]
        ),
        pl_initial=pl[0],
        pl_min=pl.min(0),
        pl_min_window=pl[a:].min(0),
        max_dz_initial=dz[0],
        max_dz_final=dz[-1],
        seconds=sum(c.seconds for c in cells),
    )


def _summary(result: LongTimeResult) -> dict[str, Any]:
    return {
        "experiment": "long-time",
        "config": result.config.to_dict(),
        "seeds": result.seeds,
        "snapshot_times": result.times,
        "loss_initial": result.loss[0],
        "loss_final": result.loss[-1],
        "loss_min": result.loss.min(0),
        "rate_window": list(result.window),
        "rate_per_1000_iterations": result.rates,
        "block_rates_per_1000_iterations": result.block_rates,
        "rate_method": result.rate_method,
        "judgement": result.judgement.to_dict(),
        "judgements": [j.to_dict() for j in result.judgements()],
        "decay_exponent_beta": result.exponents,
        "pl_rate_ratio_last_quarter": result.pl_rate_ratio,
        "pl_ratio_initial": result.pl_initial,
        "pl_ratio_min": result.pl_min,
        "pl_ratio_min_window": result.pl_min_window,
        "max_dz_initial": result.max_dz_initial,
        "max_dz_final": result.max_dz_final,
        "lag_smoothness": {
            str(c.seed): {str(t): lg.to_dict() for t, lg in c.lag.items()} for c in result.cells
        },
        "seconds": result.seconds,
    }


def write(result: LongTimeResult, out_dir: str | Path) -> list[Path]:
    """fig2.png, long_time.{json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json

    out = Path(out_dir)
    cfg = result.config
    paths = plots.plot_long_time(result, out)
    paths.append(write_json(out / "long_time.json", _summary(result)))
    stride = max(1, cfg.iterations // 5000)
    rows = [
        {"iteration": t, "seed": c.seed, **{k: v[t] for k, v in c.history.items()}}
        for t in range(0, cfg.iterations + 1, stride)
        for c in result.cells
    ]
    paths.append(write_csv(out / "long_time.csv", rows))
    rep = Report("Long-time training (paper B, Fig. 2)", out)
    rep.paragraph(
        f"n={cfg.n}, d={cfg.d}, m={cfg.m}, L={cfg.depth}, T={cfg.iterations}, residual rate "
        f"L^{cfg.rate_exponent:g} × {cfg.lr:g}, init={cfg.init}, seeds {result.seeds}."
    )
    rep.table(
        [
            {
                "seed": c.seed,
                "loss t=0": float(result.loss[0, s]),
                "loss t=T": float(result.loss[-1, s]),
                "rate (per 1000 it.)": float(result.rates[s]),
                "β (decay exponent)": None
                if result.exponents is None
                else float(result.exponents[s]),
                "rate / (lr·min PL), last quarter": None
                if result.pl_rate_ratio is None
                else float(result.pl_rate_ratio[s]),
                "PL ratio t=0": float(result.pl_initial[s]),
                "min PL ratio": float(result.pl_min[s]),
                "min PL ratio (window)": float(result.pl_min_window[s]),
                "max_k‖ΔZ‖ t=0": float(result.max_dz_initial[s]),
                "max_k‖ΔZ‖ t=T": float(result.max_dz_final[s]),
                "lag smoothness t=T": c.lag[cfg.iterations].label,
            }
            for s, c in enumerate(result.cells)
        ]
    )
    texts = {DECAY_CLAIM["name"]: DECAY_CLAIM["text"], RATE_CLAIM["name"]: RATE_CLAIM["text"]}
    for j in result.judgements():
        rep.claim(texts[j.claim], j.verdict, f"{j.reason} ({result.rate_method})")
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("long_time"))
    return paths


def cells(config: LongTimeConfig, files_of: FilesOf | None = None) -> list[Cell]:
    """One cell per seed (each its own data draw and initialisation)."""
    cost = gd_seconds(config.depth * config.iterations * config.n * config.m)
    return [
        Cell(f"seed{s}", long_time_cell, (config, s), cost)
        for s in range(config.seed, config.seed + config.seeds)
    ]


def summary(lt: LongTimeResult) -> dict[str, Any]:
    """The entry of the long-time run in ``resode reproduce``'s ``results.json``."""
    return {
        "config": lt.config.to_dict(),
        "loss_first": float(lt.loss[0, 0]),
        "loss_last": float(lt.loss[-1, 0]),
        "window": list(lt.window),
        "rates_per_1000": lt.rates.tolist(),
        "rate_method": lt.rate_method,
        "pl_initial": lt.pl_initial.tolist(),
        "pl_min": lt.pl_min.tolist(),
        "seeds": list(lt.seeds),
        "loss_last_per_seed": lt.loss[-1].tolist(),
        "decay_exponent_beta": None if lt.exponents is None else lt.exponents.tolist(),
        "pl_rate_ratio_last_quarter": None
        if lt.pl_rate_ratio is None
        else lt.pl_rate_ratio.tolist(),
    }


def report(rep: Any, results: Mapping[str, LongTimeResult], figures: Mapping[str, Path]) -> None:
    """The report section: sizes, the loss, its decay rate and exponent β, the PL ratios."""
    from resode.report import fmt_mean_std

    for lt in results.values():
        c = lt.config
        lo, hi = lt.window

        def ms(v: Any) -> str:
            return fmt_mean_std([float(x) for x in v])

        beta = "–" if lt.exponents is None else ms(lt.exponents)
        rep.paragraph(
            f"n = {c.n}, m = {c.m}, L = {c.depth}, tied init, rate {c.depth} × {c.lr:g}, "
            f"{c.iterations} iterations (the paper: 80 000), seeds {lt.seeds} (each its own data "
            f"and init; mean ± std over seeds below). Loss {ms(lt.loss[0])} → {ms(lt.loss[-1])}; "
            f"slope of ln(loss) over iterations {lo}–{hi}: {ms(lt.rates)} per 1000 iterations; "
            f"decay exponent β (log-log slope of the local rate against t; 0 exponential, −1 "
            f"power law): {beta}; PL ratio {ms(lt.pl_initial)} at t = 0, minimum "
            f"{ms(lt.pl_min)} over the run; rate / (lr·min PL) over the last quarter: "
            f"{'–' if lt.pl_rate_ratio is None else ms(lt.pl_rate_ratio)}."
        )
    fig = figures.get("long_time/fig2")
    if fig is not None:
        rep.figure(fig, "Weights against layer during training, and the loss")


EXPERIMENT = register(
    Experiment(
        name="long_time",
        command="long-time",
        title="long-time training",
        help="Fig. 2: long training, loss decay rate",
        config=LongTimeConfig,
        cells=cells,
        combine=long_time_combine,
        write=write,
        summary=summary,
        report=report,
        output="long_time.json",
        claim_text=claim_texts(DECAY_CLAIM, RATE_CLAIM),
        order=20,
        reproduce={"iterations": 3000, "snapshots": 8},
        job_keys={"seed": "seed", "data_seed": "seed"},
    )
)


def long_time(
    config: LongTimeConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> LongTimeResult:
    """Run one cell per seed, combine, and write into ``out_dir`` when given."""
    return run_experiment(
        EXPERIMENT, config, out_dir, progress=progress, workers=workers, cache_dir=cache_dir
    )
