"""A seeded random sample of a module's mutants, run and scored (``make mutate SAMPLE=n``).

A census (``make mutate MODULE=…``) of the larger modules takes hours on a 2-core machine; a
sample of n mutants drawn with ``random.Random(seed)`` from the module's sorted mutant names is a
check anyone can repeat: same source, same seed ⇒ the same mutants. With n = 25 and every one
killed, the true score is still only known to be above ≈ 88 % (95 % one-sided binomial bound),
which the printed table says.

The mutant names come from mutmut's ``mutants/**/*.meta`` files, which exist once mutmut has
generated the mutants; if they do not, the script first asks mutmut to generate them (a run over a
pattern no mutant matches, which also records which tests call which function).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code
from scipy.stats import beta

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"


def mutant_names() -> dict[str, int | None]:
    """Every generated mutant → its recorded exit code (None: not tested yet)."""
    names: dict[str, int | None] = {}
    for meta in MUTANTS.glob("src/**/*.meta"):
        names.update(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def matching(patterns: list[str]) -> list[str]:
    """The generated mutants whose names match one of the globs, sorted."""
    return sorted(n for n in mutant_names() if any(fnmatch.fnmatch(n, p) for p in patterns))


def lower_bound(killed: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound on the killed fraction."""
    return 0.0 if killed == 0 else float(beta.ppf(1 - level, killed, n - killed + 1))


def run_mutmut(command: list[str]) -> None:
    """mutmut's own progress output goes to mutants.log (as with ``make mutate``)."""
    with (ROOT / "mutants.log").open("a") as log:
        subprocess.run(command, cwd=ROOT, check=False, stdout=log, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="+", help="mutant name globs, e.g. 'resode.verdicts.*'")
    parser.add_argument("--n", type=int, default=25, help="mutants per sample (default 25)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    mutmut = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(args.jobs)]
    if not matching(args.patterns):
        run_mutmut([*mutmut, "resode.no_such_module.*"])
    names = matching(args.patterns)
    if not names:
        print(f"mutate_sample: no mutant matches {args.patterns}", file=sys.stderr)
        return 2
    sample = sorted(random.Random(args.seed).sample(names, min(args.n, len(names))))
    run_mutmut([*mutmut, *sample])
    codes = mutant_names()
    outcomes = {name: status_by_exit_code[codes[name]] for name in sample}  # mutmut's own words
    counts = Counter(outcomes.values())
    for name, status in outcomes.items():
        if status != "killed":
            print(f"  {status:>9}  {name}")
    caught = counts.get("killed", 0) + counts.get("timeout", 0)
    head = f"{' '.join(args.patterns)}: {len(names)} mutants, sample {len(sample)}"
    print(
        f"{head} (seed {args.seed}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; score {100 * caught / len(sample):.0f} % "
        f"(95 % lower bound {100 * lower_bound(caught, len(sample)):.0f} %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
