"""``resode robustness``: noise corruptions and adversarial attacks, checkpoints side by side.

    resode robustness runs/digits-r20/last.pt runs/digits-in20/last.pt --out runs/robust
    resode robustness a.pt b.pt --out runs/r --attacks pgd --eps 8/255 --n-samples 500
    resode robustness a.pt --out runs/r --surrogate other-seed.pt --autoattack

The data set, image size and data root come from each checkpoint's training config; override
with --dataset/--image-size/--data-root. Writes results.json, results.csv and report.md.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.robustness import RobustnessConfig

    parser = subparsers.add_parser(
        "robustness",
        help="clean / noise-corrupted / adversarial accuracy of checkpoints, side by side",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT", help="checkpoint files (.pt)")
    parser.add_argument(
        "--out", required=True, help="output folder for the report (created; never overwritten)"
    )
    parser.add_argument("--config", help="YAML file with RobustnessConfig keys")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars (default: on)",
    )
    add_config_arguments(parser, RobustnessConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.config import config_from_args
    from resode.robustness import RobustnessConfig, run_robustness

    config = config_from_args(RobustnessConfig, args)
    result = run_robustness(args.checkpoints, args.out, config, progress=args.progress)
    print(result.to_markdown())
    print(f"wrote {args.out}/report.md, results.csv, results.json")
    return 0
