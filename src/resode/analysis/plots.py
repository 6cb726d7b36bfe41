"""Matplotlib (Agg) figures of the stability, landscape and λ analyses; several models per figure.

Every function takes results (or plain dicts of them), writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from resode.analysis.coefficients import LambdaReport
from resode.analysis.landscape import LandscapeResult
from resode.analysis.stability import StabilityResult
from resode.plotting import pyplot, save_figure

DPI = 120


def plot_stability(results: Sequence[StabilityResult], path: str | Path) -> Path:
    """2×2 panels per layer: amplification (random and attack δ), σ_max, cumulative products
    (log scale), feature drift (noise and adversarial η); one colour per model."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, r in enumerate(results):
        c = colors[j % len(colors)]
        n = list(range(len(r.blocks)))
        ax = axes[0][0]
        ax.plot(n, r.amp_random_mean, "-o", color=c, ms=3, label=f"{r.model}: random δ")
        ax.plot(n, r.amp_attack_mean, "--s", color=c, ms=3, label=f"{r.model}: attack δ")
        ax = axes[0][1]
        lo = [m - s for m, s in zip(r.sigma_max_mean, r.sigma_max_std)]
        hi = [m + s for m, s in zip(r.sigma_max_mean, r.sigma_max_std)]
        ax.plot(n, r.sigma_max_mean, "-o", color=c, ms=3, label=r.model)
        ax.fill_between(n, lo, hi, color=c, alpha=0.15)
        ax = axes[1][0]
        ax.semilogy(n, r.cum_sigma_max, "-o", color=c, ms=3, label=f"{r.model}: ∏ σ_max")
        ax.semilogy(n, r.cum_amp_random, ":", color=c, label=f"{r.model}: ∏ amp (random)")
        ax.semilogy(n, r.cum_amp_attack, "--", color=c, label=f"{r.model}: ∏ amp (attack)")
        ax = axes[1][1]
        layers = list(range(len(r.drift_noise_mean)))
        ax.plot(layers, r.drift_noise_mean, "-o", color=c, ms=3, label=f"{r.model}: noise η")
        ax.plot(layers, r.drift_adv_mean, "--s", color=c, ms=3, label=f"{r.model}: adversarial η")
    cfg = results[0].config if results else {}
    titles = [
        ("per-block amplification ‖g(h+δ)−g(h)‖/‖δ‖", "block n", "amplification"),
        ("top singular value of the block Jacobian (mean ± std)", "block n", "σ_max(∂g_n/∂h)"),
        ("cumulative product over depth (geometric means)", "block n", "product up to block n"),
        (
            f"feature drift (noise σ={cfg.get('noise_std', 0):.3g}, "
            f"{cfg.get('attack', 'adv')} ε={cfg.get('eps', 0) * 255:.3g}/255)",
            "layer n (h_n)",
            "‖h_n(x+η)−h_n(x)‖/‖h_n(x)‖",
        ),
    ]
    for ax, (t, xl, yl) in zip(axes.flat, titles):
        ax.set_title(t, fontsize=10)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].axhline(1.0, color="grey", lw=0.8)
    axes[0][1].axhline(1.0, color="grey", lw=0.8)
    fig.suptitle("Lyapunov stability per block (eval mode)")
    return save_figure(fig, path, dpi=DPI)


