"""``resode presets``: every named preset of every kind, from the YAML files shipped with resode.

resode presets                              # kind, name and what each preset is for
resode presets --kind reproduce --long      # with hardware, wall time and paper numbers
resode presets --show train/digits > my.yaml    # copy one, edit it, then:
resode train --config my.yaml --out runs/mine
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.presets import KINDS

    parser = subparsers.add_parser(
        "presets",
        help="list every preset (train, reproduce, ode ...) or print one to copy",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kind", choices=sorted(KINDS), help="only presets of this kind")
    parser.add_argument(
        "--show", metavar="KIND/NAME", help="print one preset file (YAML) to copy and edit"
    )
    parser.add_argument(
        "--long", action="store_true", help="also hardware, wall time and what to compare with"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.errors import ResodeError
    from resode.presets import find_preset, list_presets

    if args.show:
        kind, _, name = args.show.rpartition("/")
        if not kind:
            raise ResodeError(
                f"--show {args.show!r}: write KIND/NAME, e.g. train/digits (see resode presets)"
            )
        print(find_preset(kind, name).text(), end="")
        return 0
    presets = list_presets(args.kind)
    width = max(len(p.id) for p in presets)
    for p in presets:
        print(f"{p.id:<{width}}  {p.description}")
        if args.long:
            print(f"{'':<{width}}  hardware: {p.hardware}")
            print(f"{'':<{width}}  expected wall time: {p.expected_wall_time}")
            print(f"{'':<{width}}  compare with: {p.compare_with}")
    return 0
