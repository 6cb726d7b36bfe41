"""``resode models``: the model registry, with families, descriptions and parameter counts."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "models",
        help="list the registered models (names for --model and resode.create_model)",
        description="List registered models; --params counts parameters (built on the meta "
        "device, so even ResNeXt-29 costs no memory).",
    )
    parser.add_argument("pattern", nargs="?", default=None, help="glob filter, e.g. 'inres*'")
    parser.add_argument("--params", action="store_true", help="also count parameters")
    parser.add_argument("--num-classes", type=int, default=10, help="classes for --params")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
    return parser


def count_parameters(name: str, num_classes: int = 10) -> int:
    """Number of parameters of registry model ``name`` (built on the meta device)."""
    import torch

    from resode.registry import create_model

    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes)
    return sum(p.numel() for p in model.parameters())


def run(args: argparse.Namespace) -> int:
    from resode.errors import ResodeError
    from resode.registry import list_models, model_entry

    if args.num_classes < 1:
        raise ResodeError(f"--num-classes must be >= 1, got {args.num_classes}")
    names = list_models(args.pattern)
    if not names:
        raise ResodeError(f"no model matches {args.pattern!r}; run 'resode models' for all names")
    rows = []
    for name in names:
        entry = model_entry(name)
        row = {"name": name, "family": entry.family, "description": entry.description}
        if args.params:
            row["parameters"] = count_parameters(name, args.num_classes)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        params = f"{r['parameters'] / 1e6:9.3f} M" if "parameters" in r else ""
        print(f"{r['name']:<28} {r['family']:<16} {params:>11}  {r['description']}")
    return 0
