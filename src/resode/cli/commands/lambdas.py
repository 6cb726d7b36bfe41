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
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.analysis.report import add_common_arguments

    parser = subparsers.add_parser(
        "lambdas",
        help="learned λ per block and its trajectory over training",
        description=__doc__.split("\n\n")[0],
    )
    add_common_arguments(parser, data=False)
    parser.add_argument(
        "--history",
        nargs="+",
        metavar="JSON",
        help="history.json per CKPT (default: the history stored in each checkpoint)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.coefficients import lambda_report
    from resode.analysis.plots import plot_lambda_trajectories, plot_lambdas
    from resode.analysis.report import load_inputs, md_table
    from resode.checkpoint import Checkpoint
    from resode.errors import ResodeError
    from resode.report import write_csv, write_json

    inputs = load_inputs(args, data=False)
    histories = args.history or [None] * len(inputs)
    if len(histories) != len(inputs):
        raise ResodeError(
            f"--history has {len(histories)} files for {len(inputs)} checkpoints; give one per CKPT"
        )
    reports = [
        lambda_report(
            Checkpoint(model=i.model, payload=i.payload, path=i.path), name=i.label, history=h
        )
        for i, h in zip(inputs, histories)
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if any(r.lambdas for r in reports):
        written.append(plot_lambdas([r for r in reports if r.lambdas], out / "lambdas.png"))
    if any(len(r.trajectory) for r in reports):
        written.append(plot_lambda_trajectories(reports, out / "lambda_trajectory.png"))
    write_json(out / "lambdas.json", {"models": [r.to_dict() for r in reports]})
    write_csv(out / "lambdas.csv", [row for r in reports for row in r.rows()])
    lines = ["# Learned interpolation coefficients λ_n", ""]
    rows = []
    for r in reports:
        means = list(r.mean_lambdas().values())
        if not means:
            rows.append([r.model, 0, r.n_blocks, None, None, None, len(r.trajectory)])
            continue
        rows.append(
            [
                r.model,
                len(means),
                r.n_blocks,
                sum(means) / len(means),
                min(means),
                max(means),
                len(r.trajectory),
            ]
        )
    lines.append(
        md_table(
            ["model", "damped blocks", "blocks", "mean λ", "min λ", "max λ", "logged epochs"], rows
        )
    )
    for r in reports:
        if r.lambdas:
            lines += ["", f"## {r.model}", ""]
            lines.append(md_table(["block", "λ (final)"], list(r.mean_lambdas().items())))
        else:
            lines += ["", f"{r.model}: no damped blocks (λ = 0 everywhere: a plain ResNet)."]
    (out / "lambdas.md").write_text("\n".join(lines) + "\n")
    for r, row in zip(reports, rows):
        if row[3] is None:
            print(f"{r.model}: no damped blocks")
        else:
            print(
                f"{r.model}: {row[1]} damped blocks, "
                f"λ mean {row[3]:.4g} in [{row[4]:.4g}, {row[5]:.4g}]"
            )
    names = ", ".join(p.name for p in written)
    print(f"wrote {names + ', ' if names else ''}lambdas.json, lambdas.csv, lambdas.md to {out}")
    return 0
