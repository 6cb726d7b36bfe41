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
    parser.add_argument(
        "--extract-cifar-c",
        metavar="TAR",
        help="check CIFAR-10-C.tar / CIFAR-100-C.tar against the publisher's MD5, extract it under "
        "--data-root and record the per-file MD5s, then exit",
    )
    parser.add_argument(
        "--verify-cifar-c",
        choices=("cifar10-c", "cifar100-c"),
        help="check every released file (shape, dtype, MD5) under --data-root and exit",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resode import data
    from resode.data import cifar_c_files as cf

    root = Path(args.data_root).expanduser() if args.data_root else data.default_root()
    if args.extract_cifar_c:
        tar = Path(args.extract_cifar_c)
        name = "cifar100-c" if "100" in tar.name else "cifar10-c"
        root.mkdir(parents=True, exist_ok=True)
        print(cf.extract_cifar_c(tar, root, name).summary())
        return 0
    if args.verify_cifar_c:
        folder = data.cifar_c_folder(args.verify_cifar_c, root)
        print(cf.verify_folder(args.verify_cifar_c, folder).summary())
        return 0
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
