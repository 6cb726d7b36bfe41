"""``resode fingerprint``: one digest of this machine's numbers under the kernel policy.

Compare it with the fingerprint the README shows: the same digest means ``make demo`` prints the
README's numbers here.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "fingerprint",
        help="digest of a tiny train + attack + paper-B GD run, to compare machines",
        description="Train In-ResNet-20 for 3 epochs on 512 digits, run PGD-10 on 64 test images "
        "and 300 paper-B GD iterations on one thread under the kernel policy (--kernels), and "
        "print one digest with the environment (CPU and its instruction set, library versions, "
        "policy). Same digest as the README's => the README's numbers are what make demo prints.",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the record as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.errors import ResodeError
    from resode.fingerprint import compute_fingerprint
    from resode.report import write_json

    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        raise ResodeError(f"--json {str(args.json)!r}: give a file path in an existing folder")
    fp = compute_fingerprint()
    print(fp.summary())
    if args.json is not None:
        write_json(args.json, fp.to_dict())
        print(f"  record in {args.json}")
    return 0


__all__ = ["register", "run"]
