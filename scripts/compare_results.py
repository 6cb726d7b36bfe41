"""Compare the numbers of two ``resode reproduce`` results: bit-identical or not, and where.

    python scripts/compare_results.py RUN_BEFORE/results.json RUN_AFTER/results.json

Every number reachable in both files is compared exactly (floats by their bits); keys that hold
what a run cannot repeat (timings, the environment, paths, digests of configs) are skipped.
Keys present in one file only are listed. Exit code 0: every shared number is identical and no
number is missing from either side; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SKIP = {
    "environment",
    "seconds",
    "wall_s",
    "elapsed",
    "started",
    "finished",
    "out",
    "path",
    "folder",
    "digest",
    "config_digest",
    "git",
    "kernels",
    "timing",
    "cpu_seconds",
}


def leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every number and string under ``obj``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SKIP or k.endswith("_seconds") or k.endswith("_s"):
                continue
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--show", type=int, default=20, help="differences to print")
    args = ap.parse_args()
    a = dict(leaves(json.loads(args.before.read_text())))
    b = dict(leaves(json.loads(args.after.read_text())))
    nums = [k for k in a.keys() & b.keys() if isinstance(a[k], (int, float))]
    diff = sorted(k for k in nums if not same(a[k], b[k]))
    only_a = sorted(k for k in a.keys() - b.keys() if isinstance(a[k], (int, float)))
    only_b = sorted(k for k in b.keys() - a.keys() if isinstance(b[k], (int, float)))
    print(
        f"{len(nums)} shared numbers, {len(diff)} differ; "
        f"{len(only_a)} only before, {len(only_b)} only after"
    )
    for k in diff[: args.show]:
        print(f"  differs  {k}: {a[k]!r} → {b[k]!r}")
    for k in only_a[: args.show]:
        print(f"  before   {k}")
    for k in only_b[: args.show]:
        print(f"  after    {k}")
    return 0 if not (diff or only_a or only_b) else 1


if __name__ == "__main__":
    raise SystemExit(main())
