"""``resode lambdas``: learned interpolation coefficients λ_n per block and over training.

    resode lambdas runs/in20/last.pt --out results/lambdas
    resode lambdas runs/in20/last.pt runs/lin20/last.pt --out results/lambdas
    resode lambdas runs/in20/last.pt --history runs/in20/history.json --out results/lambdas

The trajectory comes from the checkpoint's training history (or --history files). Writes
lambdas.png, lambda_trajectory.png (when a history has λ), lambdas.json, lambdas.csv and
lambdas.md into --out.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.cli.common import add_checkpoint_arguments

    parser = subparsers.add_parser(
        "lambdas",
        help="learned λ per block and its trajectory over training",
        description=__doc__.split("\n\n")[0],
    )
    add_checkpoint_arguments(parser, data=False)
    parser.add_argument(
        "--history",
        nargs="+",
        metavar="JSON",
        help="history.json per CKPT (default: the history stored in each checkpoint)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.run import run_lambdas

    reports = run_lambdas(args.checkpoints, args.out, histories=args.history, labels=args.labels)
    for r in reports:
        means = list(r.mean_lambdas().values())
        if not means:
            print(f"{r.model}: no damped blocks")
        else:
            print(
                f"{r.model}: {len(means)} damped blocks, λ mean {sum(means) / len(means):.4g} "
                f"in [{min(means):.4g}, {max(means):.4g}]"
            )
    print(f"wrote lambdas.json, lambdas.csv, lambdas.md (and figures) to {args.out}")
    return 0
