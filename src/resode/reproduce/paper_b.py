"""Paper B as a grid of tasks: the depth sweep per initialisation (Fig. 1), trained weights against
layer per initialisation, the long-time run (Fig. 2), and the Table 1 cells on CIFAR-10.

Every task calls :mod:`resode.ode.experiments` in its own folder with a fixed thread count
(:mod:`resode.grid`); :func:`collect` gathers their JSON results into a :class:`PaperBResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.grid import Task, TaskOutcome
from resode.reproduce.config import ReproduceConfig

_FN = "resode.reproduce.paper_b:"


def _common(cfg: ReproduceConfig) -> dict[str, Any]:
    pb = cfg.paper_b
    return {
        "n": pb.n,
        "d": pb.d,
        "m": pb.m,
        "data_seed": cfg.seed,
        "float64": pb.float64,
        "normalisation": "official",
        "activation": "gelu",
    }


def tasks(cfg: ReproduceConfig) -> list[Task]:
    """Depth sweep and weights per init, and the long-time run."""
    pb = cfg.paper_b
    if not pb.enabled:
        return []
    out = []
    for init in pb.inits:
        sweep = {
            **_common(cfg),
            "iterations": pb.iterations,
            "depths": list(pb.depths),
            "reference_depth": pb.reference_depth,
            "seeds": pb.seeds,
            "seed": cfg.seed,
            "lr": pb.lr,
            "init": init,
            "ode_check": pb.ode_check,
            "snapshots": 2 if not pb.reference_depth else 6,
        }
        out.append(
            Task(
                f"paper_b/depth_sweep_{init}",
                _FN + "run_depth_sweep",
                {"config": sweep},
                cfg.threads,
                f"depth sweep ({init})",
            )
        )
        weights = {
            "init": init,
            "depth": pb.weights_depth,
            "iterations": pb.iterations,
            "lr": pb.lr,
            "seed": cfg.seed,
            **_common(cfg),
        }
        out.append(
            Task(
                f"paper_b/weights_{init}",
                _FN + "run_weights",
                weights,
                cfg.threads,
                f"weights ({init})",
            )
        )
    long = {
        "n": pb.long_n,
        "d": pb.d,
        "m": pb.long_m,
        "depth": pb.long_depth,
        "iterations": pb.long_iterations,
        "lr": pb.long_lr,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "float64": pb.float64,
        "snapshots": 8,
    }
    out.append(
        Task("paper_b/long_time", _FN + "run_long_time", {"config": long}, cfg.threads, "long time")
    )
    return out


def table1_tasks(cfg: ReproduceConfig) -> list[Task]:
    """The Table 1 grid (one task; :func:`resode.ode.experiments.cifar_grid`)."""
    t1 = cfg.table1
    if not t1.enabled:
        return []
    over: dict[str, Any] = {
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
    }
    params = {"config": {k: v for k, v in over.items() if v is not None}}
    return [Task("table1/grid", _FN + "run_table1", params, cfg.threads, "Table 1")]


# --------------------------------------------------------------------------------------------
# running one task (in a worker process)


def run_depth_sweep(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fig. 1 for one initialisation."""
    from resode.ode.experiments import DepthSweepConfig, depth_sweep

    dcfg = DepthSweepConfig.from_dict(params["config"])
    summ = depth_sweep(dcfg, folder, progress=False)
    depths = sorted(set(dcfg.depths))
    runs = summ["runs"]
    return {
        "init": dcfg.init,
        "depths": depths,
        "max_dz": [runs[str(L)]["max_dz_final_T"] for L in depths],
        "L_max_dz": [runs[str(L)]["L_max_dz_final_T"] for L in depths],
        "final_loss": [runs[str(L)]["loss_final"] for L in depths],
        "fit": summ["slope_fit_T"],
        "smoothness_verdict": summ["verdict"],
        "config": dcfg.to_dict(),
    }


