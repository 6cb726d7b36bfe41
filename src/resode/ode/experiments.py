"""Paper B experiments: Fig. 1 (depth sweep), Fig. 2 (long time), the ReLU counter-example and
Table 1 (CIFAR grid). Each writes PNG plots, JSON (config, seeds, results), CSV and a Markdown
summary into an output folder and returns the JSON-able summary.

Defaults follow papers.md §B.4 with the official synthetic code's conventions (no 1/√m, 1/√q,
MSE averaged over n·d', A = B = I, x, y ~ N(0, I)); ``preset="short"`` shrinks every experiment
to a CPU-minutes check.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from resode.config import Config, option
from resode.errors import ResodeError
from resode.report import write_csv, write_json

if TYPE_CHECKING:  # torch is imported inside the functions: the CLI reads the configs cheaply
    import torch

    from resode.ode.scaled_resnet import ScaledResidualMLP

# --------------------------------------------------------------------------------------------
# configs


@dataclass
class DepthSweepConfig(Config):
    """Fig. 1: max_{k,t≤T}‖Z_{k+1} − Z_k‖_F against L, and ‖Z^L − Z^ref‖_{L²(s)} over (t, L)."""

    n: int = option(100, "number of samples", min=1)
    d: int = option(16, "input = hidden = output dimension (A = B = I)", min=1)
    m: int = option(32, "width of the residual MLPs", min=1)
    iterations: int = option(500, "full-batch GD iterations T", min=1)
    depths: list[int] = option([2, 16, 64, 256, 1024], "depths L of the sweep")
    reference_depth: int = option(
        4096, "depth of the reference network for the L²-in-s distances (0: skip)", min=0
    )
    seeds: int = option(3, "number of seeds (run together in one batched matmul)", min=1)
    seed: int = option(0, "first initialisation seed (seed i uses seed + i)", min=0)
    data_seed: int = option(0, "seed of the synthetic data x, y ~ N(0, I)", min=0)
    lr: float = option(1e-2, "base learning rate (residual weights move with L × lr)", min=0.0)
    init: Literal["tied", "iid", "gp"] = option("tied", "initialisation of Z_k(0)")
    zero_v: bool = option(True, "V_k(0) = 0 (the paper's main scheme)")
    gp_length_scale: float = option(0.1, "GP init: length scale ℓ in s", min=0.0)
    scaling_exponent: float = option(1.0, "residual factor L^-α: 1 (ODE) or 0.5 (1/√L)", min=0.0)
    normalisation: Literal["official", "paper"] = option(
        "official", "official: σ(hW)V/L; paper: 1/(L√m)·Vσ(Wh/√q)"
    )
    activation: Literal["gelu", "tanh", "softplus", "relu", "identity"] = option(
        "gelu", "activation σ"
    )
    float64: bool = option(False, "train in float64")
    clip: float | None = option(None, "clip each seed's update norm to this value", min=0.0)
    snapshots: int = option(11, "training times (evenly spaced) for the L² heat map", min=2)
    ode_check: bool = option(True, "solve the neural ODE (dopri5) with the trained weights")
    ode_max_depth: int = option(256, "solve the neural ODE only for depths up to this", min=2)


@dataclass
class LongTimeConfig(Config):
    """Fig. 2: weights against k at many training times and the loss, L = 64."""

    n: int = option(50, "number of samples", min=1)
    d: int = option(16, "dimension (A = B = I)", min=1)
    m: int = option(64, "width", min=1)
    depth: int = option(64, "depth L", min=2)
    iterations: int = option(80000, "GD iterations", min=1)
    lr: float = option(5e-3, "base learning rate (residual rate L × lr)", min=0.0)
    seeds: int = option(1, "number of seeds", min=1)
    seed: int = option(0, "first initialisation seed", min=0)
    data_seed: int = option(0, "seed of the synthetic data", min=0)
    init: Literal["tied", "iid", "gp"] = option("tied", "initialisation")
    zero_v: bool = option(True, "V_k(0) = 0")
    gp_length_scale: float = option(0.1, "GP init: length scale", min=0.0)
    normalisation: Literal["official", "paper"] = option("official", "normalisation")
    activation: Literal["gelu", "tanh", "softplus", "relu", "identity"] = option("gelu", "σ")
    float64: bool = option(False, "train in float64")
    snapshots: int = option(12, "log-spaced training times at which weights are plotted", min=2)


@dataclass
class ReluCounterexampleConfig(Config):
    """Scalar ReLU net h_{k+1} = h_k + relu(w_{k+1} h_k)/L, w_k(0) = (−1)^k/(2L), data (x, Cx)."""

    depths: list[int] = option([4, 16, 64, 256], "even depths L")
    C: float = option(2.0, "target factor C > 1 (one sample (x, Cx))", min=1.0, min_exclusive=True)
    x: float = option(1.0, "the input x > 0", min=0.0, min_exclusive=True)
    lr: float = option(0.05, "base learning rate (rate L × lr)", min=0.0, min_exclusive=True)
    iterations: int = option(3000, "GD iterations", min=1)


@dataclass
class CifarConfig(Config):
    """Table 1: activation × init grid of the scaled conv net, smoothness of trained weights."""

    activations: list[str] = option(["identity", "gelu", "relu"], "activations of the grid")
    inits: list[str] = option(["tied", "iid"], "initialisations of the grid")
    depth: int = option(256, "number of residual blocks L", min=4)
    train_preset: str = option("cifar10-table1", "training preset (resode.training)")
    dataset: str | None = option(None, "override the preset's data set")
    epochs: int | None = option(None, "override the preset's epochs", min=1)
    train_subset: int | None = option(None, "use only N training images", min=1)
    test_subset: int | None = option(None, "use only N test images", min=1)
    image_size: int | None = option(None, "resize images", min=4)
    data_root: str | None = option(None, "data folder")
    augment: bool | None = option(None, "override the preset's crop+flip augmentation")
    lr: float | None = option(None, "override the preset's learning rate", min=0.0)
    seeds: int = option(1, "runs per cell (the paper reports the median of 5)", min=1)
    seed: int = option(0, "first seed", min=0)
    device: str = option("auto", "device for training")


SHORT_PRESETS: dict[str, dict[str, Any]] = {
    "depth-sweep": {
        "iterations": 50,
        "depths": [2, 8, 32, 128],
        "reference_depth": 512,
        "seeds": 2,
        "snapshots": 6,
    },
    "long-time": {"iterations": 2000, "snapshots": 8},
    "relu-counterexample": {"depths": [4, 16, 64], "iterations": 1000},
    "cifar": {
        "dataset": "digits",
        "depth": 16,
        "epochs": 6,
        "train_subset": 1024,
        "test_subset": 360,
        "image_size": 8,
        "augment": False,  # the CIFAR crop (padding 4) would destroy 8×8 digits
    },
}


# --------------------------------------------------------------------------------------------
# output helpers


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _data(n: int, d: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """x_i, y_i ~ N(0, I_d) (the official synthetic data), via resode.data when available."""
    import torch

    try:
        from resode.data.synthetic import make_regression

        data = make_regression(n, d, seed=seed, dtype=dtype)
        return data.x, data.y
    except ImportError:  # pragma: no cover - resode.data ships with the package
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        return x.to(dtype), torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)


def _model(cfg: Any, depth: int, dtype: torch.dtype, exponent: float = 1.0) -> ScaledResidualMLP:
    from resode.ode.scaled_resnet import ScaledResidualMLP

    model = ScaledResidualMLP(
        depth,
        cfg.d,
        cfg.m,
        activation=cfg.activation,
        normalisation=cfg.normalisation,
        scaling_exponent=exponent,
        n_seeds=cfg.seeds,
        dtype=dtype,
    )
    return model


# --------------------------------------------------------------------------------------------
# Fig. 1: depth sweep


def depth_sweep(
    config: DepthSweepConfig, out_dir: str | Path, *, progress: bool = True
) -> dict[str, Any]:
    """Train every depth (all seeds batched) for T iterations; fit the slope of max‖ΔZ‖ vs L.

    Writes fig1_left.png (max_{k,t≤t_j}‖ΔZ‖ vs L at several t_j, fitted line), fig1_right.png
    (L²-in-s distance to the reference depth over (t, L)), loss.png, depth_sweep.{json,csv,md}.
    """
    import torch

    from resode.ode.init import initialize
    from resode.ode.measures import (
        fit_loglog_slope,
        flatten_z,
        l2_in_s_distance,
        ode_discrepancy,
        smoothness_verdict,
    )
    from resode.ode.train import train_gd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = torch.float64 if config.float64 else torch.float32
    x, y = _data(config.n, config.d, config.data_seed, dtype)
    T = config.iterations
    times = sorted({int(np.rint(v)) for v in np.linspace(0, T, config.snapshots)})
    depths = sorted(set(config.depths))
    if len(depths) < 2:
        raise ResodeError("the depth sweep needs at least two depths (e.g. --depths 2 16 64)")
    ref_L = config.reference_depth
    gp_grid = None
    if config.init == "gp":
        gp_grid = math.lcm(*depths, *([ref_L] if ref_L else []))
        if gp_grid > 8192:
            raise ResodeError(
                f"GP init samples one path on a grid of lcm(depths) = {gp_grid} points; use "
                "depths that divide each other (powers of 2) and a reference depth <= 8192"
            )
    runs: dict[int, dict[str, Any]] = {}
    csv_rows: list[dict[str, Any]] = []
    snap_store: dict[int, dict[int, torch.Tensor]] = {}
    start = time.perf_counter()
    for L in depths:
        model = _model(config, L, dtype, config.scaling_exponent)
        initialize(
            model,
            config.init,
            seed=config.seed,
            zero_v=config.zero_v,
            length_scale=config.gp_length_scale,
            gp_grid=gp_grid,
        )
        res = train_gd(
            model,
            x,
            y,
            iterations=T,
            lr=config.lr,
            clip=config.clip,
            snapshot_at=times,
            progress=progress,
            desc=f"depth-sweep L={L}",
        )
        h = res.history
        running = res.running_max_dz()
        snap_store[L] = {t: flatten_z(*vw) for t, vw in res.snapshots.items()}
        ode_err = None
        if config.ode_check and 2 <= L <= config.ode_max_depth:
            ode_err = ode_discrepancy(model, x, interpolation="linear").tolist()
        runs[L] = {
            "max_dz_running": running[times].tolist(),  # (len(times), S)
            "max_dz_final_T": running[-1].tolist(),
            "L_max_dz_final_T": (L * running[-1]).tolist(),
            "loss_final": h["loss"][-1].tolist(),
            "loss_initial": h["loss"][0].tolist(),
            "pl_ratio_min": h["pl_ratio"].min(0).tolist(),
            "pl_ratio_final": h["pl_ratio"][-1].tolist(),
            "max_norm_z_max": h["max_norm_z"].max(0).tolist(),
            "ode_relative_error": ode_err,
            "seconds": res.seconds,
        }
        for t in range(T + 1):
            for s in range(config.seeds):
                csv_rows.append(
                    {
                        "depth": L,
                        "seed": config.seed + s,
                        "iteration": t,
                        "loss": h["loss"][t, s],
                        "max_dz": h["max_dz"][t, s],
                        "running_max_dz": running[t, s],
                        "L_max_dz": h["L_max_dz"][t, s],
                        "mean_dz": h["mean_dz"][t, s],
                        "pl_ratio": h["pl_ratio"][t, s],
                        "norm_v": h["norm_v"][t, s],
                        "norm_w": h["norm_w"][t, s],
                        "max_norm_z": h["max_norm_z"][t, s],
                    }
                )
        del model, res
    distances: dict[int, dict[int, list[float]]] = {L: {} for L in depths}
    ref_info = None
    if ref_L:
        model = _model(config, ref_L, dtype, config.scaling_exponent)
        initialize(
            model,
            config.init,
            seed=config.seed,
            zero_v=config.zero_v,
            length_scale=config.gp_length_scale,
            gp_grid=gp_grid,
        )

        def on_snapshot(t: int, V: torch.Tensor, W: torch.Tensor) -> None:
            Zref = flatten_z(V, W)
            for L in depths:
                distances[L][t] = l2_in_s_distance(snap_store[L][t], Zref).tolist()

        res = train_gd(
            model,
            x,
            y,
            iterations=T,
            lr=config.lr,
            clip=config.clip,
            snapshot_at=times,
            on_snapshot=on_snapshot,
            progress=progress,
            desc=f"reference L={ref_L}",
        )
        ref_info = {
            "depth": ref_L,
            "max_dz_final_T": res.running_max_dz()[-1].tolist(),
            "L_max_dz_final_T": (ref_L * res.running_max_dz()[-1]).tolist(),
            "loss_final": res.history["loss"][-1].tolist(),
            "seconds": res.seconds,
        }
        del model, res
    # slope fits at every snapshot time t > 0 (t = 0 of a tied init has ΔZ = 0)
    fits = {}
    for j, t in enumerate(times):
        vals = np.array([runs[L]["max_dz_running"][j] for L in depths])
        if np.all(vals > 0):
            fit = fit_loglog_slope(depths, vals)
            fits[t] = {**fit.to_dict(), "verdict": smoothness_verdict(fit)}
    final_vals = np.array([runs[L]["max_dz_final_T"] for L in depths])
    final_fit = fit_loglog_slope(depths, final_vals) if np.all(final_vals > 0) else None
    verdict = smoothness_verdict(final_fit) if final_fit else "undefined (a ΔZ of exactly 0)"
    dist_fit = None
    if ref_L:
        dT = np.array([distances[L][T] for L in depths])
        if np.all(dT > 0):
            f = fit_loglog_slope(depths, dT)
            dist_fit = {**f.to_dict(), "verdict": smoothness_verdict(f)}
    summary = {
        "experiment": "depth-sweep",
        "config": config.to_dict(),
        "seeds": [config.seed + s for s in range(config.seeds)],
        "snapshot_times": times,
        "runs": {str(L): r for L, r in runs.items()},
        "reference": ref_info,
        "l2_distance_to_reference": {
            str(L): {str(t): v for t, v in distances[L].items()} for L in depths
        },
        "slope_fit_T": final_fit.to_dict() if final_fit else None,
        "verdict": verdict,
        "slope_fits_by_time": {str(t): v for t, v in fits.items()},
        "l2_distance_slope_T": dist_fit,
        "seconds": time.perf_counter() - start,
    }
    write_json(out / "depth_sweep.json", summary)
    write_csv(out / "depth_sweep.csv", csv_rows)
    _plot_depth_sweep(out, config, depths, times, runs, distances, final_fit, ref_L)
    _markdown_depth_sweep(out / "depth_sweep.md", summary, depths)
    return summary


def _plot_depth_sweep(out, config, depths, times, runs, distances, fit, ref_L) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    cmap = plt.get_cmap("viridis")
    for j, t in enumerate(times):
        if t == 0:
            continue
        vals = np.array([runs[L]["max_dz_running"][j] for L in depths])  # (nL, S)
        ax.loglog(
            depths, vals.mean(1), "o-", color=cmap(j / max(1, len(times) - 1)), label=f"t={t}"
        )
    if fit is not None:
        grid = np.array([min(depths), max(depths)], dtype=float)
        ax.loglog(
            grid,
            np.exp(fit.intercept) * grid**fit.slope,
            "k--",
            lw=1,
            label=f"fit t=T: slope {fit.slope:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]",
        )
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$\max_{k,\,t'\leq t}\ \|Z_{k+1}(t') - Z_k(t')\|_F$")
    ax.set_title(f"Fig. 1 left: init={config.init}, scaling L^-{config.scaling_exponent:g}")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out / "fig1_left.png", dpi=120)
    plt.close(fig)
    if ref_L:
        mat = np.array([[np.mean(distances[L][t]) for L in depths] for t in times])
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        im = ax.imshow(
            np.log10(np.maximum(mat, 1e-12)).T, aspect="auto", origin="lower", cmap="magma"
        )
        ax.set_xticks(range(len(times)), [str(t) for t in times], rotation=45, fontsize=7)
        ax.set_yticks(range(len(depths)), [str(L) for L in depths])
        ax.set_xlabel("iteration t")
        ax.set_ylabel("depth L")
        ax.set_title(f"Fig. 1 right: log10 ‖Z^L − Z^{{{ref_L}}}‖ in L²(0,1)")
        fig.colorbar(im, ax=ax, label="log10 distance")
        fig.tight_layout()
        fig.savefig(out / "fig1_right.png", dpi=120)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for L in depths:
        ax.semilogy(
            [0, config.iterations],
            [np.mean(runs[L]["loss_initial"]), np.mean(runs[L]["loss_final"])],
            "o-",
            label=f"L={L}",
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title("loss at t = 0 and t = T")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=120)
    plt.close(fig)


def _markdown_depth_sweep(path: Path, s: dict[str, Any], depths: list[int]) -> None:
    cfg = s["config"]
    lines = [
        "# Depth sweep (paper B, Fig. 1)",
        "",
        f"n={cfg['n']}, d={cfg['d']}, m={cfg['m']}, T={cfg['iterations']}, lr = L × {cfg['lr']}, "
        f"init={cfg['init']}, scaling L^-{cfg['scaling_exponent']}, normalisation "
        f"{cfg['normalisation']}, activation {cfg['activation']}, seeds {s['seeds']}.",
        "",
        "| L | max_{k,t≤T}‖ΔZ‖ (mean over seeds) | L·max | final loss | min PL ratio | "
        "ODE rel. error | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for L in depths:
        r = s["runs"][str(L)]
        ode = r["ode_relative_error"]
        lines.append(
            f"| {L} | {np.mean(r['max_dz_final_T']):.4g} | {np.mean(r['L_max_dz_final_T']):.4g} | "
            f"{np.mean(r['loss_final']):.4g} | {np.mean(r['pl_ratio_min']):.4g} | "
            f"{'—' if ode is None else f'{np.mean(ode):.3g}'} | {r['seconds']:.1f} |"
        )
    fit = s["slope_fit_T"]
    lines += ["", f"**Verdict: {s['verdict']}**", ""]
    if fit:
        lines.append(
            f"log-log slope at T: {fit['slope']:.3f}, {int(fit['confidence'] * 100)} % CI "
            f"[{fit['ci_low']:.3f}, {fit['ci_high']:.3f}] (t-based, {fit['n_points']} points)."
        )
    if s["reference"]:
        ref = s["reference"]
        lines.append(
            f"\nReference depth {ref['depth']}: L·max = {np.mean(ref['L_max_dz_final_T']):.4g}, "
            f"final loss {np.mean(ref['loss_final']):.4g}."
        )
    if s["l2_distance_slope_T"]:
        d = s["l2_distance_slope_T"]
        lines.append(
            f"L²-in-s distance to the reference at T decays with slope {d['slope']:.3f} "
            f"[{d['ci_low']:.3f}, {d['ci_high']:.3f}] in L."
        )
    lines += ["", "Files: fig1_left.png, fig1_right.png, loss.png, depth_sweep.json/csv.", ""]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Fig. 2: long time


def long_time(config: LongTimeConfig, out_dir: str | Path, *, progress: bool = True) -> dict:
    """Train L = 64 for many iterations; plot one entry of V_k and W_k vs k over time, the loss."""
    import torch

    from resode.ode.init import initialize
    from resode.ode.measures import (
        flatten_z,
        lag_smoothness,
    )
    from resode.ode.train import train_gd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = torch.float64 if config.float64 else torch.float32
    x, y = _data(config.n, config.d, config.data_seed, dtype)
    T, L = config.iterations, config.depth
    times = sorted({0, T} | {int(v) for v in np.geomspace(1, T, config.snapshots - 1)})
    model = _model(config, L, dtype)
    initialize(
        model,
        config.init,
        seed=config.seed,
        zero_v=config.zero_v,
        length_scale=config.gp_length_scale,
    )
    res = train_gd(
        model,
        x,
        y,
        iterations=T,
        lr=config.lr,
        snapshot_at=times,
        progress=progress,
        desc=f"long-time L={L}",
    )
    h = res.history
    smooth = {}
    for t, (V, W) in res.snapshots.items():
        Z = flatten_z(V[0], W[0])
        smooth[t] = lag_smoothness(Z).to_dict() if Z.abs().sum() > 0 else None
    summary = {
        "experiment": "long-time",
        "config": config.to_dict(),
        "seeds": [config.seed + s for s in range(config.seeds)],
        "snapshot_times": times,
        "loss_final": h["loss"][-1].tolist(),
        "loss_min": h["loss"].min(0).tolist(),
        "L_max_dz_max_over_time": h["L_max_dz"].max(0).tolist(),
        "L_max_dz_final": h["L_max_dz"][-1].tolist(),
        "pl_ratio_min": h["pl_ratio"].min(0).tolist(),
        "lag_smoothness_seed0": {str(t): v for t, v in smooth.items()},
        "seconds": res.seconds,
    }
    stride = max(1, T // 5000)
    rows = [
        {"iteration": t, "seed": config.seed + s, **{k: h[k][t, s] for k in h}}
        for t in range(0, T + 1, stride)
        for s in range(config.seeds)
    ]
    write_json(out / "long_time.json", summary)
    write_csv(out / "long_time.csv", rows)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    cmap = plt.get_cmap("viridis")
    ks = np.arange(1, L + 1)
    for j, t in enumerate(times):
        V, W = res.snapshots[t]
        c = cmap(j / max(1, len(times) - 1))
        axes[0].plot(ks, V[0, :, 0, 0].numpy(), color=c, label=f"t={t}")
        axes[1].plot(ks, W[0, :, 0, 0].numpy(), color=c)
    axes[0].set_title("entry (0,0) of V_k")
    axes[1].set_title("entry (0,0) of W_k")
    for ax in axes[:2]:
        ax.set_xlabel("layer k")
        ax.set_ylabel("weight")
    axes[0].legend(fontsize=6)
    it = np.arange(T + 1)
    axes[2].semilogy(it[1:], h["loss"][1:, 0], label="loss")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("training loss (seed 0)")
    axes[2].set_title(f"Fig. 2: L={L}, lr = L × {config.lr}")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "fig2.png", dpi=120)
    plt.close(fig)
    last = smooth.get(T)
    (out / "long_time.md").write_text(
        "\n".join(
            [
                "# Long-time training (paper B, Fig. 2)",
                "",
                f"n={config.n}, d={config.d}, m={config.m}, L={L}, T={T}, lr = L × {config.lr}, "
                f"init={config.init}, seeds {summary['seeds']}.",
                "",
                f"- final loss {np.mean(summary['loss_final']):.3e} (min "
                f"{np.mean(summary['loss_min']):.3e})",
                f"- max over t of L·max_k‖ΔZ‖: {np.mean(summary['L_max_dz_max_over_time']):.4g}",
                f"- min PL ratio: {np.mean(summary['pl_ratio_min']):.4g}",
                "- lag smoothness at T (seed 0): "
                + (f"slope {last['fit']['slope']:.2f}, {last['verdict']}" if last else "n/a"),
                "",
                "Files: fig2.png, long_time.json/csv.",
                "",
            ]
        )
    )
    return summary


# --------------------------------------------------------------------------------------------
# ReLU counter-example


def relu_scalar_train(
    depth: int, C: float, x: float, lr: float, iterations: int
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Scalar ResNet h_{k+1} = h_k + relu(w_{k+1} h_k)/L, w_k(0) = (−1)^k/(2L), k = 1..L.

    GD on ℓ = (h_L − C x)² with rate L × lr (float64). For x > 0 every h_k > 0, so
    relu(w h) = h·relu(w) and h_L = x·Π_k(1 + relu(w_k)/L) exactly (evaluated as a product).
    Returns (w(0), w(T), losses).
    """
    import torch

    if depth % 2:
        raise ResodeError(f"the ReLU counter-example needs an even depth, got {depth}")
    if x <= 0:
        raise ResodeError(f"the ReLU counter-example needs x > 0, got {x}")
    k = torch.arange(1, depth + 1)
    w0 = torch.where(k % 2 == 0, 1.0, -1.0).to(torch.float64) / (2 * depth)
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


