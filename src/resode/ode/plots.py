"""Figures of the paper-B experiments, one function per experiment result; each returns the paths
of the PNG files it wrote (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resode.plotting import pyplot, save_figure

if TYPE_CHECKING:
    from resode.ode.experiments.depth_sweep import DepthSweepResult
    from resode.ode.experiments.long_time import LongTimeResult
    from resode.ode.experiments.relu import ReluResult
    from resode.ode.experiments.table1 import Table1Result
    from resode.ode.experiments.weights import WeightsResult


def plot_depth_sweep(result: DepthSweepResult, out: str | Path) -> list[Path]:
    """fig1_left.png (max_{k,t'≤t}‖ΔZ‖ vs L at the snapshot times, fitted line at T),
    fig1_right.png (log10 L²-in-s distance to the reference over (t, L)), loss.png."""
    plt, out = pyplot(), Path(out)
    cfg, depths, times = result.config, result.depths, result.times
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    cmap = plt.get_cmap("viridis")
    for j, t in enumerate(times):
        if t > 0:
            color = cmap(j / max(1, len(times) - 1))
            ax.loglog(
                depths, result.running_max_dz[:, j].mean(1), "o-", color=color, label=f"t={t}"
            )
    if result.fit is not None:
        f, grid = result.fit, np.array([min(depths), max(depths)], dtype=float)
        ax.loglog(
            grid,
            np.exp(f.intercept) * grid**f.slope,
            "k--",
            lw=1,
            label=f"fit t=T: slope {f.slope:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]",
        )
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$\max_{k,\,t'\leq t}\ \|Z_{k+1}(t') - Z_k(t')\|_F$")
    ax.set_title(f"Fig. 1 left: init={cfg.init}, scaling L^-{cfg.scaling_exponent:g}")
    ax.legend(fontsize=7, loc="best")
    paths = [save_figure(fig, out / "fig1_left.png")]
    if result.distances is not None and result.reference is not None:
        mat = result.distances.mean(2)  # (n_depths, n_times)
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        im = ax.imshow(
            np.log10(np.maximum(mat, 1e-12)), aspect="auto", origin="lower", cmap="magma"
        )
        ax.set_xticks(range(len(times)), [str(t) for t in times], rotation=45, fontsize=7)
        ax.set_yticks(range(len(depths)), [str(L) for L in depths])
        ax.set_xlabel("iteration t")
        ax.set_ylabel("depth L")
        ax.set_title(f"Fig. 1 right: log10 ‖Z^L − Z^{{{result.reference.depth}}}‖ in L²(0,1)")
        fig.colorbar(im, ax=ax, label="log10 distance")
        paths.append(save_figure(fig, out / "fig1_right.png"))
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for c in result.cells:
        ax.semilogy(c.history["loss"].mean(1), label=f"L={c.depth}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, out / "loss.png"))
    return paths


def plot_long_time(result: LongTimeResult, out: str | Path) -> list[Path]:
    """fig2.png: entry (0, 0) of V_k and W_k against k at the snapshot times (first seed), the
    loss of every seed with the fitted rate over the window, and the PL ratio."""
    plt, out = pyplot(), Path(out)
    cfg, cell = result.config, result.cells[0]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    cmap = plt.get_cmap("viridis")
    ks = np.arange(1, cfg.depth + 1)
    for j, t in enumerate(cell.times):
        color = cmap(j / max(1, len(cell.times) - 1))
        axes[0].plot(ks, cell.v_entry[j], color=color, label=f"t={t}")
        axes[1].plot(ks, cell.w_entry[j], color=color)
    for ax, name in zip(axes[:2], ("V_k", "W_k")):
        ax.set_title(f"entry (0,0) of {name}, seed {cell.seed}")
        ax.set_xlabel("layer k")
    axes[0].legend(fontsize=6)
    it = np.arange(cfg.iterations + 1)
    a, b = result.window
    for s, c in enumerate(result.cells):
        line = axes[2].semilogy(it, c.history["loss"], lw=1, label=f"seed {c.seed}")
        y0 = math.log(c.history["loss"][a])
        fitted = np.exp(y0 + result.rates[s] / 1000.0 * (it[a : b + 1] - a))
        axes[2].semilogy(it[a : b + 1], fitted, "--", color=line[0].get_color(), lw=1)
        axes[3].semilogy(it, c.history["pl_ratio"], lw=1, color=line[0].get_color())
    axes[2].set_title(f"loss; dashed: rate {result.rates.mean():.3g} per 1000 it.")
    axes[2].set_xlabel("iteration")
    axes[2].legend(fontsize=7)
    axes[3].set_title("PL ratio (Def. 1)")
    axes[3].set_xlabel("iteration")
    return [save_figure(fig, out / "fig2.png")]


def plot_weights(result: WeightsResult, out: str | Path) -> list[Path]:
    """weights.png: entry (0, 0) of W_k (at init and trained) and V_k against s = k/L, per init
    (first seed)."""
    plt, out = pyplot(), Path(out)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c in result.cells:
        s = np.arange(1, c.depth + 1) / c.depth
        line = axes[0].plot(s, c.w[0], "-", lw=1.2, label=f"{c.init}: trained")
        axes[0].plot(s, c.w_init[0], ":", lw=1, color=line[0].get_color(), label=f"{c.init}: init")
        axes[1].plot(s, c.v[0], "-", lw=1.2, label=f"{c.init}: trained")
        axes[1].plot(s, c.v_init[0], ":", lw=1, color=line[0].get_color(), label=f"{c.init}: init")
    cfg = result.config
    for ax, name in zip(axes, ("W_k[0, 0]", "V_k[0, 0]")):
        ax.set_xlabel("s = k / L")
        ax.set_ylabel(name)
        ax.set_title(f"{name} against layer (L = {cfg.depth}, T = {cfg.iterations})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return [save_figure(fig, out / "weights.png")]


def plot_relu(result: ReluResult, out: str | Path) -> list[Path]:
    """relu_counterexample.png: trained w_k against s = k/D for every depth D."""
    plt, out = pyplot(), Path(out)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for c in result.cells:
        w = c.w[0] if c.w.ndim == 2 else c.w  # seed 0: the configured sample (x, Cx)
        ax.plot(np.arange(1, c.depth + 1) / c.depth, w, ".-", lw=0.6, label=f"D={c.depth}")
    ax.axhline(2 * math.log(result.config.C), color="k", ls="--", lw=1, label="2 log C")
    ax.set_xlabel("s = k / D")
    ax.set_ylabel("trained w_k")
    ax.set_title(f"ReLU counter-example, C={result.config.C:g}")
    ax.legend(fontsize=7)
    return [save_figure(fig, out / "relu_counterexample.png")]


def plot_table1(result: Table1Result, out: str | Path) -> list[Path]:
    """cifar_smoothness.png: D(ℓ) = mean_k‖Z_{k+ℓ} − Z_k‖ against the lag, every trained net."""
    plt, out = pyplot(), Path(out)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for c in result.cells:
        lag = c.smoothness["lag"]
        ax.loglog(
            lag["lags"],
            np.maximum(lag["mean_diff"], 1e-30),
            "o-",
            label=f"{c.activation}/{c.init} (seed {c.seed})",
        )
    ax.set_xlabel("lag ℓ (layers)")
    ax.set_ylabel("mean_k ‖Z_{k+ℓ} − Z_k‖_F")
    ax.set_title("Table 1 nets: smoothness of trained conv weights")
    ax.legend(fontsize=6)
    return [save_figure(fig, out / "cifar_smoothness.png")]