def run_weights(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One network of ``depth`` layers trained for ``iterations``: entry (0, 0) of W_k at init and
    after training, and of V_k after training, against k."""
    import torch

    from resode import data
    from resode.ode.init import initialize
    from resode.ode.scaled_resnet import ScaledResidualMLP
    from resode.ode.train import train_gd

    dtype = torch.float64 if params["float64"] else torch.float32
    reg = data.load(
        "synthetic", n=params["n"], d=params["d"], seed=params["data_seed"], dtype=dtype
    )
    model = ScaledResidualMLP(
        params["depth"], params["d"], params["m"], normalisation="official", dtype=dtype
    )
    initialize(model, params["init"], seed=params["seed"])
    W0 = model.W.detach()[:, 0, 0].tolist()
    train_gd(model, reg.x, reg.y, iterations=params["iterations"], lr=params["lr"])
    return {
        "init": params["init"],
        "depth": params["depth"],
        "iterations": params["iterations"],
        "W_init": W0,
        "V": model.V.detach()[:, 0, 0].tolist(),
        "W": model.W.detach()[:, 0, 0].tolist(),
    }


def run_long_time(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fig. 2: the long-time run with its loss curve."""
    import csv

    from resode.ode.experiments import LongTimeConfig, long_time

    lcfg = LongTimeConfig.from_dict(params["config"])
    summ = long_time(lcfg, folder, progress=False)
    with open(folder / "long_time.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["seed"]) == lcfg.seed]
    return {
        "iterations": lcfg.iterations,
        "depth": lcfg.depth,
        "n": lcfg.n,
        "m": lcfg.m,
        "lr": lcfg.lr,
        "iteration": [int(r["iteration"]) for r in rows],
        "loss": [float(r["loss"]) for r in rows],
        "pl_ratio_min": summ["pl_ratio_min"][0],
        "L_max_dz_max": summ["L_max_dz_max_over_time"][0],
        "lag_smoothness": summ["lag_smoothness_seed0"],
        "config": lcfg.to_dict(),
        "figure": "fig2.png",
    }


def run_table1(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Table 1 through :func:`resode.ode.experiments.cifar_grid`."""
    from resode.ode.experiments import CifarConfig, cifar_grid

    ccfg = CifarConfig.from_dict(params["config"])
    summ = cifar_grid(ccfg, folder, progress=False)
    rows = [
        {
            "activation": c["activation"],
            "init": c["init"],
            "seed": c["seed"],
            "train_acc": c["train_acc"],
            "test_acc": c["test_acc"],
            "mean_dz": c["smoothness"]["mean_dz"],
        }
        for c in summ["cells"]
    ]
    return {"rows": rows, "config": ccfg.to_dict()}


# --------------------------------------------------------------------------------------------
# collecting the results


@dataclass
class PaperBResult:
    """Depth sweeps and weights per init, the long-time run, Table 1, and failed cells."""

    sweep: dict[str, dict[str, Any]] = field(default_factory=dict)
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)
    long_time: dict[str, Any] | None = None
    table1: dict[str, Any] | None = None
    failed: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None


def collect(
    cfg: ReproduceConfig, outcomes: dict[str, TaskOutcome], root: Path
) -> PaperBResult | None:
    if not (cfg.paper_b.enabled or cfg.table1.enabled):
        return None
    out = PaperBResult(folder=root)
    for key, oc in outcomes.items():
        if not key.startswith(("paper_b/", "table1/")):
            continue
        if not oc.ok:
            out.failed[key] = oc.error or "failed"
            continue
        res = oc.result or {}
        name = key.split("/", 1)[1]
        if name.startswith("depth_sweep_"):
            out.sweep[res["init"]] = res
        elif name.startswith("weights_"):
            out.weights[res["init"]] = res
        elif name == "long_time":
            out.long_time = {**res, "figure": root / key / res["figure"]}
        elif key.startswith("table1/"):
            out.table1 = res
    order = {init: i for i, init in enumerate(cfg.paper_b.inits)}
    out.sweep = dict(sorted(out.sweep.items(), key=lambda kv: order.get(kv[0], 9)))
    out.weights = dict(sorted(out.weights.items(), key=lambda kv: order.get(kv[0], 9)))
    return out


__all__ = ["PaperBResult", "collect", "run_depth_sweep", "run_long_time", "run_weights", "tasks"]
