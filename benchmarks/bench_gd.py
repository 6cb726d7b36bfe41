"""Benchmark: the paper-B GD loop (``resode.ode.train.train_gd``) against its frozen former self.

Workloads (official normalisation h + σ(h Wᵀ) Vᵀ / L, exact GELU, tied init, float32):

* ``long``  — the long-time run (Fig. 2): one seed, n = 50, d = q = d' = 16, m = 64, L = 64,
  lr = 5e-3 (residual rate L·lr), ``--iters-long`` iterations per round;
* ``sweep`` — the batched depth sweep (Fig. 1): 8 seeds, n = 100, d = 16, m = 32, L = 1024,
  lr = 1e-2, ``--iters-sweep`` iterations per round.

Implementations: ``reference`` (``_reference_gd.py``, the loop before the speed work, frozen),
``torch`` (``train_gd(backend="torch")``, the pure-PyTorch default) and ``numba``
(``backend="numba"``, the optional extra; skipped when numba is not installed). Each round runs
every implementation on the same freshly initialised model, one after another (interleaved
rounds, so a load change on a shared machine hits all of them). Two numbers per run: time per
iteration = time of the call / (T + 1) (``train_gd`` evaluates T + 1 states; its setup — buffer
allocation, first touch of ~0.35 GB at L = 1024 — and per-iteration record included), and the
marginal time per iteration = (t(T) − t(2))/(T − 2) from a second, 2-iteration call (the
steady-state cost that a long run, e.g. Fig. 1's T = 500, sees). Speedups are ratios of
medians over rounds, for wall-clock and for thread CPU time (the robust number on an
overloaded machine). Agreement: the loss histories and the final weights of each
implementation against the reference (relative max differences). numba's one-off compile
(or cache load) is timed separately, before the rounds. Usage::

    .venv/bin/python benchmarks/bench_gd.py [--workload long|sweep|all] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import resode  # noqa: F401  # isort: skip  (first: it pins the CPU kernels before torch starts)
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

WORKLOADS = {
    "long": dict(n=50, d=16, m=64, depth=64, seeds=None, lr=5e-3),
    "sweep": dict(n=100, d=16, m=32, depth=1024, seeds=8, lr=1e-2),
}
TARGETS = {"long": 3.0, "sweep": 2.0}
SHORT = 2  # iterations of the short run that the marginal cost per iteration subtracts


def _setup(w: dict, seed: int = 0):
    from resode.ode.init import initialize
    from resode.ode.scaled_resnet import ScaledResidualMLP

    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(w["n"], w["d"], generator=g), torch.randn(w["n"], w["d"], generator=g)
    model = ScaledResidualMLP(
        w["depth"], w["d"], w["m"], normalisation="official", n_seeds=w["seeds"]
    )
    initialize(model, "tied", seed=seed)
    return model, x, y


def _run(impl: str, w: dict, iters: int) -> dict:
    """One timed call of ``impl`` on a fresh model: times and results."""
    model, x, y = _setup(w)
    if impl == "reference":
        import _reference_gd

        def call():
            return _reference_gd.train_gd(model, x, y, iterations=iters, lr=w["lr"])
    else:
        from resode.ode.train import train_gd

        def call():
            return train_gd(model, x, y, iterations=iters, lr=w["lr"], backend=impl)

    wall0, cpu0 = time.perf_counter(), time.thread_time()
    res = call()
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return {
        "wall_ms": 1e3 * wall,
        "cpu_ms": 1e3 * cpu,
        "wall_ms_per_iter": 1e3 * wall / (iters + 1),
        "cpu_ms_per_iter": 1e3 * cpu / (iters + 1),
        "loss": res.history["loss"],
        "V": model.V.detach().clone(),
        "W": model.W.detach().clone(),
    }


def _rel(a, b) -> float:
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def bench(name: str, iters: int, rounds: int, impls: list[str]) -> dict:
    w = WORKLOADS[name]
    compile_s = None
    if "numba" in impls:  # compile (or load the on-disk cache) outside the timed rounds
        t0 = time.perf_counter()
        _run("numba", w, 1)
        compile_s = time.perf_counter() - t0
    for impl in impls:  # warm-up: allocator, caches
        _run(impl, w, 1)
    keys = ("wall", "cpu", "wall_marginal", "cpu_marginal")
    times: dict[str, dict[str, list[float]]] = {i: {k: [] for k in keys} for i in impls}
    last: dict[str, dict] = {}
    for _ in range(rounds):
        for impl in impls:
            short = _run(impl, w, SHORT)
            r = _run(impl, w, iters)
            times[impl]["wall"].append(r["wall_ms_per_iter"])
            times[impl]["cpu"].append(r["cpu_ms_per_iter"])
            for k in ("wall", "cpu"):  # one more iteration's cost: setup cancels
                marginal = (r[f"{k}_ms"] - short[f"{k}_ms"]) / (iters - SHORT)
                times[impl][f"{k}_marginal"].append(marginal)
            last[impl] = r
    ref = last["reference"]
    out: dict = {"workload": {**w, "iterations": iters}, "rounds": rounds, "impls": {}}
    med = {i: {k: statistics.median(v) for k, v in times[i].items()} for i in impls}
    for impl in impls:
        entry: dict = {f"median_{k}_ms_per_iter": med[impl][k] for k in keys}
        entry.update({f"speedup_{k}": med["reference"][k] / med[impl][k] for k in keys})
        entry.update({f"{k}_ms_per_iter": times[impl][k] for k in keys})
        entry.update(
            {
                "max_rel_diff_loss_history": _rel(last[impl]["loss"], ref["loss"]),
                "max_rel_diff_final_V": _rel(last[impl]["V"], ref["V"]),
                "max_rel_diff_final_W": _rel(last[impl]["W"], ref["W"]),
                "final_loss": last[impl]["loss"][-1].tolist(),
            }
        )
        out["impls"][impl] = entry
    out["numba_compile_or_cache_load_s"] = compile_s
    out["target_speedup"] = TARGETS[name]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=("long", "sweep", "all"), default="all")
    p.add_argument("--iters-long", type=int, default=300)
    p.add_argument("--iters-sweep", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tolerance", type=float, default=1e-4, help="max relative difference")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args()
    torch.set_num_threads(1)
    impls = ["reference", "torch"]
    if importlib.util.find_spec("numba") is not None:
        impls.append("numba")
    names = ["long", "sweep"] if args.workload == "all" else [args.workload]
    iters = {"long": args.iters_long, "sweep": args.iters_sweep}
    summary = {
        "benchmark": "bench_gd",
        "threads": 1,
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "torch": torch.__version__,
        "workloads": {},
    }
    ok = True
    for name in names:
        res = bench(name, iters[name], args.rounds, impls)
        summary["workloads"][name] = res
        w = res["workload"]
        print(
            f"== {name}: L={w['depth']} n={w['n']} d={w['d']} m={w['m']} seeds={w['seeds']} "
            f"T={w['iterations']} rounds={res['rounds']} (target >= {res['target_speedup']:g}x)"
        )
        print(
            f"{'impl':<10}{'wall ms/it':>11}{'cpu ms/it':>10}{'x wall':>8}{'x cpu':>7}"
            f"{'marg. wall':>11}{'marg. cpu':>10}{'x wall':>8}{'x cpu':>7}"
            f"{'loss diff':>10}{'V diff':>9}{'W diff':>9}"
        )
        for impl, e in res["impls"].items():
            print(
                f"{impl:<10}{e['median_wall_ms_per_iter']:>11.2f}{e['median_cpu_ms_per_iter']:>10.2f}"
                f"{e['speedup_wall']:>8.2f}{e['speedup_cpu']:>7.2f}"
                f"{e['median_wall_marginal_ms_per_iter']:>11.2f}"
                f"{e['median_cpu_marginal_ms_per_iter']:>10.2f}"
                f"{e['speedup_wall_marginal']:>8.2f}{e['speedup_cpu_marginal']:>7.2f}"
                f"{e['max_rel_diff_loss_history']:>10.1e}{e['max_rel_diff_final_V']:>9.1e}"
                f"{e['max_rel_diff_final_W']:>9.1e}"
            )
            worst = max(e[k] for k in e if k.startswith("max_rel_diff"))
            ok &= worst <= args.tolerance
        if res["numba_compile_or_cache_load_s"] is not None:
            print(f"numba compile / cache load: {res['numba_compile_or_cache_load_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if not ok:
        print(f"ERROR: an implementation differs from the reference by > {args.tolerance:g}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
