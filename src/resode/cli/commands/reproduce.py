"""``resode reproduce``: both papers' headline results as one report (runs/<timestamp>/).

resode reproduce                                   # ≈ 6 min on 2 CPU cores, no download
resode reproduce --out runs/mine --resume          # continue an interrupted run
resode reproduce --preset tiny                     # the whole pipeline in seconds
resode reproduce --preset cifar10-paper-a --data-root ~/data    # full scale (GPU)
resode reproduce --list-presets                    # presets, wall times, paper numbers
"""

from __future__ import annotations

import argparse

_EXCLUDE = ("preset",)


def _presets_epilog() -> str:
    from resode.reproduce import describe_presets

    lines = ["presets:"]
    for p in describe_presets():
        lines.append(f"  {p['name']}: {p['what']}")
        lines.append(
            f"      hardware: {p['hardware']}; expected wall time: {p['expected_wall_time']}"
        )
        lines.append(f"      compare with: {p['compare_with']}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.reproduce import ReproduceConfig, list_presets

    parser = subparsers.add_parser(
        "reproduce",
        help="reproduce both papers' headline results as one report (default: ≈ 6 min on CPU)",
        description=__doc__.split("\n\n")[0],
        epilog=_presets_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        default="default",
        help=f"what to run: {', '.join(list_presets())} (default: default; see below)",
    )
    parser.add_argument("--out", help="output folder (default: runs/<timestamp>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the checkpoints in --out (default: the newest runs/<timestamp>) and continue",
    )
    parser.add_argument(
        "--list-presets", action="store_true", help="print the presets with wall times and exit"
    )
    parser.add_argument("--config", help="YAML file with ReproduceConfig keys (over the preset)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars (default: on)",
    )
    add_config_arguments(parser, ReproduceConfig, exclude=_EXCLUDE)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resode.config import config_from_args
    from resode.reproduce import (
        PRESETS,
        ReproduceConfig,
        describe_presets,
        latest_run,
        run_reproduce,
    )

    if args.list_presets:
        for p in describe_presets():
            print(f"{p['name']}: {p['what']}")
            print(f"    hardware: {p['hardware']}")
            print(f"    expected wall time: {p['expected_wall_time']}")
            print(f"    compare with: {p['compare_with']}")
        return 0
    from resode.errors import unknown_name_error

    if args.preset not in PRESETS:
        raise unknown_name_error("preset", args.preset, list(PRESETS))
    config = config_from_args(
        ReproduceConfig, args, base={**PRESETS[args.preset], "preset": args.preset}
    )
    out = Path(args.out) if args.out else (latest_run() if args.resume else None)
    result = run_reproduce(config, out, resume=args.resume, progress=args.progress)
    print(f"wall time {result.seconds / 60:.1f} min; report: {result.out_dir / 'report.html'}")
    for c in result.claims:
        print(f"  [{c['verdict']}] paper {c['part']}: {c['claim']}")
    return 0
