"""``resode landscape``: loss landscapes in input and parameter space, models side by side.

    resode landscape runs/r20/last.pt runs/in20/last.pt --out results/landscape
    resode landscape runs/in20/last.pt --out results/l --space input --grid 31 --radius 16/255

Input space: L(clip(x + a·d_adv + b·d_rand)), d_adv = sign(∇ₓL), d_rand random ±1, a, b in
[−radius, radius]. Parameter space: L(θ + α·d1 + β·d2) with filter-normalised random directions
(Li et al. 2018; biases, batch norm and damping parameters fixed), α, β in [−param-radius,
param-radius]; the weights are restored exactly. Writes landscape_<space>_{1d,2d}.png,
landscape.json (all grids), landscape.csv (1D curves) and landscape.md into --out.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path


def _radius(text: str) -> float:
    """A number or a fraction such as ``16/255``."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError) as exc:
        raise argparse.ArgumentTypeError(
            f"invalid radius {text!r}; give a number such as 0.0627 or a fraction such as 16/255"
        ) from exc


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.analysis.landscape import LandscapeConfig
    from resode.analysis.report import add_common_arguments
    from resode.config import add_config_arguments

    parser = subparsers.add_parser(
        "landscape",
        help="loss landscapes along the attack direction and filter-normalised weight directions",
        description=__doc__.split("\n\n")[0],
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--space",
        choices=("input", "parameter", "both"),
        default="both",
        help="which landscape(s) to scan (default: both)",
    )
    parser.add_argument(
        "--radius",
        type=_radius,
        dest="input_radius",
        metavar="R",
        help="input-space half-width in pixels, e.g. 16/255 (default: 16/255)",
    )
    add_config_arguments(parser, LandscapeConfig, exclude=("input_radius",))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.landscape import LandscapeConfig, analyze_landscape
    from resode.analysis.plots import plot_landscape_1d, plot_landscape_2d
    from resode.analysis.report import load_inputs, md_table
    from resode.config import config_from_args
    from resode.report import write_csv, write_json

    cfg = config_from_args(LandscapeConfig, args)
    inputs = load_inputs(args, n_samples=cfg.n_samples, seed=cfg.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for item in inputs:
        assert item.images is not None and item.labels is not None
        res = analyze_landscape(
            item.model,
            item.images,
            item.labels,
            cfg,
            space=args.space,
            name=item.label,
            progress=args.progress,
        )
        res.config["checkpoint"] = str(item.path)
        res.config["dataset"] = item.dataset
        results.append(res)
    written = []
    spaces = ["input", "parameter"] if args.space == "both" else [args.space]
    for space in spaces:
        written.append(plot_landscape_1d(results, out / f"landscape_{space}_1d.png", space=space))
        written.append(plot_landscape_2d(results, out / f"landscape_{space}_2d.png", space=space))
    write_json(
        out / "landscape.json",
        {
            "config": cfg.to_dict(),
            "space": args.space,
            "seed": cfg.seed,
            "models": [r.to_dict() for r in results],
        },
    )
    write_csv(out / "landscape.csv", [row for r in results for row in r.rows()])
    (out / "landscape.md").write_text(summary_markdown(results, spaces, md_table))
    for r in results:
        parts = [f"{r.model}: clean loss {r.clean_loss:.4g}"]
        for space in spaces:
            s = r.surfaces[space]["loss"]
            parts.append(f"max {space} loss on grid {max(max(row) for row in s):.4g}")
        print("; ".join(parts))
    names = ", ".join(p.name for p in written)
    print(f"wrote {names}, landscape.json, landscape.csv, landscape.md to {out}")
    return 0


def summary_markdown(results: list, spaces: list[str], md_table) -> str:  # type: ignore[no-untyped-def]
    """Markdown report: loss at the origin, at the ends of the 1D curves and grid maxima."""
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
    header = ["model", "clean loss", "clean acc"]
    curve_names = []
    if "input" in spaces:
        curve_names += ["input/adv", "input/rand"]
    if "parameter" in spaces:
        curve_names += ["parameter/d1", "parameter/d2"]
    header += [f"loss at +end of {c}" for c in curve_names]
    header += [f"max loss on {s} grid" for s in spaces]
    rows = []
    for r in results:
        row = [r.model, r.clean_loss, r.clean_acc]
        row += [r.curves[c]["loss"][-1] for c in curve_names]
        row += [max(max(v) for v in r.surfaces[s]["loss"]) for s in spaces]
        rows.append(row)
    lines.append(md_table(header, rows))
    if "input" in spaces and len(results) >= 2:
        ranked = sorted(results, key=lambda r: r.curves["input/adv"]["loss"][-1] - r.clean_loss)
        rise = [r.curves["input/adv"]["loss"][-1] - r.clean_loss for r in ranked]
        lines += [
            "",
            f"Smallest loss increase along the attack direction at a = "
            f"{cfg.get('input_radius', 0) * 255:.3g}/255: **{ranked[0].model}** "
            f"(+{rise[0]:.4g}); largest: {ranked[-1].model} (+{rise[-1]:.4g}).",
        ]
    return "\n".join(lines) + "\n"
