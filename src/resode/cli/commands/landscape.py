"""``resode landscape``: loss landscapes in input and parameter space, models side by side.

    resode landscape runs/r20/last.pt runs/in20/last.pt --out results/landscape
    resode landscape runs/in20/last.pt --out results/l --space input --grid 31 --input-radius 16/255

Input space: L(clip(x + a·d_adv + b·d_rand)), d_adv = sign(∇ₓL), d_rand random ±1, a, b in
[−radius, radius]. Parameter space: L(θ + α·d1 + β·d2) with filter-normalised random directions
(Li et al. 2018; biases, batch norm and damping parameters fixed), α, β in [−param-radius,
param-radius]; the weights are restored exactly. Writes landscape_<space>_{1d,2d}.png,
landscape.json (all grids), landscape.csv (1D curves) and landscape.md into --out.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.analysis.landscape import LandscapeConfig
    from resode.cli.common import add_checkpoint_arguments
    from resode.config import add_config_arguments

    parser = subparsers.add_parser(
        "landscape",
        help="loss landscapes along the attack direction and filter-normalised weight directions",
        description=__doc__.split("\n\n")[0],
    )
    add_checkpoint_arguments(parser)
    parser.add_argument(
        "--space",
        choices=("input", "parameter", "both"),
        default="both",
        help="which landscape(s) to scan (default: both)",
    )
    add_config_arguments(parser, LandscapeConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.landscape import LandscapeConfig
    from resode.analysis.run import run_landscape
    from resode.cli.common import data_options
    from resode.config import config_from_args

    cfg = config_from_args(LandscapeConfig, args)
    results = run_landscape(
        args.checkpoints,
        args.out,
        cfg,
        data_options(args),
        space=args.space,
        progress=args.progress,
    )
    spaces = ["input", "parameter"] if args.space == "both" else [args.space]
    for r in results:
        parts = [f"{r.model}: clean loss {r.clean_loss:.4g}"]
        for space in spaces:
            s = r.surfaces[space]["loss"]
            parts.append(f"max {space} loss on grid {max(max(row) for row in s):.4g}")
        print("; ".join(parts))
    print(f"wrote landscape figures, landscape.json, landscape.csv, landscape.md to {args.out}")
    return 0
