"""``resode train``: train a registered model with a preset recipe, a YAML config and overrides.

    resode train --preset digits --model inresnet20 --out runs/digits-in20
    resode train --preset digits --model resnet20 --epochs 5 --out runs/digits-r20
    resode train --out runs/digits-in20 --resume            # continue exactly after a crash
    resode train --preset cifar10-paper-a --dump-config c10.yaml   # edit, then --config c10.yaml
    torchrun --nproc_per_node 4 -m resode train --preset cifar10-paper-a --out runs/c10

Precedence: preset < ``--config`` YAML < explicit options.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.training.config import TrainConfig
    from resode.training.presets import list_presets

    parser = subparsers.add_parser(
        "train",
        help="train a model (paper recipes as presets; checkpoints every epoch; --resume)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--preset",
        default="digits",
        help=f"recipe name ({', '.join(list_presets())}) or a YAML file (default: digits)",
    )
    parser.add_argument("--config", help="YAML file with TrainConfig keys (overrides the preset)")
    parser.add_argument(
        "--out", help="output folder (default: runs/train-<model>-<dataset>-seed<seed>)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT/last.pt if it exists"
    )
    parser.add_argument(
        "--resume-override",
        action="store_true",
        help="with --resume: continue although the options differ from the recorded config "
        "(the change is recorded in OUT/resume_overrides.json)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bar and per-epoch lines (default: on)",
    )
    parser.add_argument(
        "--dump-config",
        metavar="PATH",
        help="write the resolved config as YAML to a new file and exit",
    )
    add_config_arguments(parser, TrainConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.config import config_from_args
    from resode.training import TrainConfig, train
    from resode.training.presets import get_preset

    base = get_preset(args.preset).to_dict()
    config = config_from_args(TrainConfig, args, base=base)
    if args.dump_config:
        from resode.errors import ResodeError

        if Path(args.dump_config).is_file():  # never overwrite a file the user saved
            raise ResodeError(
                f"--dump-config {args.dump_config!r} already exists; delete it or choose "
                "another path"
            )
        config.to_yaml(args.dump_config)
        print(f"wrote {args.dump_config}")
        return 0
    out = Path(args.out or f"runs/train-{config.model}-{config.dataset}-seed{config.seed}")
    if args.resume_override and not args.resume:
        from resode.errors import ResodeError

        raise ResodeError("--resume-override only applies with --resume; add --resume")
    result = train(
        config,
        out,
        resume=args.resume,
        progress=args.progress,
        resume_override=args.resume_override,
    )
    from resode.training.distributed import env_rank

    last = result.history[-1] if result.history else None
    if last is not None and result.checkpoint_path.exists() and env_rank() == 0:
        acc = last.get("test_acc")
        acc_text = f", test accuracy {100 * acc:.2f}%" if acc is not None else ""
        print(f"trained {config.model} for {last['epoch']} epochs{acc_text}; results in {out}")
    return 0