def relu_counterexample(
    config: ReluCounterexampleConfig, out_dir: str | Path, *, progress: bool = True
) -> dict[str, Any]:
    """Odd layers never move; even layers converge to w* = L(C^{2/L} − 1) ≥ 2 log C, so
    max_k|w_{k+1} − w_k| stays ≈ 2 log C for every L: smoothness is lost (slope ≈ 0)."""
    from tqdm.auto import tqdm

    from resode.ode.measures import fit_loglog_slope, smoothness_verdict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    rows = []
    for L in tqdm(config.depths, desc="relu counter-example", disable=not progress):
        w0, wT, losses = relu_scalar_train(L, config.C, config.x, config.lr, config.iterations)
        odd, even = wT[0::2], wT[1::2]  # k = 1, 3, … and k = 2, 4, …
        w_star = L * (config.C ** (2.0 / L) - 1.0)
        results[L] = {
            "odd_max_abs_change": float((odd - w0[0::2]).abs().max()),
            "even_mean": float(even.mean()),
            "even_spread": float(even.max() - even.min()),
            "w_star": w_star,
            "two_log_C": 2 * math.log(config.C),
            "even_minus_w_star": float((even - w_star).abs().max()),
            "max_abs_dw": float((wT[1:] - wT[:-1]).abs().max()),
            "final_loss": losses[-1],
        }
        rows += [{"depth": L, "k": k + 1, "w0": float(w0[k]), "wT": float(wT[k])} for k in range(L)]
    fit = fit_loglog_slope(list(results), [r["max_abs_dw"] for r in results.values()])
    summary = {
        "experiment": "relu-counterexample",
        "config": config.to_dict(),
        "results": {str(k): v for k, v in results.items()},
        "slope_fit": fit.to_dict(),
        "verdict": smoothness_verdict(fit),
        "odd_layers_unchanged": all(r["odd_max_abs_change"] == 0.0 for r in results.values()),
        "even_layers_at_w_star": all(r["even_minus_w_star"] < 1e-3 for r in results.values()),
    }
    write_json(out / "relu_counterexample.json", summary)
    write_csv(out / "relu_counterexample.csv", rows)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for L in results:
        sel = [r for r in rows if r["depth"] == L]
        ax.plot([r["k"] / L for r in sel], [r["wT"] for r in sel], ".-", lw=0.6, label=f"L={L}")
    ax.axhline(2 * math.log(config.C), color="k", ls="--", lw=1, label="2 log C")
    ax.set_xlabel("s = k / L")
    ax.set_ylabel("trained w_k")
    ax.set_title(f"ReLU counter-example, C={config.C}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "relu_counterexample.png", dpi=120)
    plt.close(fig)
    lines = [
        "# ReLU counter-example (paper B)",
        "",
        f"Scalar net h_(k+1) = h_k + relu(w_(k+1) h_k)/L, w_k(0) = (−1)^k/(2L), one sample "
        f"(x, Cx) with x = {config.x}, C = {config.C}; {config.iterations} GD steps, rate L × "
        f"{config.lr}.",
        "",
        "| L | odd layers max change | even mean | w* = L(C^(2/L)−1) | 2 log C "
        "| max_k abs(w_(k+1) − w_k) | loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for L, r in results.items():
        lines.append(
            f"| {L} | {r['odd_max_abs_change']:.1e} | {r['even_mean']:.5f} | {r['w_star']:.5f} "
            f"| {r['two_log_C']:.5f} | {r['max_abs_dw']:.4f} | {r['final_loss']:.1e} |"
        )
    lines += ["", f"max_k abs(Δw) vs L: slope {fit.slope:.3f} → **{summary['verdict']}**", ""]
    (out / "relu_counterexample.md").write_text("\n".join(lines))
    return summary


# --------------------------------------------------------------------------------------------
# Table 1: CIFAR grid


SMOOTH_RELATIVE_THRESHOLD = 10.0


def conv_smoothness(model: torch.nn.Module) -> dict[str, Any]:
    """Smoothness of trained conv-block weights Z_k = (conv1, conv2) of one network.

    Primary criterion (single-depth analogue of max‖ΔZ‖ = O(1/L)): the relative roughness
    ρ = L · mean_k‖Z_{k+1} − Z_k‖_F / mean_k‖Z_k‖_F is ≤ 10 for weights that are a Lipschitz
    function of s = k/L (with Lipschitz constant ≤ 10 × their size) and ≈ √2·L for i.i.d. layers.
    The lag slope of :func:`resode.ode.measures.lag_smoothness` is reported as a second opinion
    (it reads noise, not smoothness, when the differences are rounding-level, e.g. barely trained
    tied weights). Also: mean_k‖ΔZ‖ (the paper's appendix average) and L·max_k‖ΔZ‖.
    """
    import torch

    from resode.ode.measures import lag_smoothness

    Z = model.block_weights().to(torch.float64)
    L = Z.shape[0]
    dz = (Z[1:] - Z[:-1]).norm(dim=1)
    mean_norm = float(Z.norm(dim=1).mean())
    rho = float(L * dz.mean() / mean_norm) if mean_norm > 0 else 0.0
    smooth = rho <= SMOOTH_RELATIVE_THRESHOLD
    lag = lag_smoothness(Z)
    verdict = (
        f"{'smooth' if smooth else 'not smooth'} (L·mean‖ΔZ‖/mean‖Z‖ = {rho:.3g} "
        f"{'≤' if smooth else '>'} {SMOOTH_RELATIVE_THRESHOLD:g}; lag slope {lag.fit.slope:.2f})"
    )
    return {
        "mean_dz": float(dz.mean()),
        "max_dz": float(dz.max()),
        "L_max_dz": float(L * dz.max()),
        "mean_norm_z": mean_norm,
        "relative_roughness": rho,
        "lag": lag.to_dict(),
        "verdict": verdict,
        "smooth": smooth,
    }


def cifar_grid(config: CifarConfig, out_dir: str | Path, *, progress: bool = True) -> dict:
    """Train the activation × init grid with resode.training; smoothness of every trained net."""
    try:
        from resode.training import get_preset, train
    except ImportError as exc:  # pragma: no cover
        raise ResodeError("resode.training is not available; install the full package") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for act in config.activations:
        for init in config.inits:
            for s in range(config.seeds):
                seed = config.seed + s
                overrides: dict[str, Any] = {
                    "model": "scaled_convnet",
                    "model_kwargs": {"depth": config.depth, "activation": act, "init": init},
                    "seed": seed,
                    "device": config.device,
                }
                for key in (
                    "dataset",
                    "epochs",
                    "train_subset",
                    "test_subset",
                    "image_size",
                    "data_root",
                    "augment",
                    "lr",
                ):
                    if getattr(config, key) is not None:
                        overrides[key] = getattr(config, key)
                tc = get_preset(config.train_preset, **overrides)
                run_dir = out / f"{act}-{init}-seed{seed}"
                res = train(tc, run_dir, resume=True, progress=progress)
                last = res.history[-1]
                sm = conv_smoothness(res.model)
                cells.append(
                    {
                        "activation": act,
                        "init": init,
                        "seed": seed,
                        "train_acc": last.get("train_acc"),
                        "test_acc": last.get("test_acc"),
                        "smoothness": sm,
                        "run_dir": str(run_dir),
                    }
                )
    summary = {
        "experiment": "cifar",
        "config": config.to_dict(),
        "cells": cells,
        "paper_table1": "papers.md §B.4 (median of 5, CIFAR-10, L = 256, 180 epochs)",
    }
    write_json(out / "cifar.json", summary)
    write_csv(
        out / "cifar.csv",
        [
            {
                "activation": c["activation"],
                "init": c["init"],
                "seed": c["seed"],
                "train_acc": c["train_acc"],
                "test_acc": c["test_acc"],
                "mean_dz": c["smoothness"]["mean_dz"],
                "L_max_dz": c["smoothness"]["L_max_dz"],
                "lag_slope": c["smoothness"]["lag"]["fit"]["slope"],
                "roughness_ratio": c["smoothness"]["lag"]["roughness_ratio"],
                "relative_roughness": c["smoothness"]["relative_roughness"],
                "smooth": c["smoothness"]["smooth"],
            }
            for c in cells
        ],
    )
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for c in cells:
        lag = c["smoothness"]["lag"]
        ax.loglog(
            lag["lags"],
            lag["mean_diff"],
            "o-",
            label=f"{c['activation']}/{c['init']} (seed {c['seed']})",
        )
    ax.set_xlabel("lag ℓ (layers)")
    ax.set_ylabel("mean_k ‖Z_{k+ℓ} − Z_k‖_F")
    ax.set_title("Table 1 nets: smoothness of trained conv weights")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "cifar_smoothness.png", dpi=120)
    plt.close(fig)
    lines = [
        "# Table 1 grid (paper B)",
        "",
        f"preset {config.train_preset}, depth {config.depth}, overrides: "
        + ", ".join(
            f"{k}={getattr(config, k)}"
            for k in ("dataset", "epochs", "train_subset")
            if getattr(config, k) is not None
        ),
        "",
        "| activation | init | seed | train acc | test acc | mean‖ΔZ‖ | L·mean‖ΔZ‖/‖Z‖ | lag slope "
        "| smooth? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def pct(v: Any) -> str:
        return "—" if v is None else f"{100 * v:.1f}"

    for c in cells:
        sm = c["smoothness"]
        lines.append(
            f"| {c['activation']} | {c['init']} | {c['seed']} | {pct(c['train_acc'])} | "
            f"{pct(c['test_acc'])} | {sm['mean_dz']:.4g} | {sm['relative_roughness']:.3g} | "
            f"{sm['lag']['fit']['slope']:.2f} | {'yes' if sm['smooth'] else 'no'} |"
        )
    lines += [
        "",
        f"smooth = L·mean‖ΔZ‖/mean‖Z‖ ≤ {SMOOTH_RELATIVE_THRESHOLD:g} (see `conv_smoothness`).",
        "Paper (CIFAR-10, L=256, 180 epochs, median of 5): see papers.md §B.4 Table 1.",
        "",
    ]
    (out / "cifar.md").write_text("\n".join(lines))
    return summary
