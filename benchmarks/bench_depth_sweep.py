"""Benchmark: the paper-B depth-sweep workload, stacked/batched GD vs a per-layer autograd loop.

Workload (Fig. 1 of Marion et al. 2024, official normalisation): L = 1024, n = 100, d = q = 16,
m = 32, GELU, tied init (V = 0, W_k = W), full-batch GD with rate L·1e-2, ``--seeds`` seeds,
``--steps`` steps. The baseline is the straightforward implementation: one ``nn.Parameter`` per
layer, h ← h + gelu(h W_k) V_k / L in a Python loop, ``loss.backward()``, ``torch.optim.SGD``,
one seed after another. The candidate is :func:`resode.ode.train.train_gd` (hand-written adjoint
over stacked weights, all seeds in one batched matmul, plus its per-iteration record; ``--backend``
picks its GD backend). ``bench_gd.py`` compares train_gd with its own former version.

Each implementation runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own;
the runs alternate ``--repeats`` times and the best is kept. Time is measured both as wall clock
and as process CPU time (``time.process_time``): on a shared, overloaded machine the CPU time is
the robust number (with ``--threads 1`` it is the work done), the wall clock the honest one.
The two must agree on the final losses (checked; float32 tolerance). Prints a table and writes
JSON with ``--json``. Usage::

    .venv/bin/python benchmarks/bench_depth_sweep.py --depth 1024 --seeds 8 --steps 5
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _data(n: int, d: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def _tied_w(seed: int, m: int, d: int):
    """The same per-seed W draw as resode.ode.init.initialize(scheme="tied")."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn((m, d), generator=g, dtype=torch.float64).float()  # stored as W_k (m, q)


def run_baseline(args: argparse.Namespace) -> dict:
    import torch
    from torch import nn

    x, y = _data(args.n, args.d)
    L = args.depth
    losses, seconds, cpu = [], 0.0, 0.0
    for s in range(args.seeds):
        w0 = _tied_w(args.seed + s, args.m, args.d).t().contiguous()  # row convention (d, m)
        Ws = [nn.Parameter(w0.clone()) for _ in range(L)]
        Vs = [nn.Parameter(torch.zeros(args.m, args.d)) for _ in range(L)]
        opt = torch.optim.SGD([*Ws, *Vs], lr=L * args.lr)
        start, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            opt.zero_grad()
            h = x
            for W_i, V_i in zip(Ws, Vs):
                h = h + torch.nn.functional.gelu(h.mm(W_i)).mm(V_i) / L
            loss = ((h - y) ** 2).mean()
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - start
        cpu += time.process_time() - cpu0
        with torch.no_grad():
            h = x
            for W_i, V_i in zip(Ws, Vs):
                h = h + torch.nn.functional.gelu(h.mm(W_i)).mm(V_i) / L
            losses.append(float(((h - y) ** 2).mean()))
    return {"seconds": seconds, "cpu_seconds": cpu, "final_loss": losses}


def run_stacked(args: argparse.Namespace) -> dict:
    from resode.ode.init import initialize
    from resode.ode.scaled_resnet import ScaledResidualMLP
    from resode.ode.train import train_gd

    x, y = _data(args.n, args.d)
    # warm-up on a small model: loads (or compiles) the numba kernels, a once-per-process cost
    small = ScaledResidualMLP(2, args.d, args.m, normalisation="official", n_seeds=args.seeds)
    for size in (args.n, 1):  # both numba paths (fused for small layers, hybrid otherwise)
        train_gd(small, x[:size], y[:size], iterations=0, lr=args.lr, backend=args.backend)
    model = ScaledResidualMLP(
        args.depth, args.d, args.m, normalisation="official", n_seeds=args.seeds
    )
    initialize(model, "tied", seed=args.seed)
    start, cpu0 = time.perf_counter(), time.process_time()
    # T updates; train_gd also evaluates (and records) the state after the last update, i.e. it
    # does T + 1 forward/backward passes to the baseline's T (+1 forward): timing is conservative
    res = train_gd(
        model, x, y, iterations=args.steps, lr=args.lr, threads=args.threads, backend=args.backend
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    final = res.history["loss"][-1].tolist()
    return {"seconds": seconds, "cpu_seconds": cpu, "final_loss": final}


def _child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    out = run_baseline(args) if args.impl == "baseline" else run_stacked(args)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(out))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=1024)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--m", type=int, default=32)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-2, help="base rate (residual rate L x lr)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads in each run")
    p.add_argument("--repeats", type=int, default=2, help="alternating runs; the best is kept")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "numba"),
                   help="train_gd backend of the stacked run")  # fmt: skip
    p.add_argument("--impl", choices=("baseline", "stacked"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args()
    if args.impl is not None:
        _child(args)
        return 0
    runs: dict[str, list[dict]] = {"baseline": [], "stacked": []}
    for _ in range(args.repeats):
        for impl in ("baseline", "stacked"):
            cmd = [sys.executable, __file__, "--impl", impl]
            for k in ("depth", "n", "d", "m", "seeds", "steps", "lr", "seed", "threads", "backend"):
                cmd += [f"--{k}", str(getattr(args, k))]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            runs[impl].append(json.loads(line[len("RESULT ") :]))
    seed_steps = args.seeds * args.steps
    results = {}
    for impl, rs in runs.items():
        results[impl] = {
            "ms_per_seed_step_wall": min(1e3 * r["seconds"] / seed_steps for r in rs),
            "ms_per_seed_step_cpu": min(1e3 * r["cpu_seconds"] / seed_steps for r in rs),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
            "final_loss": rs[0]["final_loss"],
            "runs": rs,
        }
    base, fast = results["baseline"], results["stacked"]
    diff = max(abs(a - b) for a, b in zip(base["final_loss"], fast["final_loss"]))
    speed_wall = base["ms_per_seed_step_wall"] / fast["ms_per_seed_step_wall"]
    speed_cpu = base["ms_per_seed_step_cpu"] / fast["ms_per_seed_step_cpu"]
    summary = {
        "workload": {k: getattr(args, k) for k in ("depth", "n", "d", "m", "seeds", "steps")},
        "threads": args.threads,
        "repeats": args.repeats,
        "results": results,
        "speedup_per_seed_step_wall": speed_wall,
        "speedup_per_seed_step_cpu": speed_cpu,
        "max_final_loss_difference": diff,
    }
    print(
        f"workload: L={args.depth} n={args.n} d={args.d} m={args.m} seeds={args.seeds} "
        f"steps={args.steps} threads={args.threads} (best of {args.repeats})"
    )
    head = f"{'implementation':<16}{'wall ms/seed-step':>19}{'CPU ms/seed-step':>18}"
    print(f"{head}{'peak RSS MiB':>14}")
    for impl, r in results.items():
        print(
            f"{impl:<16}{r['ms_per_seed_step_wall']:>19.2f}{r['ms_per_seed_step_cpu']:>18.2f}"
            f"{r['peak_rss_mib']:>14.1f}"
        )
    print(
        f"speedup per seed-step: wall {speed_wall:.2f}x, CPU {speed_cpu:.2f}x (target >= 5x); "
        f"max |final loss difference| = {diff:.2e}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)
    if diff > 1e-4 * max(1.0, max(base["final_loss"])):
        print("ERROR: the two implementations disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
