"""Table 1 of paper B: the activation × init grid of the scaled conv net on CIFAR-10 (or a smaller
stand-in), accuracies and the smoothness of the trained residual weights.

Per cell (activation, init) over seeds: medians and interquartile ranges of the train and test
accuracy, of the layer average mean_k‖W_{k+1} − W_k‖_F (W = conv1, the paper's appendix number)
and of mean_k‖Z_{k+1} − Z_k‖_F (Z = (conv1, conv2)), next to the paper's numbers
(:data:`PAPER_TABLE1`, CIFAR-10, L = 256, 180 epochs, median of 5).

Claim (:data:`SMOOTHER_CLAIM`, per activation, through :mod:`resode.verdicts`): tied-init weights
are smoother than i.i.d. ones after training (the appendix: about 10× smaller layer-averaged
‖W_{k+1} − W_k‖_F). Judged on the ratio mean‖ΔW‖_tied / mean‖ΔW‖_iid on the log scale (Welch t on
the logs over seeds), direction "less" with margin 2× (at least twice as smooth). One seed per cell
gives "inconclusive" by construction: the paper uses 5.

Cells: :func:`table1_cell` (one activation, init and seed: trains through resode.training with
resume); :func:`table1_combine`; :func:`write`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import Config, option
from resode.errors import ResodeError
from resode.ode.experiments.common import Call, Record, run_cells

if TYPE_CHECKING:
    from resode.verdicts import Judgement

# (activation, init) -> (train acc %, test acc %, smooth trained weights) of papers.md Table 1
PAPER_TABLE1: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("identity", "tied"): (56.5, 59.8, True),
    ("identity", "iid"): (56.1, 59.6, False),
    ("gelu", "tied"): (80.5, 79.9, True),
    ("gelu", "iid"): (89.8, 85.7, False),
    ("relu", "tied"): (97.4, 88.1, False),
    ("relu", "iid"): (98.4, 88.4, False),
}
PAPER_SMOOTHNESS_RATIO = 10.0  # appendix: tied about an order of magnitude smoother than iid

SMOOTHER_CLAIM: dict[str, Any] = {
    "text": "Tied-init weights are smoother than i.i.d. ones after training: layer-averaged "
    "‖W_{k+1} − W_k‖_F tied / iid ≤ 1/2 (the appendix reports about 1/10)",
    "direction": "less",
    "margin": 2.0,
    "reference": 0.0,
    "scale": "log",
    "unit": "×",
}

_TRAIN_OVERRIDES = (
    "dataset",
    "epochs",
    "train_subset",
    "test_subset",
    "image_size",
    "data_root",
    "augment",
    "lr",
    "threads",
)


@dataclass
class CifarConfig(Config):
    """Table 1: activation × init grid of the scaled conv net, smoothness of trained weights."""

    activations: list[str] = option(["identity", "gelu", "relu"], "activations of the grid")
    inits: list[str] = option(["tied", "iid"], "initialisations of the grid")
    depth: int = option(256, "number of residual blocks L", min=4)
    train_preset: str = option("cifar10-table1", "training preset (resode.training)")
    dataset: str | None = option(None, "override the preset's data set")
    epochs: int | None = option(None, "override the preset's epochs", min=1)
    train_subset: int | None = option(None, "use only N training images", min=1)
    test_subset: int | None = option(None, "use only N test images", min=1)
    image_size: int | None = option(None, "resize images", min=4)
    data_root: str | None = option(None, "data folder")
    augment: bool | None = option(None, "override the preset's crop+flip augmentation")
    lr: float | None = option(None, "override the preset's learning rate", min=0.0)
    seeds: int = option(1, "runs per cell (the paper reports the median of 5)", min=1)
    seed: int = option(0, "first seed", min=0)
    device: str = option("auto", "device for training")
    threads: int | None = option(
        1, "CPU threads of each training run (parallelism comes from worker processes)", min=1
    )


@dataclass
class Table1Cell(Record):
    """One trained network: final accuracies (fractions), the per-epoch history and
    :func:`resode.ode.measures.conv_smoothness` of its blocks."""

    activation: str
    init: str
    seed: int
    train_acc: float | None
    test_acc: float | None
    history: list[dict[str, Any]]
    smoothness: dict[str, Any]
    run_dir: str


@dataclass
class Table1Result(Record):
    """``groups``: one row per (activation, init) with medians, IQRs and the paper's numbers;
    ``ratios``: per activation, median mean‖ΔW‖ tied / iid; ``judged``: per activation."""

    config: CifarConfig
    cells: list[Table1Cell]
    groups: list[dict[str, Any]]
    ratios: dict[str, float]
    judged: list[Judgement]

    def judgements(self) -> list[Judgement]:
        return list(self.judged)


def table1_cell(
    config: CifarConfig,
    activation: str,
    init: str,
    seed: int,
    run_dir: str | Path,
    *,
    progress: bool = False,
) -> Table1Cell:
    """Train one network with resode.training (resuming a finished run in ``run_dir``)."""
    from resode.ode.measures import conv_smoothness

    try:
        from resode.training import get_preset, train
    except ImportError as exc:  # pragma: no cover
        raise ResodeError("resode.training is not available; install the full package") from exc
    overrides: dict[str, Any] = {
        "model": "scaled_convnet",
        "model_kwargs": {"depth": config.depth, "activation": activation, "init": init},
        "seed": seed,
        "device": config.device,
    }
    for key in _TRAIN_OVERRIDES:
        if getattr(config, key) is not None:
            overrides[key] = getattr(config, key)
    tc = get_preset(config.train_preset, **overrides)
    res = train(tc, Path(run_dir), resume=True, progress=progress)
    last = res.history[-1]
    return Table1Cell(
        activation,
        init,
        seed,
        last.get("train_acc"),
        last.get("test_acc"),
        [dict(row) for row in res.history],
        conv_smoothness(res.model),
        str(run_dir),
    )


def _median_iqr(values: Sequence[float]) -> tuple[float, float, float]:
    q25, q50, q75 = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
    return float(q50), float(q25), float(q75)


def _group_row(act: str, init: str, cells: list[Table1Cell]) -> dict[str, Any]:
    row: dict[str, Any] = {"activation": act, "init": init, "seeds": len(cells)}
    for key, values in (
        ("train_acc", [100 * c.train_acc for c in cells if c.train_acc is not None]),
        ("test_acc", [100 * c.test_acc for c in cells if c.test_acc is not None]),
        ("mean_dw", [c.smoothness["mean_dw"] for c in cells]),
        ("mean_dz", [c.smoothness["mean_dz"] for c in cells]),
    ):
        med, lo, hi = _median_iqr(values) if values else (None, None, None)
        row.update({f"{key}_median": med, f"{key}_q25": lo, f"{key}_q75": hi})
    paper = PAPER_TABLE1.get((act, init))
    row["paper_train_acc"], row["paper_test_acc"], row["paper_smooth"] = paper or (None,) * 3
    return row


def table1_combine(config: CifarConfig, cells: Sequence[Table1Cell]) -> Table1Result:
    """Medians and IQRs per (activation, init); tied/iid smoothness ratio and its verdict."""
    from resode.verdicts import Claim, judge

    groups, ratios, judgements = [], {}, []
    for act in config.activations:
        by_init = {
            i: [c for c in cells if c.activation == act and c.init == i] for i in config.inits
        }
        groups += [_group_row(act, i, cs) for i, cs in by_init.items() if cs]
        tied, iid = by_init.get("tied"), by_init.get("iid")
        if not tied or not iid:
            continue
        t = [c.smoothness["mean_dw"] for c in tied]
        b = [c.smoothness["mean_dw"] for c in iid]
        ratios[act] = float(np.median(t) / np.median(b))
        claim = Claim(name=f"table1_tied_smoother_{act}", **SMOOTHER_CLAIM)
        judgements.append(judge(claim, t, b))
    return Table1Result(config, list(cells), groups, ratios, judgements)


def _fmt(row: dict[str, Any], key: str, digits: int = 1) -> str:
    med = row[f"{key}_median"]
    if med is None:
        return "—"
    return f"{med:.{digits}g} [{row[f'{key}_q25']:.{digits}g}, {row[f'{key}_q75']:.{digits}g}]"


def write(result: Table1Result, out_dir: str | Path) -> list[Path]:
    """cifar_smoothness.png, cifar.{json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json

    out = Path(out_dir)
    cfg = result.config
    paths = plots.plot_table1(result, out)
    summary = {
        "experiment": "cifar",
        "config": cfg.to_dict(),
        "groups": result.groups,
        "ratios_tied_over_iid": result.ratios,
        "paper_ratio_iid_over_tied": PAPER_SMOOTHNESS_RATIO,
        "judgements": [j.to_dict() for j in result.judgements()],
        "cells": [{k: v for k, v in c.to_dict().items() if k != "history"} for c in result.cells],
    }
    paths.append(write_json(out / "cifar.json", summary))
    paths.append(
        write_csv(
            out / "cifar.csv",
            [
                {
                    "activation": c.activation,
                    "init": c.init,
                    "seed": c.seed,
                    "train_acc": c.train_acc,
                    "test_acc": c.test_acc,
                    **{k: v for k, v in c.smoothness.items() if k != "lag"},
                    "lag_label": c.smoothness["lag"]["label"],
                }
                for c in result.cells
            ],
        )
    )
    rep = Report("Table 1 grid (paper B)", out)
    over = {k: getattr(cfg, k) for k in ("dataset", "epochs", "train_subset") if getattr(cfg, k)}
    rep.paragraph(f"preset {cfg.train_preset}, depth {cfg.depth}, overrides {over}.")
    rep.table(
        [
            {
                "activation": g["activation"],
                "init": g["init"],
                "seeds": g["seeds"],
                "train % median [IQR]": _fmt(g, "train_acc", 3),
                "test % median [IQR]": _fmt(g, "test_acc", 3),
                "paper train / test %": "—"
                if g["paper_train_acc"] is None
                else f"{g['paper_train_acc']} / {g['paper_test_acc']}",
                "mean‖ΔW‖ median [IQR]": _fmt(g, "mean_dw", 3),
                "mean‖ΔZ‖ median [IQR]": _fmt(g, "mean_dz", 3),
                "paper: smooth?": g["paper_smooth"],
            }
            for g in result.groups
        ]
    )
    for j in result.judgements():
        act = j.claim.removeprefix("table1_tied_smoother_")
        rep.claim(f"{act}: {SMOOTHER_CLAIM['text']}", j.verdict, j.reason)
    rep.paragraph(
        "Median ratios mean‖ΔW‖ tied / iid: "
        + ", ".join(f"{a} {r:.3g}" for a, r in result.ratios.items())
        + f" (paper appendix: about 1/{PAPER_SMOOTHNESS_RATIO:g})."
    )
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("cifar"))
    return paths


def cifar_grid(
    config: CifarConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> Table1Result:
    """Train every (activation, init, seed) cell into ``out_dir/<act>-<init>-seed<s>``, combine,
    write."""
    out = Path(out_dir)
    calls: list[Call] = [
        (table1_cell, (config, act, init, seed, out / f"{act}-{init}-seed{seed}"))
        for act in config.activations
        for init in config.inits
        for seed in range(config.seed, config.seed + config.seeds)
    ]
    cells = run_cells(calls, workers=workers, cache_dir=cache_dir, progress=progress)
    result = table1_combine(config, cells)
    write(result, out)
    return result
