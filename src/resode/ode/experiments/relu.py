"""The ReLU counter-example of paper B: with a non-smooth activation smoothness is lost.

Scalar net of depth D (= 2L in the paper) h_{k+1} = h_k + relu(w_{k+1} h_k)/D, initial weights
w_k(0) = (−1)^k/D (k = 1..D), one sample (x, Cx), C > 1, GD with rate D × lr on (h_D − Cx)².
For x > 0 the odd layers (w < 0, relu' = 0) never move and the even ones converge to
w* = D(C^{2/D} − 1) ≥ 2 log C, so max_k|w_{k+1} − w_k| stays ≈ 2 log C for every D.

Claim (:data:`RELU_CLAIM`, direction and margin from :data:`resode.analysis_plan.PLAN`):
max_k|w_{k+1} − w_k| after training does not shrink with the depth: the log-log slope against D
is equivalent to 0 (±0.25, TOST). The net is deterministic, so the interval comes from the
sample: seed 0 trains on the configured (x, Cx), seed s ≥ 1 on its own draw C ~ U(C_range),
x ~ U(x_range) (the counter-example holds for every C > 1, x > 0); one slope per seed, a
one-sample t interval over seeds (not over the residuals of one fit). Exact checks reported
beside it: odd layers unchanged, even layers at w*.

Cells: :func:`relu_cell` (one depth); :func:`relu_combine`; :func:`write`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import Config, option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import Record
from resode.ode.experiments.protocol import (
    Cell,
    Experiment,
    FilesOf,
    claim_texts,
    register,
    run_experiment,
)

if TYPE_CHECKING:
    import torch

    from resode.ode.measures import SlopeFit
    from resode.verdicts import Judgement

#: the claim's sentence; direction and margin live in :data:`resode.analysis_plan.PLAN`
RELU_CLAIM: dict[str, str] = {
    "name": "relu_smoothness_lost",
    "text": "With ReLU, smoothness is lost in training: max_k|w_{k+1} − w_k| stays O(1) "
    "(≈ 2 log C) for every depth (log-log slope 0)",
}


@dataclass
class ReluCounterexampleConfig(Config):
    """Scalar ReLU net of depth D, h_{k+1} = h_k + relu(w_{k+1} h_k)/D, w_k(0) = (−1)^k/D,
    data (x, Cx)."""

    depths: list[int] = option([4, 16, 64, 256], "even depths D (= 2L in the paper)", min=2)
    C: float = option(2.0, "target factor C > 1 (one sample (x, Cx))", min=1.0, min_exclusive=True)
    x: float = option(1.0, "the input x > 0", min=0.0, min_exclusive=True)
    lr: float = option(0.05, "base learning rate (rate D × lr)", min=0.0, min_exclusive=True)
    iterations: int = option(3000, "GD iterations", min=1)
    seeds: int = option(
        5, "samples: seed 0 is (x, Cx), seed s ≥ 1 draws C and x (≥ 2 for a verdict)", min=1
    )
    seed: int = option(0, "seed of the draws of C and x", min=0)
    C_range: list[float] = option([1.5, 3.0], "seeds ≥ 1: C ~ U(low, high)", min=1.0)
    x_range: list[float] = option([0.5, 1.5], "seeds ≥ 1: x ~ U(low, high)", min=0.0)

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """(C, x) per seed (S,): seed 0 the configured pair, seed s ≥ 1 drawn (seeded)."""
        rng = np.random.default_rng(self.seed)
        C = rng.uniform(*self.C_range, size=self.seeds)
        x = rng.uniform(*self.x_range, size=self.seeds)
        C[0], x[0] = self.C, self.x
        return C, x

    def check(self) -> None:
        for name in ("C_range", "x_range"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
                raise ConfigError(f"{name} must be [low, high] with 0 < low <= high, got {lo_hi}")
        if self.C_range[0] <= 1.0:
            raise ConfigError(f"C_range must lie above 1 (C > 1), got {self.C_range}")
        odd = [D for D in self.depths if D % 2]
        if odd:
            raise ConfigError(f"depths must be even (the paper's 2L), got {odd}")
        if len(set(self.depths)) < 2:
            raise ConfigError("depths needs at least two distinct depths to fit a slope")


def relu_scalar_train(
    depth: int, C: Any, x: Any, lr: float, iterations: int
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """h_{k+1} = h_k + relu(w_{k+1} h_k)/D, w_k(0) = (−1)^k/D, k = 1..D (D = ``depth`` = 2L).

    GD on ℓ = (h_D − C x)² with rate D × lr (float64). For x > 0 every h_k > 0, so
    relu(w h) = h·relu(w) and h_D = x·Π_k(1 + relu(w_k)/D) exactly (evaluated as a product).
    ``C``, ``x``: numbers, or arrays (S,) for S independent samples trained at once (their
    losses are separable). Returns (w(0) (D,), w(T) (D,) or (S, D), losses: a list of floats
    or a (T, S) array).
    """
    import torch

    if depth % 2:
        raise ResodeError(f"the ReLU counter-example needs an even depth, got {depth}")
    scalar = np.ndim(C) == 0 and np.ndim(x) == 0
    Ct = torch.as_tensor(np.atleast_1d(np.asarray(C, dtype=np.float64)))
    xt = torch.as_tensor(np.atleast_1d(np.asarray(x, dtype=np.float64)))
    if not bool((xt > 0).all()):
        raise ResodeError(f"the ReLU counter-example needs x > 0, got {x}")
    k = torch.arange(1, depth + 1)
    w0 = torch.where(k % 2 == 0, 1.0, -1.0).to(torch.float64) / depth
    w = w0.expand(len(Ct), depth).clone().requires_grad_(True)
    losses = np.empty((iterations, len(Ct)))
    for t in range(iterations):
        h = xt * torch.prod(1.0 + torch.relu(w) / depth, dim=-1)
        loss = (h - Ct * xt) ** 2
        (g,) = torch.autograd.grad(loss.sum(), w)
        with torch.no_grad():
            w -= depth * lr * g
        losses[t] = loss.detach().numpy()
    if scalar:
        return w0, w.detach()[0], losses[:, 0].tolist()
    return w0, w.detach(), losses


@dataclass
class ReluCell(Record):
    """One depth, every seed: w(0) (D,), w(T) (S, D), the loss curves (T, S),
    w* = D(C^{2/D} − 1) (S,), the samples C, x (S,)."""

    depth: int
    w0: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    w_star: np.ndarray
    C: np.ndarray
    x: np.ndarray

    @property
    def max_abs_dw_seeds(self) -> np.ndarray:
        """max_k|w_{k+1}(T) − w_k(T)| per seed (S,)."""
        return np.abs(np.diff(self.w, axis=-1)).max(axis=-1)

    @property
    def max_abs_dw(self) -> float:
        """Seed 0's (the configured sample's) max_k|w_{k+1} − w_k|."""
        return float(self.max_abs_dw_seeds[0])

    @property
    def odd_max_change(self) -> float:
        return float(np.abs(self.w[:, 0::2] - self.w0[0::2]).max())

    @property
    def even_max_error(self) -> float:
        return float(np.abs(self.w[:, 1::2] - self.w_star[:, None]).max())


@dataclass
class ReluResult(Record):
    config: ReluCounterexampleConfig
    cells: list[ReluCell]
    fit: SlopeFit
    label: str
    judgement: Judgement
    odd_layers_unchanged: bool
    even_max_error: float
    seed_slopes: np.ndarray

    def judgements(self) -> list[Judgement]:
        return [self.judgement]


def relu_cell(config: ReluCounterexampleConfig, depth: int, *, progress: bool = False) -> ReluCell:
    """Train depth D of the counter-example for every seed's sample (``progress`` is accepted
    for the cell runner)."""
    C, x = config.samples()
    w0, w, losses = relu_scalar_train(depth, C, x, config.lr, config.iterations)
    w_star = depth * (C ** (2.0 / depth) - 1.0)
    return ReluCell(depth, w0.numpy(), w.numpy(), losses, w_star, C, x)


def relu_combine(config: ReluCounterexampleConfig, cells: Sequence[ReluCell]) -> ReluResult:
    """Fit log max_k|Δw| against log D per seed and judge :data:`RELU_CLAIM` on the per-seed
    slopes (one-sample t over seeds); the pooled fit is a description."""
    from resode.analysis_plan import plan_claim
    from resode.ode.experiments.depth_sweep import per_seed_slopes
    from resode.ode.measures import fit_loglog_slope, slope_label
    from resode.verdicts import judge

    cells = sorted(cells, key=lambda c: c.depth)
    depths = [c.depth for c in cells]
    values = np.stack([c.max_abs_dw_seeds for c in cells])  # (n_depths, S)
    fit = fit_loglog_slope(depths, values)
    slopes = per_seed_slopes(depths, values)
    return ReluResult(
        config=config,
        cells=cells,
        fit=fit,
        label=slope_label(fit),
        judgement=judge(plan_claim(**RELU_CLAIM), slopes.tolist()),
        odd_layers_unchanged=all(c.odd_max_change == 0.0 for c in cells),
        even_max_error=max(c.even_max_error for c in cells),
        seed_slopes=slopes,
    )


def write(result: ReluResult, out_dir: str | Path) -> list[Path]:
    """relu_counterexample.{png,json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json

    out = Path(out_dir)
    cfg = result.config
    paths = plots.plot_relu(result, out)
    rows = [
        {
            "D": c.depth,
            "odd layers max change": c.odd_max_change,
            "even mean (seed 0)": float(c.w[0, 1::2].mean()),
            "w* = D(C^(2/D)−1) (seed 0)": float(c.w_star[0]),
            "2 log C (seed 0)": 2 * math.log(cfg.C),
            "max_k abs(w_(k+1) − w_k) per seed": ", ".join(f"{v:.4f}" for v in c.max_abs_dw_seeds),
            "final loss (max over seeds)": float(c.loss[-1].max()),
        }
        for c in result.cells
    ]
    summary = {
        "experiment": "relu-counterexample",
        "config": cfg.to_dict(),
        "rows": rows,
        "slope_fit": result.fit.to_dict(),
        "label": result.label,
        "judgement": result.judgement.to_dict(),
        "odd_layers_unchanged": result.odd_layers_unchanged,
        "even_max_error": result.even_max_error,
        "seed_slopes": result.seed_slopes,
        "samples": {"C": result.cells[0].C, "x": result.cells[0].x},
    }
    paths.append(write_json(out / "relu_counterexample.json", summary))
    paths.append(
        write_csv(
            out / "relu_counterexample.csv",
            [
                {"depth": c.depth, "seed": s, "k": k + 1, "w0": c.w0[k], "wT": c.w[s, k]}
                for c in result.cells
                for s in range(c.w.shape[0])
                for k in range(c.depth)
            ],
        )
    )
    rep = Report("ReLU counter-example (paper B)", out)
    rep.paragraph(
        f"Scalar net h_(k+1) = h_k + relu(w_(k+1) h_k)/D, w_k(0) = (−1)^k/D, one sample (x, Cx) "
        f"with x = {cfg.x:g}, C = {cfg.C:g} (seed 0; seeds 1..{cfg.seeds - 1} draw C from "
        f"U{tuple(cfg.C_range)} and x from U{tuple(cfg.x_range)}); {cfg.iterations} GD steps, "
        f"rate D × {cfg.lr:g}."
    )
    rep.table(rows)
    j = result.judgement
    rep.claim(RELU_CLAIM["text"], j.verdict, f"{j.reason}; {result.label}")
    rep.paragraph(
        f"Odd layers unchanged: {result.odd_layers_unchanged}; even layers at w* within "
        f"{result.even_max_error:.2e}."
    )
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("relu_counterexample"))
    return paths


