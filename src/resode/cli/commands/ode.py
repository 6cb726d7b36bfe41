"""``resode ode``: paper B experiments (Marion et al. 2024) on the scaled residual networks.

    resode ode depth-sweep --out runs/fig1                  # Fig. 1 (T=500, L up to 1024)
    resode ode depth-sweep --init iid --preset short --out runs/fig1-iid   # resode presets
    resode ode depth-sweep --scaling-exponent 0.5 --out runs/fig1-sqrt
    resode ode long-time --out runs/fig2                    # Fig. 2 (80 000 iterations)
    resode ode weights --out runs/weights                   # trained weights against s = k/L
    resode ode relu-counterexample --out runs/relu
    resode ode cifar --preset short --out runs/table1-digits

Every experiment writes PNG plots, JSON (config, seeds, results), CSV and a Markdown/HTML summary
to --out and prints the verdict of each claim it tests. --workers N runs independent cells
(depths, seeds, inits) in N processes; --resume keeps finished cells under OUT/cells and skips them.
--executor slurm runs every cell as a Slurm job (submitit; --slurm-partition, --slurm-time-min,
--slurm-gpus-per-task, ...: docs/cluster.md), the cells kept under OUT/cells:

    resode ode cifar --executor slurm --slurm-partition gpu --slurm-gpus-per-task 1 --out runs/t1
    resode ode cifar --executor slurm --slurm-partition gpu --slurm-gpus-per-task 1 --out runs/t1 \
        --resume                                            # after the driver was killed
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.grid.options import ExecutorOptions
    from resode.ode.experiments.protocol import experiments
    from resode.presets import preset_names

    parser = subparsers.add_parser(
        "ode",
        help="paper B: deep scaled ResNets and their neural-ODE limit (figures 1-2, Table 1)",
        description=__doc__.split("\n\n")[0],
    )
    sub = parser.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", required=True, parser_class=type(parser)
    )
    for exp in experiments():  # the registered experiments (resode.ode.experiments.protocol)
        name, help_text = exp.command, exp.help
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--out", help=f"output folder (default: runs/ode-{name})")
        names = preset_names(f"ode/{name}")
        p.add_argument(
            "--preset",
            choices=names,
            default="paper",
            help=f"{', '.join(names)} (resode presets --kind ode/{name}; default: paper)",
        )
        p.add_argument("--config", help="YAML file with the experiment's keys")
        p.add_argument(
            "--workers",
            type=int,
            default=1,
            metavar="N",
            help="run independent cells in N processes (submitit-local: N jobs at a time; "
            "default: 1)",
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="keep every finished cell under OUT/cells and reuse the ones already there",
        )
        p.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="progress bars (default: on)",
        )
        add_config_arguments(p, ExecutorOptions, exclude=("workers", "threads"))
        add_config_arguments(p, exp.config)
        p.set_defaults(func=run, experiment=name)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.config import config_from_args
    from resode.errors import ResodeError
    from resode.ode.experiments.common import cell_executor
    from resode.ode.experiments.protocol import get_experiment, run_experiment
    from resode.presets import preset_mapping
    from resode.report import prepare_out_dir

    if args.workers < 1:
        raise ResodeError(f"--workers must be >= 1, got {args.workers}")
    exp = get_experiment(args.experiment)
    base = preset_mapping(f"ode/{exp.command}", args.preset)
    config = config_from_args(exp.config, args, base=base)
    out = Path(args.out or f"runs/ode-{exp.command}")
    done = () if args.resume else (exp.output,)
    prepare_out_dir(out, done, what=f"{args.experiment} run (pass --resume to reuse its cells)")
    executor, cache_dir = _executor(args, out)
    with cell_executor(executor):
        result = run_experiment(
            exp, config, out, progress=args.progress, workers=args.workers, cache_dir=cache_dir
        )
    print(f"resode ode {args.experiment}: results in {out}")
    fit = getattr(result, "fit", None)
    if fit is not None:
        print(f"slope {fit.slope:.3f}, 95 % CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
    for j in result.judgements():
        print(f"{j.claim}: {j.verdict} — {j.reason}")
    return 0


def _executor(args: argparse.Namespace, out: Path) -> tuple[object | None, Path | None]:
    """The executor of ``--executor`` (None: ``--workers`` processes) and the cell folder.

    Submitted jobs must see the cells' folder, so a submitit executor always keeps them under
    OUT/cells; cells already there belong to an earlier run and are reused only with --resume."""
    from resode.errors import ResodeError
    from resode.grid import ExecutorOptions, make_executor

    opts = ExecutorOptions.from_dict(
        {
            k: getattr(args, k)
            for k in ExecutorOptions.field_names()
            if k not in ("workers", "threads") and getattr(args, k, None) is not None
        }
    )
    cells = out / "cells"
    if opts.executor == "local":
        return None, cells if args.resume else None
    if opts.executor == "serial":
        return make_executor("serial"), cells if args.resume else None
    if not args.resume and cells.is_dir() and any(cells.iterdir()):
        raise ResodeError(
            f"{str(cells)!r} holds the cells of an earlier run; pass --resume to reuse them "
            "or choose another --out"
        )
    options = opts.executor_options() | {"workers": args.workers}
    return make_executor(opts.executor, **options), cells
