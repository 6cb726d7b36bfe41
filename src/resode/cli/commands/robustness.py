"""``resode robustness``: noise corruptions and adversarial attacks, checkpoints side by side.

    resode robustness runs/digits-r20/last.pt runs/digits-in20/last.pt --out runs/robust
    resode robustness a.pt b.pt --out runs/r --attacks pgd --eps 8/255 --n-samples 500
    resode robustness a.pt --out runs/r --surrogate other-seed.pt --autoattack

The data set, image size and data root come from each checkpoint's training config; override
with --dataset/--image-size/--data-root. Writes results.json, results.csv and report.md.
"""

from __future__ import annotations

import argparse
from fractions import Fraction


def parse_eps(text: str) -> float:
    """``8/255`` or ``0.0314`` → float (argparse type)."""
    try:
        return float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise argparse.ArgumentTypeError(
            f"invalid eps {text!r}: write a fraction like 8/255 or a number like 0.031"
        ) from exc


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.robustness import RobustnessConfig

    parser = subparsers.add_parser(
        "robustness",
        help="clean / noise-corrupted / adversarial accuracy of checkpoints, side by side",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT", help="checkpoint files (.pt)")
    parser.add_argument("--out", required=True, help="output folder for the report")
    parser.add_argument("--config", help="YAML file with RobustnessConfig keys")
    parser.add_argument(
        "--eps",
        nargs="+",
        type=parse_eps,
        default=None,
        dest="eps",
        metavar="EPS",
        help="attack radii in pixel units, e.g. 2/255 4/255 or 0.5 for L2 "
        "(default: CIFAR {1,2,4,8}/255, digits {2,4,8,16}/255)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars (default: on)",
    )
    add_config_arguments(parser, RobustnessConfig, exclude=("eps",))
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