def cells(config: ReluCounterexampleConfig, files_of: FilesOf | None = None) -> list[Cell]:
    """One cell per depth (all seeds), deepest first."""
    return [
        Cell(f"D{D}", relu_cell, (config, D), 2e-7 * D * config.iterations)
        for D in sorted(set(config.depths))[::-1]
    ]


def summary(r: ReluResult) -> dict[str, Any]:
    """The entry of the ReLU counter-example in ``resode reproduce``'s ``results.json``."""
    return {
        "config": r.config.to_dict(),
        "depths": [c.depth for c in r.cells],
        "max_abs_dw": [c.max_abs_dw_seeds.tolist() for c in r.cells],
        "seed_slopes": r.seed_slopes.tolist(),
        "odd_layers_unchanged": r.odd_layers_unchanged,
        "even_max_error": r.even_max_error,
    }


def report(rep: Any, results: Mapping[str, ReluResult], figures: Mapping[str, Path]) -> None:
    """The report section: the odd layers that never move, the even layers' fixed point, the
    increments against D."""
    from resode.report import fmt_mean_std

    for r in results.values():
        c = r.config
        rep.paragraph(
            f"Scalar ReLU net h_(k+1) = h_k + relu(w_(k+1) h_k)/D, w_k(0) = (−1)^k/D, one sample "
            f"(x, Cx) per seed (seed 0: x = {c.x:g}, C = {c.C:g}; others drawn), {c.iterations} "
            f"GD steps. Odd layers unchanged: {r.odd_layers_unchanged}; even layers at w* = "
            f"D(C^(2/D) − 1) within {r.even_max_error:.2e}."
        )
        rep.table(
            [
                {
                    "D": cell.depth,
                    "max_k |w_(k+1) − w_k| (mean ± std over seeds)": fmt_mean_std(
                        [float(v) for v in cell.max_abs_dw_seeds]
                    ),
                }
                for cell in r.cells
            ]
        )
        slopes = ", ".join(f"{v:.4f}" for v in r.seed_slopes)
        rep.paragraph("Per-seed slopes against D: " + slopes)


EXPERIMENT = register(
    Experiment(
        name="relu",
        command="relu-counterexample",
        title="ReLU counter-example",
        help="ReLU counter-example: odd layers never move",
        config=ReluCounterexampleConfig,
        cells=cells,
        combine=relu_combine,
        write=write,
        summary=summary,
        report=report,
        output="relu_counterexample.json",
        claim_text=claim_texts(RELU_CLAIM),
        order=40,
        job_keys={"seed": "seed"},
    )
)


def relu_counterexample(
    config: ReluCounterexampleConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> ReluResult:
    """One cell per depth, combine, and write into ``out_dir`` when given."""
    return run_experiment(
        EXPERIMENT, config, out_dir, progress=progress, workers=workers, cache_dir=cache_dir
    )
