"""The ReLU counter-example of paper B: with a non-smooth activation smoothness is lost.

Scalar net of depth D (= 2L in the paper) h_{k+1} = h_k + relu(w_{k+1} h_k)/D, initial weights
w_k(0) = (−1)^k/D (k = 1..D), one sample (x, Cx), C > 1, GD with rate D × lr on (h_D − Cx)².
For x > 0 the odd layers (w < 0, relu' = 0) never move and the even ones converge to
w* = D(C^{2/D} − 1) ≥ 2 log C, so max_k|w_{k+1} − w_k| stays ≈ 2 log C for every D.

Claim (:data:`RELU_CLAIM`): max_k|w_{k+1} − w_k| after training does not shrink with the depth:
log-log slope against D equivalent to 0 (margin ±0.25, TOST on the fitted slope's t interval).
Exact checks reported beside it: odd layers unchanged, even layers at w*.

Cells: :func:`relu_cell` (one depth); :func:`relu_combine`; :func:`write`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import Config, option
from resode.errors import ConfigError, ResodeError
from resode.ode.experiments.common import Call, Record, run_cells

if TYPE_CHECKING:
    import torch

    from resode.ode.measures import SlopeFit
    from resode.verdicts import Judgement

RELU_CLAIM: dict[str, Any] = {
    "name": "relu_smoothness_lost",
    "text": "With ReLU, smoothness is lost in training: max_k|w_{k+1} − w_k| stays O(1) "
    "(≈ 2 log C) for every depth (log-log slope 0)",
    "direction": "equivalent",
    "margin": 0.25,
    "reference": 0.0,
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

    def check(self) -> None:
        odd = [D for D in self.depths if D % 2]
        if odd:
            raise ConfigError(f"depths must be even (the paper's 2L), got {odd}")
        if len(set(self.depths)) < 2:
            raise ConfigError("depths needs at least two distinct depths to fit a slope")


def relu_scalar_train(
    depth: int, C: float, x: float, lr: float, iterations: int
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """h_{k+1} = h_k + relu(w_{k+1} h_k)/D, w_k(0) = (−1)^k/D, k = 1..D (D = ``depth`` = 2L).

    GD on ℓ = (h_D − C x)² with rate D × lr (float64). For x > 0 every h_k > 0, so
    relu(w h) = h·relu(w) and h_D = x·Π_k(1 + relu(w_k)/D) exactly (evaluated as a product).
    Returns (w(0), w(T), losses).
    """
    import torch

    if depth % 2:
        raise ResodeError(f"the ReLU counter-example needs an even depth, got {depth}")
    if x <= 0:
        raise ResodeError(f"the ReLU counter-example needs x > 0, got {x}")
    k = torch.arange(1, depth + 1)
    w0 = torch.where(k % 2 == 0, 1.0, -1.0).to(torch.float64) / depth
    w = w0.clone().requires_grad_(True)
    losses = []
    for _ in range(iterations):
        h = x * torch.prod(1.0 + torch.relu(w) / depth)
        loss = (h - C * x) ** 2
        (g,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= depth * lr * g
        losses.append(float(loss.detach()))
    return w0, w.detach(), losses


@dataclass
class ReluCell(Record):
    """One depth: w(0), w(T) (D,), the loss curve (T,), w* = D(C^{2/D} − 1)."""

    depth: int
    w0: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    w_star: float

    @property
    def max_abs_dw(self) -> float:
        return float(np.abs(np.diff(self.w)).max())

    @property
    def odd_max_change(self) -> float:
        return float(np.abs(self.w[0::2] - self.w0[0::2]).max())

    @property
    def even_max_error(self) -> float:
        return float(np.abs(self.w[1::2] - self.w_star).max())


@dataclass
class ReluResult(Record):
    config: ReluCounterexampleConfig
    cells: list[ReluCell]
    fit: SlopeFit
    label: str
    judgement: Judgement
    odd_layers_unchanged: bool
    even_max_error: float

    def judgements(self) -> list[Judgement]:
        return [self.judgement]


def relu_cell(config: ReluCounterexampleConfig, depth: int, *, progress: bool = False) -> ReluCell:
    """Train depth D of the counter-example (``progress`` is accepted for the cell runner)."""
    w0, w, losses = relu_scalar_train(depth, config.C, config.x, config.lr, config.iterations)
    w_star = depth * (config.C ** (2.0 / depth) - 1.0)
    return ReluCell(depth, w0.numpy(), w.numpy(), np.asarray(losses), w_star)


def relu_combine(config: ReluCounterexampleConfig, cells: Sequence[ReluCell]) -> ReluResult:
    """Fit log max_k|Δw| against log D and judge :data:`RELU_CLAIM`."""
    from resode.ode.measures import fit_loglog_slope, judge_slope, slope_label
    from resode.verdicts import Claim

    cells = sorted(cells, key=lambda c: c.depth)
    fit = fit_loglog_slope([c.depth for c in cells], [c.max_abs_dw for c in cells])
    return ReluResult(
        config=config,
        cells=cells,
        fit=fit,
        label=slope_label(fit),
        judgement=judge_slope(Claim(**RELU_CLAIM), fit),
        odd_layers_unchanged=all(c.odd_max_change == 0.0 for c in cells),
        even_max_error=max(c.even_max_error for c in cells),
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
            "even mean": float(c.w[1::2].mean()),
            "w* = D(C^(2/D)−1)": c.w_star,
            "2 log C": 2 * math.log(cfg.C),
            "max_k abs(w_(k+1) − w_k)": c.max_abs_dw,
            "final loss": float(c.loss[-1]),
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
    }
    paths.append(write_json(out / "relu_counterexample.json", summary))
    paths.append(
        write_csv(
            out / "relu_counterexample.csv",
            [
                {"depth": c.depth, "k": k + 1, "w0": c.w0[k], "wT": c.w[k]}
                for c in result.cells
                for k in range(c.depth)
            ],
        )
    )
    rep = Report("ReLU counter-example (paper B)", out)
    rep.paragraph(
        f"Scalar net h_(k+1) = h_k + relu(w_(k+1) h_k)/D, w_k(0) = (−1)^k/D, one sample (x, Cx) "
        f"with x = {cfg.x:g}, C = {cfg.C:g}; {cfg.iterations} GD steps, rate D × {cfg.lr:g}."
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


def relu_counterexample(
    config: ReluCounterexampleConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> ReluResult:
    """One cell per depth, combine, and write into ``out_dir`` when given."""
    calls: list[Call] = [(relu_cell, (config, D)) for D in sorted(set(config.depths))[::-1]]
    cells = run_cells(calls, workers=workers, cache_dir=cache_dir, progress=progress)
    result = relu_combine(config, cells)
    if out_dir is not None:
        write(result, out_dir)
    return result
