"""The analysis commands as library calls: checkpoints → the shared test subset → analyses → files.

``run_stability``, ``run_landscape`` and ``run_lambdas`` are what ``resode stability``,
``resode landscape`` and ``resode lambdas`` do; the CLI only parses and prints. The images come
from :mod:`resode.evalset`, so the same ``--seed`` selects the same images as ``resode robustness``
and ``resode reproduce``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resode.analysis.landscape import LandscapeConfig, LandscapeResult, analyze_landscape
from resode.analysis.stability import StabilityConfig, StabilityResult, analyze_stability
from resode.checkpoint import atomic_write_text
from resode.errors import ResodeError
from resode.report import markdown_escape, markdown_table, prepare_out_dir, write_csv, write_json


@dataclass
class DataOptions:
    """Where the analysed images come from (default: each checkpoint's training config)."""

    dataset: str | None = None
    data_root: str | None = None
    image_size: int | None = None
    device: str = "auto"
    labels: Sequence[str] | None = None


def _inputs(checkpoints: Sequence[str | Path], n: int, seed: int, data: DataOptions) -> Any:
    from resode.evalset import models_and_evalset
    from resode.runtime import select_device

    return models_and_evalset(
        checkpoints,
        n=n,
        seed=seed,
        dataset=data.dataset,
        data_root=data.data_root,
        image_size=data.image_size,
        labels=data.labels,
        device=select_device(data.device),
    )


def _mean(v: Sequence[float]) -> float:
    return sum(v) / len(v) if v else float("nan")


# --------------------------------------------------------------------------------------------
# stability

STABILITY_FILES = ("stability.json", "stability.csv", "stability.md", "stability.png")


def run_stability(
    checkpoints: Sequence[str | Path],
    out_dir: str | Path,
    config: StabilityConfig | None = None,
    data: DataOptions | None = None,
    *,
    progress: bool = True,
) -> list[StabilityResult]:
    """Stability of every checkpoint on the same images; writes :data:`STABILITY_FILES`."""
    from resode.analysis.plots import plot_stability

    cfg = config or StabilityConfig()
    out = prepare_out_dir(out_dir, STABILITY_FILES, what="stability report")
    models, ev = _inputs(checkpoints, cfg.n_samples, cfg.seed, data or DataOptions())
    results = []
    for m in models:
        res = analyze_stability(m.model, ev.images, ev.labels, cfg, name=m.label, progress=progress)
        res.extra = {"checkpoint": str(m.path), "dataset": ev.dataset, "indices": ev.indices}
        results.append(res)
    plot_stability(results, out / "stability.png")
    write_json(
        out / "stability.json",
        {"config": cfg.to_dict(), "seed": cfg.seed, "models": [r.to_dict() for r in results]},
    )
    write_csv(out / "stability.csv", [row for r in results for row in r.rows()])
    atomic_write_text(out / "stability.md", stability_markdown(results))
    return results


def stability_markdown(results: list[StabilityResult]) -> str:
    """Per-model summary table and the rankings stated from the numbers."""
    cfg = results[0].config if results else {}
    lines = [
        "# Lyapunov stability per block",
        "",
        f"{results[0].n_samples if results else 0} test images per model, eval mode; probe "
        f"‖δ‖ = {cfg.get('delta_scale')}·‖h_n‖; noise σ = {cfg.get('noise_std')}; "
        f"{cfg.get('attack')} ε = {cfg.get('eps', 0) * 255:.3g}/255; seed {cfg.get('seed')}.",
        "Means over blocks of the per-block means; ∏ = cumulative product of the per-block "
        "geometric means; G = amplification ÷ (‖h_{n+1}‖/‖h_n‖), the scale-normalised gain.",
        "",
    ]
    header = [
        "model",
        "mean λ",
        "amp (random δ)",
        "amp (attack δ)",
        "σ_max",
        "∏ amp random",
        "∏ G random",
        "∏ σ_max",
        "drift h_B noise",
        "drift h_B adv",
    ]
    rows = []
    for r in results:
        lams = [v for v in r.lambdas if v is not None]
        rows.append(
            [
                r.model,
                _mean(lams) if lams else None,
                _mean(r.amp_random_mean),
                _mean(r.amp_attack_mean),
                _mean(r.sigma_max_mean),
                r.cum_amp_random[-1],
                r.cum_gain_random[-1],
                r.cum_sigma_max[-1],
                r.drift_noise_mean[-1],
                r.drift_adv_mean[-1],
            ]
        )
    lines.append(markdown_table(header, rows))
    if len(results) >= 2:
        lines += ["", "## Comparison", ""]
        for key, text in (
            (lambda r: r.cum_gain_random[-1], "scale-normalised ∏ G (random δ)"),
            (lambda r: r.drift_noise_mean[-1], "relative drift of h_B under noise"),
            (lambda r: r.drift_adv_mean[-1], "relative drift of h_B under the attack"),
            (lambda r: r.cum_sigma_max[-1], "cumulative ∏ σ_max"),
        ):
            ranked = sorted(results, key=key)
            lines.append(
                f"- lowest {text}: **{markdown_escape(ranked[0].model)}** "
                f"({key(ranked[0]):.4g}); highest: "
                f"{markdown_escape(ranked[-1].model)} ({key(ranked[-1]):.4g})."
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# landscape

LANDSCAPE_FILES = ("landscape.json", "landscape.csv", "landscape.md")


def run_landscape(
    checkpoints: Sequence[str | Path],
    out_dir: str | Path,
    config: LandscapeConfig | None = None,
    data: DataOptions | None = None,
    *,
    space: str = "both",
    progress: bool = True,
) -> list[LandscapeResult]:
    """Loss landscapes (input and/or parameter space) of every checkpoint on the same images."""
    from resode.analysis.plots import plot_landscape_1d, plot_landscape_2d

    cfg = config or LandscapeConfig()
    out = prepare_out_dir(out_dir, LANDSCAPE_FILES, what="landscape report")
    models, ev = _inputs(checkpoints, cfg.n_samples, cfg.seed, data or DataOptions())
    results = []
    for m in models:
        res = analyze_landscape(
            m.model, ev.images, ev.labels, cfg, space=space, name=m.label, progress=progress
        )
        res.config["checkpoint"] = str(m.path)
        res.config["dataset"] = ev.dataset
        res.config["indices"] = ev.indices
        results.append(res)
    spaces = ["input", "parameter"] if space == "both" else [space]
    for s in spaces:
        plot_landscape_1d(results, out / f"landscape_{s}_1d.png", space=s)
        plot_landscape_2d(results, out / f"landscape_{s}_2d.png", space=s)
    write_json(
        out / "landscape.json",
        {
            "config": cfg.to_dict(),
            "space": space,
            "seed": cfg.seed,
            "models": [r.to_dict() for r in results],
        },
    )
    write_csv(out / "landscape.csv", [row for r in results for row in r.rows()])
    atomic_write_text(out / "landscape.md", landscape_markdown(results, spaces))
    return results


def landscape_markdown(results: list[LandscapeResult], spaces: list[str]) -> str:
    """Loss at the origin, at the ends of the 1D curves and grid maxima, per model."""
    cfg = results[0].config if results else {}
    lines = [
        "# Loss landscapes",
        "",
        f"{results[0].n_samples if results else 0} test images per model; grid "
        f"{cfg.get('grid')}×{cfg.get('grid')}; input radius "
        f"{cfg.get('input_radius', 0) * 255:.3g}/255 (clip to [0, 1]: {cfg.get('clip')}); "
        f"parameter radius {cfg.get('param_radius')}; seed {cfg.get('seed')}.",
        "",
    ]
    curves = (["input/adv", "input/rand"] if "input" in spaces else []) + (
        ["parameter/d1", "parameter/d2"] if "parameter" in spaces else []
    )
    header = [
        "model",
        "clean loss",
        "clean acc",
        *[f"loss at +end of {c}" for c in curves],
        *[f"max loss on {s} grid" for s in spaces],
    ]
    rows = [
        [
            r.model,
            r.clean_loss,
            r.clean_acc,
            *[r.curves[c]["loss"][-1] for c in curves],
            *[max(max(v) for v in r.surfaces[s]["loss"]) for s in spaces],
        ]
        for r in results
    ]
    lines.append(markdown_table(header, rows))
    if "input" in spaces and len(results) >= 2:
        ranked = sorted(results, key=lambda r: r.curves["input/adv"]["loss"][-1] - r.clean_loss)
        rise = [r.curves["input/adv"]["loss"][-1] - r.clean_loss for r in ranked]
        lines += [
            "",
            f"Smallest loss increase along the attack direction at a = "
            f"{cfg.get('input_radius', 0) * 255:.3g}/255: **{markdown_escape(ranked[0].model)}** "
            f"(+{rise[0]:.4g}); largest: {markdown_escape(ranked[-1].model)} (+{rise[-1]:.4g}).",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# learned λ

LAMBDA_FILES = ("lambdas.json", "lambdas.csv", "lambdas.md")


def run_lambdas(
    checkpoints: Sequence[str | Path],
    out_dir: str | Path,
    *,
    histories: Sequence[str | Path] | None = None,
    labels: Sequence[str] | None = None,
) -> list[Any]:
    """Learned λ per block (and over training) of every checkpoint; writes :data:`LAMBDA_FILES`."""
    from resode.analysis.coefficients import lambda_report
    from resode.analysis.plots import plot_lambda_trajectories, plot_lambdas
    from resode.checkpoint import Checkpoint
    from resode.evalset import load_models

    hist = list(histories) if histories else [None] * len(checkpoints)
    if len(hist) != len(checkpoints):
        raise ResodeError(
            f"--history has {len(hist)} files for {len(checkpoints)} checkpoints; give one per CKPT"
        )
    out = prepare_out_dir(out_dir, LAMBDA_FILES, what="λ report")
    models = load_models(checkpoints, labels=labels)
    reports = [
        lambda_report(
            Checkpoint(model=m.model, payload=m.payload, path=m.path), name=m.label, history=h
        )
        for m, h in zip(models, hist)
    ]
    if any(r.lambdas for r in reports):
        plot_lambdas([r for r in reports if r.lambdas], out / "lambdas.png")
    if any(len(r.trajectory) for r in reports):
        plot_lambda_trajectories(reports, out / "lambda_trajectory.png")
    write_json(out / "lambdas.json", {"models": [r.to_dict() for r in reports]})
    write_csv(out / "lambdas.csv", [row for r in reports for row in r.rows()])
    atomic_write_text(out / "lambdas.md", lambdas_markdown(reports))
    return reports


def lambdas_markdown(reports: list[Any]) -> str:
    lines = ["# Learned interpolation coefficients λ_n", ""]
    rows = []
    for r in reports:
        means = list(r.mean_lambdas().values())
        stats = [_mean(means), min(means), max(means)] if means else [None, None, None]
        rows.append([r.model, len(means), r.n_blocks, *stats, len(r.trajectory)])
    lines.append(
        markdown_table(
            ["model", "damped blocks", "blocks", "mean λ", "min λ", "max λ", "logged epochs"], rows
        )
    )
    for r in reports:
        if r.lambdas:
            lines += ["", f"## {markdown_escape(r.model)}", ""]
            lines.append(markdown_table(["block", "λ (final)"], list(r.mean_lambdas().items())))
        else:
            lines += [
                "",
                f"{markdown_escape(r.model)}: no damped blocks (λ = 0 everywhere: a plain ResNet).",
            ]
    return "\n".join(lines) + "\n"


__all__ = [
    "DataOptions",
    "run_lambdas",
    "run_landscape",
    "run_stability",
]
