"""Run every benchmark in this folder with its default settings and collect the JSON results.

    .venv/bin/python benchmarks/run_all.py [--out benchmarks/results]

Each benchmark measures its baseline in the same run and prints ratios; speed is never asserted
in the test suite. ``bench_attacks.py`` compares against torchattacks, a benchmark-only
dependency installed without its torchvision requirement:
``.venv/bin/pip install --no-deps torchattacks``; without it, the attack benchmark is skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# benchmark -> its option for a JSON results file (None: it prints its table only)
BENCHMARKS = {
    "bench_training.py": "--out",
    "bench_attacks.py": "--json",
    "bench_depth_sweep.py": "--json",
    "bench_gd.py": "--json",
    "bench_kernels.py": "--json",
    "bench_seed_batch.py": "--json",
}


def stamp(path: Path, command: str) -> None:
    """Add when, where and how the numbers were measured to a benchmark's JSON file."""
    import datetime
    import json
    import platform

    import torch

    sys.path.insert(0, str(HERE.parent / "src"))
    from resode.runtime import cpu_name

    data = json.loads(path.read_text())
    data["measured"] = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs",
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "command": command,
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON files")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, json_flag in BENCHMARKS.items():
        if name == "bench_attacks.py" and importlib.util.find_spec("torchattacks") is None:
            print(f"skipping {name}: pip install --no-deps torchattacks to run it")
            continue
        print(f"== {name}", flush=True)
        cmd = [sys.executable, str(HERE / name)]
        path = out / f"{Path(name).stem}.json"
        if json_flag:
            cmd += [json_flag, str(path)]
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(name)
        elif json_flag and path.exists():
            stamp(path, f"make bench ({name})")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
