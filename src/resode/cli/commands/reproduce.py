"""``resode reproduce``: both papers' headline results as one report (runs/<timestamp>/).

resode reproduce                                   # the default preset, both CPU cores, no download
resode reproduce --out runs/mine --resume          # continue an interrupted run
resode reproduce --preset tiny                     # the whole pipeline in seconds
resode reproduce --paper-a.robustness.eps 4/255 8/255 --paper-a.seeds 0 1 2 3   # any config key
resode reproduce --preset cifar10-paper-a --paper-a.data-root ~/data  # full scale (GPU)
resode reproduce --list-presets                    # presets, wall times, paper numbers
"""

from __future__ import annotations

import argparse
import sys


def _presets_epilog() -> str:
    from resode.presets import list_presets

    lines = ["presets (resode presets --show reproduce/NAME prints one to copy and edit):"]
    for p in list_presets("reproduce"):
        lines.append(f"  {p.name}: {p.description}")
        lines.append(f"      hardware: {p.hardware}; expected wall time: {p.expected_wall_time}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.config import add_config_arguments
    from resode.presets import preset_names
    from resode.reproduce.config import JOB_KEYS, ReproduceConfig

    parser = subparsers.add_parser(
        "reproduce",
        help="reproduce both papers' headline results as one report (default: minutes on CPU)",
        description=__doc__.split("\n\n")[0],
        epilog=_presets_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        default="default",
        help=f"what to run: {', '.join(preset_names('reproduce'))} (default: default)",
    )
    parser.add_argument("--out", help="output folder (default: runs/<timestamp>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished tasks in --out (default: the newest runs/<timestamp>)",
    )
    parser.add_argument(
        "--resume-override",
        action="store_true",
        help="with --resume: continue although the options differ from the recorded run (e.g. "
        "more --paper-a.seeds); only the cells the change touches run, and the change is "
        "recorded in OUT/resume_overrides.json",
    )
    parser.add_argument(
        "--list-presets", action="store_true", help="print the presets with wall times and exit"
    )
    parser.add_argument(
        "--config", help="YAML file with ReproduceConfig keys, or an edited preset (over --preset)"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars (default: on)",
    )
    # the nested library configs' keys the job sets itself (one seed, device, data set) get no flag
    from resode.ode.experiments.protocol import experiments

    job_set = tuple(f"paper_a.{k}" for k in JOB_KEYS)
    job_set += tuple(f"paper_b.{e.name}.{k}" for e in experiments() for k in e.job_keys)
    add_config_arguments(parser, ReproduceConfig, exclude=("preset", *job_set))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resode.config import config_from_args
    from resode.presets import find_preset, list_presets
    from resode.reproduce import ReproduceConfig, latest_run, run_reproduce

    if args.list_presets:
        for p in list_presets("reproduce"):
            print(f"{p.name}: {p.description}")
            print(f"    hardware: {p.hardware}")
            print(f"    expected wall time: {p.expected_wall_time}")
            print(f"    compare with: {p.compare_with}")
        return 0
    preset = find_preset("reproduce", args.preset)
    config = config_from_args(ReproduceConfig, args, base={**preset.config, "preset": preset.name})
    out = Path(args.out) if args.out else (latest_run() if args.resume else None)
    result = run_reproduce(
        config,
        out,
        resume=args.resume,
        progress=args.progress,
        resume_override=args.resume_override,
    )
    from resode.reproduce.claims import RED_FLAG_REASON

    print(f"wall time {result.seconds / 60:.1f} min; report: {result.out_dir / 'report.html'}")
    look = result.results.get("look")
    if look:
        print(
            f"  look {look['sequence']} of this run (looks.json); paper A read sequentially, "
            "then Holm"
        )
    for c in result.claims:
        raw = "" if c.raw_verdict == c.verdict else f" (raw: {c.raw_verdict})"
        print(f"  [{c.verdict}]{raw} {c.role} paper {c.part}: {c.title}")
        if c.judgement.reason.startswith(RED_FLAG_REASON):  # why a robustness verdict is void
            print(f"      {c.judgement.reason.split('; measured: ')[0]}")
    for key, err in result.failed.items():
        print(f"  [failed] {key}: {err}")
    if result.failed:
        from resode.cli import EXIT_FAILED_TASKS

        print(
            f"resode: {len(result.failed)} task(s) failed (listed above); exit code "
            f"{EXIT_FAILED_TASKS}. Fix the cause and rerun with --resume",
            file=sys.stderr,
        )
        return EXIT_FAILED_TASKS
    return 0