def plot_landscape_1d(
    results: Sequence[LandscapeResult], path: str | Path, *, space: str = "input"
) -> Path:
    """1D loss curves of ``space`` ('input': along d_adv and d_rand; 'parameter': d1, d2),
    all models on one axis per direction."""
    plt = pyplot()
    names = sorted({k for r in results for k in r.curves if k.startswith(space + "/")})
    if not names:
        raise ValueError(f"no {space} curves in the results")
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    scale = 255.0 if space == "input" else 1.0
    for ax, cname in zip(axes[0], names):
        for r in results:
            c = r.curves.get(cname)
            if c is None:
                continue
            ax.plot([t * scale for t in c["coords"]], c["loss"], "-o", ms=3, label=r.model)
        label = {
            "input/adv": "a along d_adv = sign(∇ₓL)",
            "input/rand": "b along d_rand (random sign)",
            "parameter/d1": "α along filter-normalised d1",
            "parameter/d2": "β along filter-normalised d2",
        }.get(cname, cname)
        ax.set_xlabel(label + (" [×1/255]" if space == "input" else ""))
        ax.set_ylabel("cross-entropy loss")
        ax.set_title(f"{space} space: {cname.split('/')[1]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"loss landscape, {space} space (1D)")
    return save_figure(fig, path, dpi=DPI)


def plot_landscape_2d(
    results: Sequence[LandscapeResult], path: str | Path, *, space: str = "input"
) -> Path:
    """2D loss contours of ``space`` side by side (shared contour levels)."""
    import numpy as np
    from matplotlib.colors import LogNorm

    plt = pyplot()
    rs = [r for r in results if space in r.surfaces]
    if not rs:
        raise ValueError(f"no {space} surface in the results")
    lo = min(float(np.min(r.surfaces[space]["loss"])) for r in rs)
    hi = max(float(np.max(r.surfaces[space]["loss"])) for r in rs)
    hi = hi if hi > lo else lo + 1e-6
    # wide loss ranges (parameter space) get logarithmic levels so the basin stays visible
    log_levels = lo > 0 and hi / lo > 20
    levels = np.geomspace(lo, hi, 21) if log_levels else np.linspace(lo, hi, 21)
    fig, axes = plt.subplots(
        1, len(rs), figsize=(5.4 * len(rs) + 1.2, 4.6), squeeze=False, layout="constrained"
    )
    scale = 255.0 if space == "input" else 1.0
    cs = None
    for ax, r in zip(axes[0], rs):
        s = r.surfaces[space]
        a = np.asarray(s["coords1"]) * scale
        b = np.asarray(s["coords2"]) * scale
        z = np.asarray(s["loss"])  # z[i][j] at (a_i, b_j)
        norm = LogNorm(vmin=lo, vmax=hi) if log_levels else None
        cs = ax.contourf(a, b, z.T, levels=levels, cmap="viridis", norm=norm)
        ax.contour(a, b, z.T, levels=levels, colors="k", linewidths=0.3)
        ax.plot([0], [0], "r+", ms=10)
        unit = " [×1/255]" if space == "input" else ""
        ax.set_xlabel(s["axes"][0] + unit)
        ax.set_ylabel(s["axes"][1] + unit)
        ax.set_title(f"{r.model} (clean loss {r.clean_loss:.3g})")
    if cs is not None:
        label = "cross-entropy loss" + (" (log-spaced levels)" if log_levels else "")
        cbar = fig.colorbar(cs, ax=list(axes[0]), label=label)
        ticks = levels[::4]
        cbar.set_ticks(ticks)
        cbar.set_ticklabels([f"{v:.3g}" for v in ticks])
    fig.suptitle(f"loss landscape, {space} space (2D)")
    return save_figure(fig, path, dpi=DPI)  # constrained layout: kept, no tight_layout


def plot_lambdas(reports: Sequence[LambdaReport], path: str | Path) -> Path:
    """Learned λ_n per block (mean over channels), one bar group per model."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * _max_blocks(reports) + 3), 4.2))
    k = max(1, len(reports))
    width = 0.8 / k
    for j, r in enumerate(reports):
        means = r.mean_lambdas()
        idx = [_block_index(b) for b in means]
        ax.bar(
            np.asarray(idx) + (j - (k - 1) / 2) * width, list(means.values()), width, label=r.model
        )
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xticks(range(_max_blocks(reports)))
    ax.set_xlabel("block n (blocks without a bar are undamped)")
    ax.set_ylabel("λ_n (0 = ResNet, 1 = plain CNN)")
    ax.set_title("learned interpolation coefficients")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=DPI)


def plot_lambda_trajectories(reports: Sequence[LambdaReport], path: str | Path) -> Path:
    """λ_n over training epochs, one panel per model, one line per block."""
    plt = pyplot()
    rs = [r for r in reports if len(r.trajectory)]
    if not rs:
        raise ValueError("no λ trajectory in the reports")
    fig, axes = plt.subplots(1, len(rs), figsize=(6 * len(rs), 4.2), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, r in zip(axes[0], rs):
        t = r.trajectory
        nb = max(1, len(t.blocks))
        for i, b in enumerate(t.blocks):
            ys = [float("nan") if v is None else v for v in t.values[b]]
            ax.plot(t.epochs, ys, color=cmap(i / max(1, nb - 1)), lw=1.2, label=b)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("λ_n")
        ax.set_title(f"{r.model}: λ over training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, path, dpi=DPI)


def _block_index(name: str) -> int:
    tail = name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _max_blocks(reports: Sequence[LambdaReport]) -> int:
    return max((r.n_blocks for r in reports), default=1)
