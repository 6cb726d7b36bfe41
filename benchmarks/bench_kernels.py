"""What the kernel pinning costs: one cell of the default ``resode reproduce`` preset (ResNet-20 on
digits, seed 0: training, the robustness evaluation and the analyses) run as a grid task in a
fresh process under ``RESODE_KERNELS=avx2`` and ``native``, alternating, on one thread.

    .venv/bin/python benchmarks/bench_kernels.py [--repeats 2] [--json FILE]

Reports the median wall and CPU seconds of each policy and their ratio (pinned / native),
measured in this one run (the machine is shared: compare ratios, not seconds), and whether the
two policies gave the same numbers on this CPU (they differ where the CPU has AVX-512).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

CHILD = """
import json, sys, time
from pathlib import Path
from resode.presets import get_preset
from resode.reproduce.job import all_tasks
from resode.grid.task import run_task
cfg = get_preset("default", kind="reproduce")
out = Path(sys.argv[1])
task = next(t for t in all_tasks(cfg, out) if t.key == "paper_a/resnet20-seed0")
t0, c0 = time.perf_counter(), time.process_time()
outcome = run_task(task, out)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
assert outcome.ok, outcome.error
print(json.dumps({"wall": wall, "cpu": cpu, "result": json.dumps(outcome.result, sort_keys=True)}))
"""


def run_once(policy: str) -> dict[str, float | str]:
    env = {**os.environ, "RESODE_KERNELS": policy, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, tmp], env=env, capture_output=True, text=True, check=True
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {"avx2": [], "native": []}
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        for policy in runs:  # alternate, so both see the same load on average
            runs[policy].append(run_once(policy))
    med = {
        p: {k: statistics.median(float(r[k]) for r in rs) for k in ("wall", "cpu")}
        for p, rs in runs.items()
    }
    same = runs["avx2"][0]["result"] == runs["native"][0]["result"]
    repeat_same = all(r["result"] == runs["avx2"][0]["result"] for r in runs["avx2"])
    out = {
        "cell": "default preset, paper_a/resnet20-seed0 (train + robustness + analyses)",
        "repeats": args.repeats,
        "median_seconds": med,
        "ratio_wall_avx2/native": med["avx2"]["wall"] / med["native"]["wall"],
        "ratio_cpu_avx2/native": med["avx2"]["cpu"] / med["native"]["cpu"],
        "same_numbers_avx2_vs_native": same,
        "avx2_repeats_identical": repeat_same,
        "total_seconds": time.perf_counter() - t0,
    }
    for p, m in med.items():
        print(f"{p:>6}: wall {m['wall']:.1f} s, CPU {m['cpu']:.1f} s (median of {args.repeats})")
    print(
        f"pinned/native: wall ×{out['ratio_wall_avx2/native']:.3f}, "
        f"CPU ×{out['ratio_cpu_avx2/native']:.3f}; same numbers: {same}; "
        f"pinned repeats identical: {repeat_same}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
