"""``resode benchmark``: RobustBench's protocol on checkpoints, one ``model_info`` JSON entry each.

    resode benchmark runs/in20/last.pt --out results/rb --threat-model Linf --eps 8/255
    resode benchmark r20.pt in20.pt --out results/rb --threat-model L2 --eps 0.5 --n-examples 1000
    resode benchmark in20.pt --out results/rbc --threat-model corruptions --data-root data

AutoAttack standard when pyautoattack is installed, else the declared fallback set (the output
says which). Writes model_info/<dataset>/<threat_model>/<label>.json (RobustBench's schema and
layout) and benchmark.json; corruptions also corruptions.csv/.json.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.robustness.benchmark import BenchmarkConfig

    parser = subparsers.add_parser(
        "benchmark",
        help="RobustBench's benchmark (AutoAttack / corruptions) with a model_info JSON per model",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT", help="checkpoint files (.pt)")
    parser.add_argument("--out", required=True, help="output folder (created; never overwritten)")
    parser.add_argument("--labels", nargs="+", metavar="NAME", help="model names (one per CKPT)")
    parser.add_argument("--config", help="YAML file with BenchmarkConfig keys")
    add_config_arguments(parser, BenchmarkConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.config import config_from_args
    from resode.robustness.benchmark import BenchmarkConfig, run_benchmark

    cfg = config_from_args(BenchmarkConfig, args)
    for label, res, path in run_benchmark(args.checkpoints, args.out, cfg, labels=args.labels):
        print(
            f"{label}: clean {100 * res.clean_acc:.2f} %, {res.threat_model} "
            f"{100 * res.robust_acc:.2f} % ({res.attack}); wrote {path}"
        )
        for why in res.unreliable_reasons:
            print(f"  unreliable: {why}")
    return 0
