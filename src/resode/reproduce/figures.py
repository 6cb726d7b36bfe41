"""The figures of ``resode reproduce`` (PNG, Agg backend), drawn from collected results only.

Each function takes the typed results of :mod:`resode.reproduce.paper_a` / ``paper_b`` /
``claims`` and a path, and returns the path it wrote.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from resode.plotting import pyplot, save_figure
from resode.registry import display_name
from resode.report import mean_std


def _errorbars(ax: Any, xs: list[float], per_seed: list[list[float]], label: str) -> None:
    ms = [100 * mean_std(v)[0] for v in per_seed]
    ss = [100 * mean_std(v)[1] for v in per_seed]
    ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=label)


def noise_figure(
    models: list[str], a: Any, labels: list[str], severities: list[int], path: Path
) -> Path:
    """Noise accuracy against severity (mean ± std over seeds): one column per corruption, one
    row per strength (the CIFAR-C levels, then the scaled ones, e.g. ×3)."""
    plt = pyplot()
    kinds = list(dict.fromkeys(lab.split("×")[0] for lab in labels))
    strengths = list(dict.fromkeys(lab.split("×")[1] if "×" in lab else "" for lab in labels))
    fig, axes = plt.subplots(
        len(strengths),
        len(kinds),
        figsize=(3.6 * len(kinds), 3.2 * len(strengths)),
        squeeze=False,
    )
    for i, st in enumerate(strengths):
        for j, kind in enumerate(kinds):
            ax, label = axes[i][j], kind + (f"×{st}" if st else "")
            for m in models:
                runs = a.by_model(m)
                vals = [[r.robustness.corruptions[label][str(s)] for r in runs] for s in severities]
                _errorbars(ax, list(severities), vals, display_name(m))
            ax.set_title(label.replace("_", " ") + ("" if st else " (CIFAR-C)"), fontsize=9)
            ax.set_xlabel("severity")
            ax.set_ylabel("accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
    fig.suptitle("Stochastic noise: mean ± std over seeds")
    return save_figure(fig, path)


def attack_figure(models: list[str], a: Any, attacks: list[str], path: Path) -> Path:
    """The attack table as curves: robust accuracy against ε, one panel per row label of
    :func:`resode.reproduce.paper_a.attack_rows` (each attack measured on its own, the cascade's
    cumulative rows, the worst case over the declared set; ``attacks`` orders the first), one
    line per model with the spread over seeds (mean ± std) and the Clopper–Pearson interval
    over images as a band."""
    from resode.reproduce.paper_a import attack_rows

    plt = pyplot()
    rows = attack_rows(a)
    labels = list(dict.fromkeys(r.attack for r in rows))
    rank = {atk: i for i, atk in enumerate(attacks)}
    labels.sort(key=lambda lab: (rank.get(lab, len(rank)), 0))
    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 3.6), squeeze=False)
    for ax, label in zip(axes[0], labels):
        for m in models:
            cells = {r.eps: r for r in rows if r.model == m and r.attack == label}
            levs = [lev for lev in a.eps_labels if lev in cells]
            xs = [255 * a.eps[a.eps_labels.index(lev)] for lev in levs]
            _errorbars(ax, xs, [cells[lev].per_seed for lev in levs], display_name(m))
            ax.fill_between(
                xs,
                [100 * cells[lev].images_ci[0] for lev in levs],
                [100 * cells[lev].images_ci[1] for lev in levs],
                color=ax.lines[-1].get_color(),
                alpha=0.12,
            )
        ax.set_title(label.upper() if label in rank else label, fontsize=9)
        ax.set_xlabel("ε (×1/255, L∞)")
        ax.set_ylabel("robust accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Attack table: mean ± std over seeds; band: 95 % Clopper–Pearson interval over images"
    )
    return save_figure(fig, path)


def sweep_figure(a: Any, depth: int, epochs: int | None, path: Path) -> Path:
    """Clean, noise and robust accuracy against the fixed λ."""
    plt = pyplot()
    lams = sorted({r.result.lam for r in a.sweep})
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    keys = sorted({k for r in a.sweep for k in r.metrics if k.endswith("_mean")} - {"robust_mean"})
    for key, label in (
        ("clean", "clean"),
        ("noise_pooled", "noise (pooled)"),
        *[(k, k.replace("_mean", "").upper() + " (mean over ε)") for k in keys],
        ("robust_mean", "robust: worst case (mean over ε)"),
    ):
        ys = [
            mean_std([r.metrics.get(key, math.nan) for r in a.sweep if r.result.lam == lam])[0]
            for lam in lams
        ]
        if all(math.isfinite(y) for y in ys):
            ax.plot(lams, [100 * y for y in ys], "-o", label=label)
    ax.set_xlabel("fixed λ (0 = ResNet, 1 = plain CNN)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Fixed-λ sweep: pre-act ResNet-{depth}, {epochs} epochs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def claims_figure(claims: list[Any], path: Path) -> Path:
    """Forest plot: each claim's effect with its confidence interval, the ± margin band around the
    reference (grey) and the reference itself. The colour and the word are the *headline*
    verdict (family-wise adjusted), the unadjusted one beside it where it differs; a secondary
    reading is grey and says that it never decides."""
    plt = pyplot()
    fig, axes = plt.subplots(len(claims), 1, figsize=(8, 0.6 * len(claims) + 1.2), squeeze=False)
    for ax, c in zip(axes[:, 0], claims):
        secondary = c.role == "secondary"
        _claim_axis(ax, c.judgement, None if secondary else c.verdict)
        ax.set_title(claim_label(c), fontsize=8, loc="left")
    fig.suptitle(
        "Effects with confidence intervals; grey: ± margin around the reference", fontsize=9
    )
    return save_figure(fig, path)


_COLOURS = {"reproduced": "#2a9d2a", "contradicted": "#c0392b", "inconclusive": "#d4a017"}


def claim_label(c: Any) -> str:
    """``name · model: headline verdict`` (+ the unadjusted verdict where it differs)."""
    model = f" · {display_name(c.model)}" if c.model else ""
    if c.role == "secondary":
        return f"{c.name}{model}: secondary, never decides (unadjusted: {c.raw_verdict})"
    raw = f" (unadjusted: {c.raw_verdict})" if c.raw_verdict != c.verdict else ""
    return f"{c.name}{model}: {c.verdict}{raw}"


def _claim_axis(ax: Any, j: Any, verdict: str | None) -> None:
    log = j.scale == "log"
    ref = 1.0 if log else j.reference
    band = (ref / j.margin, ref * j.margin) if log else (ref - j.margin, ref + j.margin)
    pts = [p for p in (j.effect, *j.ci, *band) if math.isfinite(p) and (p > 0 or not log)]
    lo, hi = min(pts), max(pts)
    if log:
        ax.set_xscale("log")
        pad = (hi / lo) ** 0.1
        ax.set_xlim(lo / pad, hi * pad)
    else:
        pad = 0.1 * (hi - lo) or 1.0
        ax.set_xlim(lo - pad, hi + pad)
    ax.axvspan(*band, color="#ddd", zorder=0)
    ax.axvline(ref, color="#555", lw=0.8)
    col = _COLOURS.get(verdict or "", "#777")
    xmin, xmax = ax.get_xlim()  # an infinite interval is drawn across the whole axis
    ax.plot([max(j.ci[0], xmin), min(j.ci[1], xmax)], [0, 0], color=col, lw=3)
    if math.isfinite(j.effect):
        ax.plot([j.effect], [0], "o", color=col)
    ax.set_yticks([])
    ax.tick_params(labelsize=7)


def stability_figure(a: Any, models: list[str], seed: int, path: Path) -> Path | None:
    """Per-block stability panels of one seed (resode.analysis.plots.plot_stability)."""
    from resode.analysis.plots import plot_stability
    from resode.analysis.stability import StabilityResult

    results = []
    for m in models:
        run = next((r for r in a.by_model(m) if r.seed == seed), None)
        if run is None or not (run.folder / "stability.json").exists():
            continue
        st = StabilityResult.from_dict(json.loads((run.folder / "stability.json").read_text()))
        st.model = display_name(m)
        results.append(st)
    return plot_stability(results, path) if results else None


def landscape_figures(a: Any, models: list[str], seed: int, out: Path) -> dict[str, Path]:
    """1D and 2D input-space landscapes of one seed."""
    from resode.analysis.landscape import LandscapeResult
    from resode.analysis.plots import plot_landscape_1d, plot_landscape_2d

    results = []
    for m in models:
        run = next((r for r in a.by_model(m) if r.seed == seed), None)
        if run is None or not (run.folder / "landscape.json").exists():
            continue
        la = LandscapeResult.from_dict(json.loads((run.folder / "landscape.json").read_text()))
        la.model = display_name(m)
        results.append(la)
    if not results:
        return {}
    return {
        "landscape_1d": plot_landscape_1d(results, out / "paper_a_landscape_1d.png"),
        "landscape_2d": plot_landscape_2d(results, out / "paper_a_landscape_2d.png"),
    }


def lambda_figures(a: Any, models: list[str], seed: int, out: Path) -> dict[str, Path]:
    """Learned λ per block and λ over training, one seed (resode.analysis)."""
    from resode.analysis.coefficients import lambda_report
    from resode.analysis.plots import plot_lambda_trajectories, plot_lambdas

    reports = []
    for m in models:
        run = next((r for r in a.by_model(m) if r.seed == seed), None)
        if run is None or run.result.lambdas is None:
            continue
        reports.append(
            lambda_report(run.folder / run.result.train.checkpoint, name=display_name(m))
        )
    if not reports:
        return {}
    figs = {"lambdas": plot_lambdas(reports, out / "paper_a_lambdas.png")}
    with contextlib.suppress(ValueError):  # no λ logged per epoch
        figs["lambda_traj"] = plot_lambda_trajectories(
            reports, out / "paper_a_lambda_trajectories.png"
        )
    return figs


def depth_sweep_figure(sweeps: dict[str, Any], path: Path) -> Path:
    """Fig. 1 (left) for every init: max_{k,t≤T}‖ΔZ‖ against L (seeds as dots, the fitted power
    law), and L·max against L (constant ⇔ slope −1)."""
    import numpy as np

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for init, r in sweeps.items():
        Ls = np.asarray(r.depths, dtype=float)
        v = np.asarray(r.running_max_dz)[:, -1, :]
        label = init
        if r.fit is not None:
            label += f": slope {r.fit.slope:.2f} [{r.fit.ci_low:.2f}, {r.fit.ci_high:.2f}]"
        line = axes[0].loglog(Ls, v.mean(1), "o", label=label)
        for j in range(v.shape[1]):
            axes[0].loglog(Ls, v[:, j], ".", color=line[0].get_color(), alpha=0.3)
        if r.fit is not None:
            axes[0].loglog(
                Ls, np.exp(r.fit.intercept) * Ls**r.fit.slope, "-", color=line[0].get_color()
            )
        axes[1].loglog(Ls, (Ls[:, None] * v).mean(1), "-o", label=init)
    axes[0].set_xlabel("depth L")
    axes[0].set_ylabel("max_{k, t≤T} ‖Z_{k+1} − Z_k‖_F")
    axes[0].set_title("Fig. 1 (left): weight increments vs depth")
    axes[1].set_xlabel("depth L")
    axes[1].set_ylabel("L · max ‖ΔZ‖")
    axes[1].set_title("L·max (constant ⇔ slope −1)")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


__all__ = [
    "attack_figure",
    "claim_label",
    "claims_figure",
    "depth_sweep_figure",
    "lambda_figures",
    "landscape_figures",
    "noise_figure",
    "stability_figure",
    "sweep_figure",
]
