"""Every number in the README comes from a committed, dated result file; this script writes them.

    python scripts/readme_numbers.py record runs/<timestamp> default   # keep a run's results
    python scripts/readme_numbers.py render                           # rewrite the README blocks
    python scripts/readme_numbers.py check                            # exit 1 if the README drifted

Sources (committed): ``docs/results/<preset>.json`` (a trimmed ``results.json`` of a
``resode reproduce`` run: environment, wall time, per-run metrics, claims), and
``benchmarks/results/*.json`` (``make bench``, stamped with date and machine by
``benchmarks/run_all.py``; ``gpu_check.json`` from ``benchmarks/gpu_check.py --json``). The
README holds blocks between ``<!-- numbers:NAME -->`` and ``<!-- /numbers:NAME -->``; ``render``
replaces each with the text generated from its source, so a README number cannot drift from its
measurement (``tests/test_readme_numbers.py`` runs ``check``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"
FIGURES = ROOT / "docs" / "figures"
BENCH = ROOT / "benchmarks" / "results"
#: figures of a recorded ``default`` run shown in the README: run file → docs/figures name
DEMO_FIGURES = {
    "claims.png": "claims.png",
    "paper_a_adversarial.png": "paper_a_adversarial.png",
    "paper_a_noise.png": "paper_a_noise.png",
    "paper_a_stability.png": "paper_a_stability.png",
    "paper_a_landscape_1d.png": "paper_a_landscape_1d.png",
    "paper_a_lambdas.png": "paper_a_lambdas.png",
    "paper_a_lambda_sweep.png": "paper_a_lambda_sweep.png",
    "paper_b_depth_sweep.png": "paper_b_depth_sweep.png",
    "paper_b/weights/weights.png": "paper_b_weights.png",
    "paper_b/long_time/fig2.png": "paper_b_long_time.png",
}


# ------------------------------------------------------------------------------------ record


def _runs(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """Each run of ``results.json``: the row (its ``metrics``) and its stored
    :class:`~resode.reproduce.runs.RunResult`."""
    from resode.reproduce.runs import RunResult

    return [(r, RunResult.from_dict(r)) for r in rows]


def record(run: Path, name: str) -> Path:
    """Trim ``run/results.json`` to what the README shows and keep it as docs/results/NAME.json."""
    res = json.loads((run / "results.json").read_text())
    keep = {k: res[k] for k in ("config", "environment", "wall_seconds", "claims", "failed")}
    if "paper_a" in res:
        pa = res["paper_a"]
        keep["paper_a"] = {
            "eps_labels": pa["eps_labels"],
            "n_test": pa["n_test"],
            "n_attack": pa["n_attack"],
            "runs": [
                {"model": run.model, "seed": run.seed, "metrics": r["metrics"]}
                for r, run in _runs(pa["runs"])
            ],
            "sweep": [
                {"lam": run.lam, "seed": run.seed, "metrics": r["metrics"]}
                for r, run in _runs(pa["sweep"])
            ],
            # per model × attack × ε: per-seed robust accuracy, Clopper–Pearson and seed intervals
            "attack_table": [_compact_row(row) for row in pa.get("attack_table", [])],
        }
    if "paper_b" in res:
        keep["paper_b"] = res["paper_b"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(keep, indent=1) + "\n")
    if name == "default":  # the README's figures come from the same run as its numbers
        import shutil

        FIGURES.mkdir(parents=True, exist_ok=True)
        for src, dst in DEMO_FIGURES.items():
            if (run / src).exists():
                shutil.copy(run / src, FIGURES / dst)
    return out


def _compact_row(row: dict[str, Any]) -> dict[str, Any]:
    """One attack-table row with its accuracies and interval ends rounded to 4 decimals."""

    def r4(v: Any) -> Any:
        if isinstance(v, list):
            return [r4(x) for x in v]
        return round(v, 4) if isinstance(v, float) and math.isfinite(v) else v

    keys = ("model", "attack", "eps", "n_images", "mean", "per_seed", "images_ci", "seeds_ci")
    return {k: r4(row[k]) for k in keys if k in row}


# ------------------------------------------------------------------------------------ blocks


def _kernels_sentence(env: dict[str, Any]) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from resode.reproduce.report import kernels_sentence

    return kernels_sentence(env)


def _display(name: str) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from resode.registry import display_name

    return display_name(name)


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _pm(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    vals = [scale * v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "–"
    m = statistics.fmean(vals)
    s = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def _when(res: dict[str, Any], command: str | None = None) -> str:
    """When, where and by what (default: ``resode reproduce --preset <the run's preset>``)."""
    env = res["environment"]
    command = command or f"`resode reproduce --preset {res['config']['preset']}`"
    return (
        f"Measured on {env['date'][:10]} by {command}"
        f" on {env['cpu']} ({env['cpu_count']} CPUs), Python {env['python']}, torch "
        f"{env['torch']}: **{res['wall_seconds'] / 60:.1f} min** wall time, "
        f"{env.get('workers', '?')} worker processes of one thread each"
        + (
            f", {env['task_cpu_seconds'] / 60:.1f} CPU-minutes in the tasks."
            if env.get("task_cpu_seconds")
            else "."
        )
        + " "
        + _kernels_sentence(env)
    )


def ratio_text(x: float) -> str:
    from resode.verdicts import ratio_text as rt

    return rt(x)


def _adjusted(c: dict[str, Any]) -> str:
    """The headline: adjusted verdict (finding); results recorded before the plan have none."""
    if "adjusted_finding" not in c:
        return f"{c['verdict']} (not adjusted: recorded before the analysis plan)"
    if c.get("role") == "secondary":
        return "— (secondary)"
    f = c["adjusted_finding"]
    return c["verdict"] if f == "inconclusive" else f"{c['verdict']} ({f})"


def _raw(c: dict[str, Any]) -> str:
    v, f = c.get("raw_verdict", c["verdict"]), c.get("raw_finding", c.get("finding"))
    return v if f in (None, "inconclusive") else f"{v} ({f})"


def _role(c: dict[str, Any]) -> str:
    return c.get("role", "?")


def _claims_table(res: dict[str, Any], part: str | None = None) -> list[str]:
    lines = [
        "| paper | claim | model | role | headline verdict (A: sequential + Holm; B: Holm) | "
        "unadjusted fixed-n verdict | "
        "effect [95 % CI] | margin | MDE | n |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in res["claims"]:
        if part and c["part"] != part:
            continue
        lo, hi = (float(v) for v in c["ci"])
        eff, mde = float(c["effect"]), float(c["min_detectable_effect"])
        if c["scale"] == "log":
            ci = f"×{ratio_text(eff)} [{ratio_text(lo)}, {ratio_text(hi)}]"
        else:
            ci = f"{eff:+.3g} [{lo:+.3g}, {hi:+.3g}]"
        model = _display(c["model"]) if c.get("model") else ""
        lines.append(
            f"| {c['part']} | {c['claim']} | {model} | {_role(c)} | **{_adjusted(c)}** | "
            f"{_raw(c)} | {ci} | "
            f"{float(c['margin']):g} {c.get('unit', '')} | {mde:.3g} | "
            f"{'/'.join(map(str, c['n_seeds']))} |"
        )
    return lines


def block_powered() -> str:
    """The pooled, powered run: the default design's cells at many seeds, judged in one look."""
    res = _load(RESULTS / "powered.json")
    if res is None:
        return "(no committed powered run: see benchmarks/replication/README.md)"
    pa = res["config"]["paper_a"]
    seeds = [int(s) for s in pa["seeds"]]
    command = (
        f"`resode reproduce --preset {res['config']['preset']} --paper-a.models "
        f"{' '.join(pa['models'])} --paper-a.seeds $(seq {min(seeds)} {max(seeds)}) "
        "--no-sweep.enabled --no-paper-b.enabled` (the config of `resode reproduce --preset "
        "paper-a-powered`, a test checks)"
    )
    return block_demo("powered", command)


def block_demo(name: str = "default", command: str | None = None) -> str:
    res = _load(RESULTS / f"{name}.json")
    if res is None:
        return f"(no committed results for preset {name}: run `make demo` and record it)"
    lines = [_when(res, command), ""]
    pa = res.get("paper_a")
    if pa:
        models = list(dict.fromkeys(r["model"] for r in pa["runs"]))
        lines += [
            "| model | seeds | clean | drop to CIFAR-C noise | drop to noise ×3 | robust AUC "
            "| λ moved from init |",
            "|---|---|---|---|---|---|---|",
        ]
        for m in models:
            rs = [r["metrics"] for r in pa["runs"] if r["model"] == m]
            lam = [r.get("lambda_change") for r in rs if "lambda_change" in r]
            lines.append(
                f"| {_display(m)} | {len(rs)} | {_pm([r['clean'] for r in rs])} | "
                f"{_pm([r.get('noise_drop×1') for r in rs])} | "
                f"{_pm([r.get('noise_drop') for r in rs])} | "
                f"{_pm([r.get('robust_auc') for r in rs])} | "
                f"{_pm(lam, 1.0, 3) if lam else '–'} |"
            )
        lines += [
            "",
            f"Accuracies in % (mean ± std over seeds) on {pa['n_test']} test images "
            f"(attacks on {pa['n_attack']}); robust AUC = mean worst-case accuracy over "
            f"ε ∈ [0, {pa['eps_labels'][-1]}].",
            "",
        ]
    lines += _claims_table(res)
    if res.get("failed"):
        lines += ["", "Failed cells: " + ", ".join(res["failed"])]
    return "\n".join(lines)


def _mean_range(values: list[float], digits: str = ".3g") -> str:
    """``mean [min, max]`` over seeds (one value: the value)."""
    if len(values) == 1:
        return f"{values[0]:{digits}}"
    return f"{statistics.fmean(values):{digits}} [{min(values):{digits}}, {max(values):{digits}}]"


def _ends(depths: list[int]) -> str:
    return f"{depths[0]} … {depths[-1]}"


def block_paper_b_full() -> str:
    res = _load(RESULTS / "paper-b-full.json")
    if res is None:
        return "(no committed paper-b-full run yet)"
    pb = res["paper_b"]
    lines = [
        _when(res),
        "",
        "| init | depth slope per seed: mean [min, max] | L·max‖ΔZ‖ at L = "
        + _ends(next(iter(pb["depth_sweep"].values()))["depths"])
        + " (mean over seeds) |",
        "|---|---|---|",
    ]
    for init, s in pb["depth_sweep"].items():
        slopes = s.get("seed_slopes") or [s["fit"]["slope"]]
        lmax = ", ".join(f"{statistics.fmean(v):.3g}" for v in s["L_max_dz"])
        lines.append(f"| {init} | {_mean_range(slopes)} | {lmax} |")
    lt = pb.get("long_time")
    if lt:
        n = len(lt.get("seeds", [0]))
        beta = lt.get("decay_exponent_beta")
        lines += [
            "",
            f"Long time ({lt['config']['iterations']} iterations, "
            + (
                f"{n} seeds, each its own data draw; mean [min, max] over seeds"
                if n > 1
                else "one seed"
            )
            + "): final loss "
            f"{_mean_range(lt.get('loss_last_per_seed') or [lt['loss_last']])}; decay rate of "
            f"ln(loss) {_mean_range(lt['rates_per_1000'])} per 1000 iterations; minimum PL "
            f"ratio {_mean_range(lt['pl_min'])}"
            + (
                f"; decay exponent β {_mean_range(beta, '.2f')} (0: exponential, −1: power law)."
                if beta
                else "."
            ),
        ]
    lines += ["", *_claims_table(res, "B")]
    return "\n".join(lines)


def _bench_rows() -> list[str]:
    rows = []
    t = _load(BENCH / "bench_training.json")
    if t:
        d, when = t["damping"], t.get("measured", {})
        rows.append(
            f"| damping cost: In-ResNet-20 / ResNet-20 train step (CPU time) | "
            f"{d['ratio_cpu']:.3f}× | ≤ 1.03× | {when.get('date', '?')} |"
        )
        if "loop" in t:
            b = t["loop"]
            rows.append(
                f"| `resode.train` vs a plain PyTorch loop, same threads (epoch time) | "
                f"{b['speedup_same_threads']:.2f}× faster | ≥ 1.2× | "
                f"{when.get('date', '?')} |"
            )
        if "peak" in t:
            c = t["peak"]
            frac = {k.split(":")[0]: v for k, v in c["fraction"].items()}
            now, before = frac["now"], frac["before"]
            rows.append(
                f"| ResNet-20 train step, batch {c['batch']} of 3×32×32, {c['threads']} threads: "
                f"fraction of the fp32 matmul peak measured in the same run (before issue 23) | "
                f"{100 * now:.0f} % ({100 * before:.0f} %) | raise it | {when.get('date', '?')} |"
            )
    a = _load(BENCH / "bench_attacks.json")
    if a:
        for m, v in a["speedup_cpu"].items():
            if m != a["baseline"]:
                rows.append(
                    f"| PGD-{a['steps']}, {a['n']} digits images: `{m}` vs "
                    f"{a['baseline_name']} (CPU time) | {v:.2f}× faster | 2× | "
                    f"{a.get('measured', {}).get('date', '?')} |"
                )
        if "table" in a:
            rows.append(_table_row(a["table"], a.get("measured", {}).get("date", "?")))
    s = _load(BENCH / "bench_depth_sweep.json")
    if s:
        w = s["workload"]
        rows.append(
            f"| paper B GD, L = {w['depth']}, {w['seeds']} seeds: stacked vs per-layer "
            f"autograd (CPU per seed-step) | {s['speedup_per_seed_step_cpu']:.2f}× | ≥ 5× | "
            f"{s.get('measured', {}).get('date', '?')} |"
        )
    g = _load(BENCH / "bench_gd.json")
    if g:
        rows += _gd_rows(g)
    return rows


def _table_row(t: dict[str, Any], date: str) -> str:
    """The worst-case table's row: resode's cascade against a loop over torchattacks."""
    attacks = ", ".join(
        a.upper() if a == "fgsm" else f"{a.upper()}-{t['steps']}" for a in t["attacks"]
    )
    equal = "equal" if t["equal"] else f"{t['points_differing']} points differ"
    return (
        f"| worst-case table ({attacks} at {len(t['eps'])} ε, {t['n']} digits images): "
        f"`resode` cascade vs a loop over {t['baseline_name']} (CPU time; per-point worst "
        f"cases {equal}) | {t['speedup_cpu']['resode-cascade']:.2f}× faster | 2× | {date} |"
    )


def _gd_rows(g: dict[str, Any]) -> list[str]:
    out = []
    when = g.get("measured", {}).get("date", "?")
    targets = {"long": "≥ 3×", "sweep": "≥ 2×"}
    for wl, r in g.get("workloads", {}).items():
        w = r["workload"]
        shape = f"L = {w['depth']}, n = {w['n']}, m = {w['m']}, {w['seeds'] or 1} seed(s)"
        for impl, e in r["impls"].items():
            if impl == "reference":
                continue
            out.append(
                f"| paper B GD loop, `{impl}` backend vs the old loop ({shape}; CPU / wall time "
                f"per iteration) | {e['speedup_cpu']:.2f}× / {e['speedup_wall']:.2f}× | "
                f"{targets.get(wl, '')} | {when} |"
            )
    return out


def block_benchmarks() -> str:
    rows = _bench_rows()
    if not rows:
        return "(no committed benchmark results: run `make bench`)"
    return "\n".join(
        [
            "| benchmark (baseline measured in the same run) | result | target | date |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def block_gpu() -> str:
    g = _load(BENCH / "gpu_check.json")
    if g is None:
        return "No GPU run yet: the CUDA paths are untested."
    lines = [
        f"`python benchmarks/gpu_check.py` on {g.get('date', '?')[:10]}, one "
        f"{g.get('device', '?')} (exit code {g.get('exit_code')}):",
        "",
        "```",
    ]
    lines += [ln.rstrip() for ln in g.get("lines", [])]
    lines.append("```")
    return "\n".join(lines)


def _verdict_finding(x: dict[str, str]) -> str:
    return x["verdict"] if x["finding"] == x["verdict"] else f"{x['verdict']} ({x['finding']})"


def block_replication() -> str:
    studies = sorted((ROOT / "benchmarks" / "replication").glob("replication*.json"))
    reps = [r for r in map(_load, studies) if r is not None]
    if not reps:
        return "(no committed replication study yet: run benchmarks/replication/run.py)"
    return "\n\n".join(_replication_study(rep) for rep in reps)


def _replication_study(rep: dict) -> str:
    agree, rows = rep["agreement"]
    env = rep["environment"]
    pairs = rep.get("pair_agreement")
    pair_text = (
        f" Pairs of sets: {pairs[0]} of {pairs[1]} row verdicts agree "
        f"({100 * pairs[0] / pairs[1]:.0f} %); reversals (reproduced in one set, contradicted "
        f"in another): {rep['reversals']}."
        if pairs
        else ""
    )
    part = rep.get("random_partitions")
    if part:
        pair_text += (
            f" Over {part['partitions']} random partitions of the same seeds into {part['sets']} "
            f"sets of {part['set_size']}: {100 * part['mean_rows_agreeing']:.0f} % of rows agree "
            f"on average, {part['mean_flips']:.1f} confident flips, the target met in "
            f"{100 * part['p_target']:.0f} %, no reversal in {100 * part['p_no_reversal']:.0f} %."
        )
    lines = [
        f"Measured on {env['date'][:10]} by `benchmarks/replication/run.py` on {env['cpu']}, torch "
        f"{env['torch']}: models {', '.join(_display(m) for m in rep['models'])}, "
        f"{len(rep['sets'])} disjoint seed sets {', '.join(rep['sets'])}. **{agree} of {rows} "
        f"primary rows ({100 * agree / rows:.0f} %) have the same headline verdict in every set; "
        f"confident flips: {rep['confident_flips']}** (target: ≥ 90 %, 0).{pair_text}",
        "",
        "| claim | model | "
        + " | ".join(f"seeds {s}" for s in rep["sets"])
        + " | pooled: verdict | pooled: effect (points, or ratio ×) [95 % CI], "
        "seeds needed per group |",
        "|---|---|" + "---|" * (len(rep["sets"]) + 2),
    ]
    for r in rep["rows"]:
        sets = " | ".join(_verdict_finding(x) for x in r["sets"])
        p = r["pooled"]
        lines.append(
            f"| {r['claim']} | {_display(r['model'])} | {sets} | **{_verdict_finding(p)}** | "
            f"{p['effect']} |"
        )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "replication": block_replication,
    "powered": block_powered,
    "demo": block_demo,
    "paper-b-full": block_paper_b_full,
    "benchmarks": block_benchmarks,
    "gpu": block_gpu,
}
_PATTERN = re.compile(
    r"(<!-- numbers:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /numbers:(?P=name) -->)", re.S
)


def render(text: str) -> str:
    """``text`` with every numbers block regenerated from its committed source."""

    def repl(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise SystemExit(f"unknown numbers block {name!r}; known: {', '.join(BLOCKS)}")
        return m.group(1) + BLOCKS[name]().rstrip("\n") + "\n" + m.group(4)

    return _PATTERN.sub(repl, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="keep a reproduce run's results as docs/results/NAME.json")
    r.add_argument("run", type=Path)
    r.add_argument("name")
    sub.add_parser("render", help="rewrite the README's numbers blocks")
    sub.add_parser("check", help="exit 1 if the README's numbers blocks are not up to date")
    args = p.parse_args(argv)
    if args.cmd == "record":
        print(f"wrote {record(args.run, args.name)}")
        return 0
    text = README.read_text()
    new = render(text)
    if args.cmd == "check":
        if new != text:
            print("README numbers are stale: run python scripts/readme_numbers.py render")
            return 1
        return 0
    README.write_text(new)
    print("README numbers blocks rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
