"""``resode data``: which data sets resode can find, their shapes and where they are read from."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "data",
        help="list the data sets resode can find, with shapes and locations",
        description="List data sets, whether they are available, their shapes and sources.",
    )
    parser.add_argument("--data-root", default=None, help="folder holding CIFAR / CIFAR-C files")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--download", choices=("cifar10", "cifar100"), help="download (MD5-checked) and exit"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode import data

    if args.download:
        data.load(args.download, root=args.data_root, download=True)
    rows = data.describe(args.data_root)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"data root: {data.default_root() if args.data_root is None else args.data_root}")
    header = (
        f"{'name':<11} {'split':<10} {'ok':<3} {'shape':<12} {'classes':>7} {'size':>6}  source"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        shape = "x".join(str(s) for s in r["shape"])
        size = "" if r["size"] is None else str(r["size"])
        classes = "" if r["num_classes"] is None else str(r["num_classes"])
        ok = "yes" if r["available"] else "no"
        cols = f"{r['name']:<11} {r['split']:<10} {ok:<3} {shape:<12} {classes:>7} {size:>6}"
        print(f"{cols}  {r['source']}")
    return 0
