"""``resode ode``: paper B experiments (Marion et al. 2024) on the scaled residual networks.

    resode ode depth-sweep --out runs/fig1                  # Fig. 1 (T=500, L up to 1024)
    resode ode depth-sweep --init iid --preset short --out runs/fig1-iid
    resode ode depth-sweep --scaling-exponent 0.5 --out runs/fig1-sqrt
    resode ode long-time --out runs/fig2                    # Fig. 2 (80 000 iterations)
    resode ode relu-counterexample --out runs/relu
    resode ode cifar --preset short --out runs/table1-digits

Every experiment writes PNG plots, JSON (config and seeds), CSV and a Markdown summary to --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

_EXPERIMENTS = {
    "depth-sweep": ("DepthSweepConfig", "depth_sweep", "Fig. 1: smoothness slope of max‖ΔZ‖ vs L"),
    "long-time": ("LongTimeConfig", "long_time", "Fig. 2: weights vs layer over long training"),
    "relu-counterexample": (
        "ReluCounterexampleConfig",
        "relu_counterexample",
        "ReLU counter-example: odd layers never move",
    ),
    "cifar": ("CifarConfig", "cifar_grid", "Table 1: activation × init grid, smoothness per run"),
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.ode import experiments

    parser = subparsers.add_parser(
        "ode",
        help="paper B: deep scaled ResNets and their neural-ODE limit (figures 1-2, Table 1)",
        description=__doc__.split("\n\n")[0],
    )
    sub = parser.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", required=True, parser_class=type(parser)
    )
    for name, (cfg_name, _, help_text) in _EXPERIMENTS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--out", help=f"output folder (default: runs/ode-{name})")
        p.add_argument(
            "--preset",
            choices=("default", "short"),
            default="default",
            help="short: a CPU-minutes version of the experiment (default: default)",
        )
        p.add_argument("--config", help="YAML file with the experiment's keys")
        p.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="progress bars (default: on)",
        )
        add_config_arguments(p, getattr(experiments, cfg_name))
        p.set_defaults(func=run, experiment=name)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.config import config_from_args
    from resode.ode import experiments

    cfg_name, fn_name, _ = _EXPERIMENTS[args.experiment]
    cls = getattr(experiments, cfg_name)
    base = experiments.SHORT_PRESETS[args.experiment] if args.preset == "short" else {}
    config = config_from_args(cls, args, base=base)
    out = Path(args.out or f"runs/ode-{args.experiment}")
    summary = getattr(experiments, fn_name)(config, out, progress=args.progress)
    verdict = summary.get("verdict")
    print(f"resode ode {args.experiment}: results in {out}")
    if verdict:
        print(f"verdict: {verdict}")
    if args.experiment == "depth-sweep" and summary.get("slope_fit_T"):
        f = summary["slope_fit_T"]
        print(f"slope {f['slope']:.3f} [{f['ci_low']:.3f}, {f['ci_high']:.3f}]")
    return 0
