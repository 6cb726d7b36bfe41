"""Paper B as a grid of tasks: the cells of :mod:`resode.ode.experiments` (one per depth and
initialisation of the depth sweep, the reference depth, one per initialisation of the
weights-against-layer experiment, one per seed of the long-time run, one per depth of the ReLU
counter-example, one per Table 1 network),
each a :mod:`resode.grid` task with its own folder; :func:`collect` combines the finished cells
with the experiments' own ``*_combine`` functions (fits, judged claims) and writes each
experiment's files (figures, JSON, CSV, Markdown) under ``paper_b/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.grid import Task, TaskOutcome
from resode.reproduce.config import ReproduceConfig


def _gd_common(cfg: ReproduceConfig) -> dict[str, Any]:
    pb = cfg.paper_b
    return {
        "d": pb.d,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "data_per_seed": True,
        "float64": pb.float64,
        "normalisation": "official",
        "activation": "gelu",
    }


def configs(cfg: ReproduceConfig) -> dict[str, Any]:
    """The experiment configs of paper B: ``depth_sweep`` (one per init), ``weights``,
    ``long_time``, ``relu`` and ``table1``."""
    from resode.ode.experiments import (
        CifarConfig,
        DepthSweepConfig,
        LongTimeConfig,
        ReluCounterexampleConfig,
        WeightsConfig,
    )

    pb, t1 = cfg.paper_b, cfg.table1
    out: dict[str, Any] = {}
    if pb.enabled:
        sweep = {
            **_gd_common(cfg),
            "n": pb.n,
            "m": pb.m,
            "iterations": pb.iterations,
            "depths": list(pb.depths),
            "reference_depth": pb.reference_depth,
            "seeds": pb.seeds,
            "lr": pb.lr,
            "ode_check": pb.ode_check,
            "snapshots": 2 if not pb.reference_depth else 6,
        }
        out["depth_sweep"] = {
            init: DepthSweepConfig.from_dict(
                {
                    **sweep,
                    "init": init,
                    **({"reference_depth": 0} if init == "iid" and not pb.reference_iid else {}),
                }
            )
            for init in pb.inits
        }
        out["weights"] = WeightsConfig.from_dict(
            {
                **_gd_common(cfg),
                "inits": list(pb.inits),
                "n": pb.n,
                "m": pb.m,
                "depth": pb.weights_depth,
                "iterations": pb.iterations,
                "lr": pb.lr,
                "seeds": pb.seeds,
            }
        )
        out["long_time"] = LongTimeConfig.from_dict(
            {
                **_gd_common(cfg),
                "n": pb.long_n,
                "m": pb.long_m,
                "depth": pb.long_depth,
                "iterations": pb.long_iterations,
                "lr": pb.long_lr,
                "seeds": pb.long_seeds,
                "snapshots": 8,
            }
        )
        if pb.relu:
            out["relu"] = ReluCounterexampleConfig.from_dict(
                {
                    "depths": list(pb.relu_depths),
                    "iterations": pb.relu_iterations,
                    "seeds": pb.seeds,
                    "seed": cfg.seed,
                }
            )
    if t1.enabled:
        over = {
            "activations": list(t1.activations),
            "inits": list(t1.inits),
            "seeds": t1.seeds,
            "seed": cfg.seed,
            "depth": t1.depth,
            "device": cfg.device,
            "dataset": t1.dataset,
            "data_root": t1.data_root,
            "epochs": t1.epochs,
            "train_subset": t1.train_subset,
            "test_subset": t1.test_subset,
            "image_size": t1.image_size,
            "threads": cfg.threads,
        }
        out["table1"] = CifarConfig.from_dict({k: v for k, v in over.items() if v is not None})
    return out


def gd_seconds(work: float) -> float:
    """Rough seconds of a GD cell from L·T·S·n·m (one thread, measured on the 2-core development
    machine: L = 1024, T = 500, 5 seeds, n = 100, m = 32 took ≈ 90 s); only orders the tasks."""
    return 1.1e-8 * work


def tasks(cfg: ReproduceConfig, root: Path) -> list[Task]:
    """Every cell of paper B as a task, the longest first (they start first)."""
    from resode.ode.experiments import (
        depth_sweep_cell,
        depth_sweep_reference_cell,
        long_time_cell,
        relu_cell,
        table1_cell,
        weights_cell,
    )
    from resode.ode.experiments.common import cell_as_task

    out: list[Task] = []
    cfgs = configs(cfg)

    def add(key: str, fn: Any, *args: Any, cost: float = 0.0) -> None:
        task = cell_as_task(fn, args)
        out.append(Task(key, task.fn, task.params, cfg.threads, key.split("/", 1)[1], cost))

    for init, dcfg in cfgs.get("depth_sweep", {}).items():
        size = dcfg.iterations * dcfg.seeds * dcfg.n * dcfg.m
        if dcfg.reference_depth:
            add(
                f"paper_b/depth_sweep_{init}/reference",
                depth_sweep_reference_cell,
                dcfg,
                cost=gd_seconds(dcfg.reference_depth * size),
            )
        for L in sorted(dcfg.sweep_depths(), reverse=True):
            add(
                f"paper_b/depth_sweep_{init}/L{L}",
                depth_sweep_cell,
                dcfg,
                L,
                cost=gd_seconds(L * size),
            )
    if "long_time" in cfgs:
        lcfg = cfgs["long_time"]
        for s in range(lcfg.seed, lcfg.seed + lcfg.seeds):
            add(
                f"paper_b/long_time/seed{s}",
                long_time_cell,
                lcfg,
                s,
                cost=gd_seconds(lcfg.depth * lcfg.iterations * lcfg.n * lcfg.m),
            )
    if "weights" in cfgs:
        w = cfgs["weights"]
        for init in w.inits:
            add(
                f"paper_b/weights/{init}",
                weights_cell,
                w,
                init,
                cost=gd_seconds(w.depth * w.iterations * w.seeds * w.n * w.m),
            )
    if "relu" in cfgs:
        rcfg = cfgs["relu"]
        for D in sorted(set(rcfg.depths), reverse=True):
            add(f"paper_b/relu/D{D}", relu_cell, rcfg, D, cost=2e-7 * D * rcfg.iterations)
    if "table1" in cfgs:
        ccfg = cfgs["table1"]
        for act in ccfg.activations:
            for init in ccfg.inits:
                for s in range(ccfg.seed, ccfg.seed + ccfg.seeds):
                    key = f"table1/{act}-{init}-seed{s}"
                    add(key, table1_cell, ccfg, act, init, s, root / key / "run")
    return out


@dataclass
class PaperBResult:
    """The combined experiments of paper B (each None when not run) and the failed cells."""

    depth_sweep: dict[str, Any] = field(default_factory=dict)
    weights: Any = None
    long_time: Any = None
    relu: Any = None
    table1: Any = None
    failed: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)

    def judgements(self) -> list[Any]:
        from resode.ode.experiments import slope_gap_judgement

        out = [j for r in self.depth_sweep.values() for j in r.judgements()]
        if "tied" in self.depth_sweep and "iid" in self.depth_sweep:
            gap = slope_gap_judgement(self.depth_sweep["tied"], self.depth_sweep["iid"])
            if gap is not None:
                out.append(gap)
        for r in (self.long_time, self.weights, self.relu, self.table1):
            if r is not None:
                out += r.judgements()
        return out


def _records(outcomes: dict[str, TaskOutcome], prefix: str, failed: dict[str, str]) -> list[Any]:
    from resode.ode.experiments.common import record_of

    recs = []
    for key, oc in outcomes.items():
        if key.startswith(prefix):
            if oc.ok:
                recs.append(record_of(oc))
            else:
                failed[key] = oc.error or "failed"
    return recs


def collect(
    cfg: ReproduceConfig, outcomes: dict[str, TaskOutcome], root: Path
) -> PaperBResult | None:
    """Combine every experiment whose cells all finished; name the failed cells."""
    from resode.ode.experiments import (
        ReferenceCell,
        depth_sweep_combine,
        long_time_combine,
        relu_combine,
        table1_combine,
        weights_combine,
    )
    from resode.ode.experiments.depth_sweep import write as write_depth_sweep
    from resode.ode.experiments.long_time import write as write_long_time
    from resode.ode.experiments.relu import write as write_relu
    from resode.ode.experiments.table1 import write as write_table1
    from resode.ode.experiments.weights import write as write_weights

    if not (cfg.paper_b.enabled or cfg.table1.enabled):
        return None
    cfgs, out = configs(cfg), PaperBResult()
    for init, dcfg in cfgs.get("depth_sweep", {}).items():
        recs = _records(outcomes, f"paper_b/depth_sweep_{init}/", out.failed)
        ref = next((r for r in recs if isinstance(r, ReferenceCell)), None)
        cells = [r for r in recs if not isinstance(r, ReferenceCell)]
        if len(cells) == len(dcfg.sweep_depths()) and (ref is not None or not dcfg.reference_depth):
            out.depth_sweep[init] = depth_sweep_combine(dcfg, cells, ref)
            _write(
                write_depth_sweep,
                out.depth_sweep[init],
                root / f"paper_b/depth_sweep_{init}",
                out,
                f"depth_sweep_{init}",
            )
    parts = (
        ("long_time", "paper_b/long_time/", long_time_combine, write_long_time),
        ("weights", "paper_b/weights/", weights_combine, write_weights),
        ("relu", "paper_b/relu/", relu_combine, write_relu),
        ("table1", "table1/", table1_combine, write_table1),
    )
    for name, prefix, combine, write in parts:
        if name not in cfgs:
            continue
        before = len(out.failed)
        cells = _records(outcomes, prefix, out.failed)
        if cells and len(out.failed) == before:
            setattr(out, name, combine(cfgs[name], cells))
            _write(write, getattr(out, name), root / prefix.rstrip("/"), out, name)
    return out


def _write(write: Any, result: Any, folder: Path, out: PaperBResult, name: str) -> None:
    """The experiment's own files; its PNG figures are kept for the report."""
    for p in write(result, folder):
        if Path(p).suffix == ".png":
            out.figures[f"{name}/{Path(p).stem}"] = Path(p)


__all__ = ["PaperBResult", "collect", "configs", "tasks"]
