"""Seed-runs per CPU-minute of the default paper-A cell: seed-batched against one run per seed.

    .venv/bin/python benchmarks/bench_seed_batch.py [--seeds 4] [--model inresnet20] [--json F]

Both modes run in this one process on one thread, with the default preset's settings (8×8
digits, 20 epochs, batch 128, noise, FGSM/IFGSM/PGD-20, masking checks, stability and
landscape): one run per seed is ``paper_a.run_cell`` for every seed; batched is
``paper_a.run_cell_group`` (training as one seed-stacked network, evaluation per seed). CPU time
is ``time.process_time``. Also measured: one SGD step of the seeds for the stacking
candidates (separate models, channel stacking with grouped convolutions, ``torch.func.vmap``).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import resode  # noqa: E402, F401  # isort: skip  (first: it pins the CPU kernels before torch starts)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from resode.reproduce.runs import RunResult  # noqa: E402


def _cpu(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def candidates(model: str, seeds: int, steps: int = 6) -> dict[str, float]:
    """CPU ms of one SGD step (forward + backward) of ``seeds`` models at batch 128 on 8×8."""
    from torch.func import functional_call, stack_module_state, vmap

    from resode.nn.seed_stack import SeedStack
    from resode.registry import create_model

    kw = {"num_classes": 10, "in_channels": 1, "image_size": 8, "mean": [0.3], "std": [0.3]}
    models = []
    for s in range(seeds):
        torch.manual_seed(s)
        models.append(create_model(model, **kw))
    stack = SeedStack(copy.deepcopy(models))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(seeds, 128, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (seeds, 128), generator=g)
    for m in models:
        m.to(memory_format=torch.channels_last)

    def separate() -> None:
        for i, m in enumerate(models):
            xi = x[i].contiguous(memory_format=torch.channels_last)
            F.cross_entropy(m(xi), y[i]).backward()

    def stacked(cl: bool) -> None:
        xs = stack.stack_inputs(x)
        if cl:
            xs = xs.contiguous(memory_format=torch.channels_last)
        out = stack(xs)
        sum(F.cross_entropy(out[:, j], y[j]) for j in range(seeds)).backward()

    params, buffers = stack_module_state(copy.deepcopy(models))
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p: Any, b: Any, xx: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (xx,)), yy)

    def vmapped() -> None:
        vmap(loss)(params, buffers, x, y).sum().backward()

    def ms(fn: Any) -> float:
        fn()
        t0 = time.process_time()
        for _ in range(steps):
            fn()
        return 1e3 * (time.process_time() - t0) / steps

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # functorch's "no batching rule" performance warnings
        return {
            "separate_models": ms(separate),
            "stacked_grouped_channels_last": ms(lambda: stacked(True)),
            "stacked_grouped_contiguous": ms(lambda: stacked(False)),
            "vmap_stack_module_state": ms(vmapped),
        }


def _phases(results: list[RunResult]) -> dict[str, float]:
    """Wall seconds per phase, summed over the seeds' results."""
    out = {"train": 0.0, "noise": 0.0, "attacks": 0.0}
    for r in results:
        out["train"] += r.train.seconds
        out["noise"] += r.robustness.seconds.noise
        out["attacks"] += r.robustness.seconds.attacks
    return out


class _Profile:
    """CPU seconds spent in paper_a's evaluation, checks and analyses (training: the rest)."""

    PARTS = ("_evaluate", "_checks", "_stability", "_landscape")

    def __init__(self) -> None:
        self.cpu = dict.fromkeys(self.PARTS, 0.0)

    def __enter__(self) -> _Profile:
        from resode.reproduce import paper_a

        self.saved = {n: getattr(paper_a, n) for n in self.PARTS}
        for name, fn in self.saved.items():

            def timed(*a: Any, _fn: Any = fn, _name: str = name, **k: Any) -> Any:
                t0 = time.process_time()
                try:
                    return _fn(*a, **k)
                finally:
                    self.cpu[_name] += time.process_time() - t0

            setattr(paper_a, name, timed)
        return self

    def __exit__(self, *exc: Any) -> None:
        from resode.reproduce import paper_a

        for name, fn in self.saved.items():
            setattr(paper_a, name, fn)

    def split(self, total: float) -> dict[str, float]:
        names = {"_evaluate": "noise+attacks", "_checks": "masking checks"}
        out = {names.get(k, k.strip("_")): v for k, v in self.cpu.items()}
        return {"training": total - sum(self.cpu.values()), **out}


def cell(model: str, seeds: list[int], epochs: int | None) -> dict[str, Any]:
    """CPU seconds of the default cell for ``seeds``: one run per seed, then batched."""
    from resode.presets import get_preset
    from resode.reproduce import paper_a

    over: dict[str, Any] = {"models": [model], "seeds": seeds}
    if epochs is not None:
        over["training"] = {"epochs": epochs}
    kw = {"device": "cpu", "threads": 1}
    one = get_preset("default", kind="reproduce", paper_a=over, **kw)
    grouped = get_preset(
        "default", kind="reproduce", paper_a={**over, "seed_batch": len(seeds)}, **kw
    )
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        single_cpu, single = 0.0, []
        with _Profile() as p_single:
            for t in paper_a.tasks(one):
                c, res = _cpu(paper_a.run_cell, dict(t.params), root / t.key)
                single_cpu += c
                single.append(res)
        (t,) = paper_a.tasks(grouped)
        with _Profile() as p_batch:
            batch_cpu, res = _cpu(paper_a.run_cell_group, dict(t.params), root / t.key)
    batched = res.runs
    return {
        "model": model,
        "seeds": seeds,
        "epochs": one.paper_a.training.epochs,
        "one_run_per_seed_cpu_s": single_cpu,
        "batched_cpu_s": batch_cpu,
        "seed_runs_per_cpu_minute": {
            "one_run_per_seed": 60 * len(seeds) / single_cpu,
            "batched": 60 * len(seeds) / batch_cpu,
        },
        "ratio": single_cpu / batch_cpu,
        "wall_phases_s": {"one_run_per_seed": _phases(single), "batched": _phases(batched)},
        "cpu_phases_s": {
            "one_run_per_seed": p_single.split(single_cpu),
            "batched": p_batch.split(batch_cpu),
        },
        "clean_accuracy_per_seed": {
            "one_run_per_seed": [r.robustness.clean for r in single],
            "batched": [r.robustness.clean for r in batched],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds of the cell (default 4)")
    parser.add_argument("--model", default="inresnet20")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's 20")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cand = candidates(args.model, args.seeds)
    print(f"one SGD step of {args.seeds} seeds (CPU ms, 1 thread):")
    for k, v in cand.items():
        print(f"  {k:32s} {v:8.1f}  ({cand['separate_models'] / v:.2f}× separate models)")
    res = cell(args.model, list(range(args.seeds)), args.epochs)
    res["step_candidates_ms"] = cand
    print(
        f"default cell, {args.model}, {args.seeds} seeds: one run per seed "
        f"{res['one_run_per_seed_cpu_s']:.1f} CPU s, batched {res['batched_cpu_s']:.1f} CPU s "
        f"→ {res['ratio']:.2f}× seed-runs per CPU-minute "
        f"({res['seed_runs_per_cpu_minute']['one_run_per_seed']:.2f} → "
        f"{res['seed_runs_per_cpu_minute']['batched']:.2f})"
    )
    for mode, ph in res["cpu_phases_s"].items():
        print(f"  {mode:18s} CPU " + "  ".join(f"{k} {v:.1f}s" for k, v in ph.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
