"""Table 1 of paper B: the activation × init grid of the scaled conv net on CIFAR-10 (or a smaller
stand-in), accuracies and the smoothness of the trained residual weights.

Per cell (activation, init) over seeds: medians and interquartile ranges of the train and test
accuracy, of the layer average mean_k‖W_{k+1} − W_k‖_F (W = conv1, the paper's appendix number)
and of mean_k‖Z_{k+1} − Z_k‖_F (Z = (conv1, conv2)), next to the paper's numbers
(:data:`PAPER_TABLE1`, CIFAR-10, L = 256, 180 epochs, median of 5).

Claims (sentences here, directions and margins from :data:`resode.analysis_plan.PLAN`, judged
through :mod:`resode.verdicts` over seeds):

* ``table1_tied_smoother_<act>`` (:data:`SMOOTHER_CLAIM`), only for an activation whose tied row
  the paper calls smooth (identity, GELU; ReLU's is "no"): tied-init weights are smoother than
  i.i.d. ones after training (the appendix: about 10× smaller layer-averaged ‖W_{k+1} − W_k‖_F),
  judged on mean‖ΔW‖_tied / mean‖ΔW‖_iid on the log scale (Welch t on the logs), "less" with
  margin 2×;
* ``table1_test_acc_<act>_<init>`` per row of the paper (:data:`ACCURACY_CLAIM`): test accuracy
  minus the paper's value equivalent to 0 within ±3 points (TOST, one-sample t over seeds);
  ``table1_train_acc_<act>_<init>`` the same for train accuracy (secondary).

One seed per cell gives "inconclusive" by construction: the paper uses 5.

Cells: :func:`table1_cell` (one activation, init and seed: trains through resode.training with
resume); :func:`table1_combine`; :func:`write`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resode.config import Config, option
from resode.errors import ResodeError
from resode.ode.experiments.common import Record
from resode.ode.experiments.protocol import Cell, Experiment, FilesOf, register, run_experiment

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

#: claim sentences; directions and margins live in :data:`resode.analysis_plan.PLAN`
SMOOTHER_CLAIM: dict[str, str] = {
    "text": "Tied-init weights are smoother than i.i.d. ones after training: layer-averaged "
    "‖W_{k+1} − W_k‖_F tied / iid ≤ 1/2 (the appendix reports about 1/10)",
}
ACCURACY_CLAIM: dict[str, str] = {
    "test": "Test accuracy matches the paper's Table 1 row within the declared band",
    "train": "Train accuracy matches the paper's Table 1 row within the declared band",
}


def paper_says_smooth(activation: str) -> bool:
    """Whether the paper's Table 1 calls the tied row of ``activation`` smooth."""
    row = PAPER_TABLE1.get((activation, "tied"))
    return bool(row and row[2])


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


@dataclass(frozen=True)
class MedianIQR:
    """The median and the interquartile range [q25, q75] of a row's values over seeds."""

    median: float
    q25: float
    q75: float

    @classmethod
    def of(cls, values: Sequence[float]) -> MedianIQR | None:
        """numpy's linear percentiles of ``values`` (None for no values)."""
        if not values:
            return None
        q25, q50, q75 = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
        return cls(float(q50), float(q25), float(q75))

    def text(self, spec: str = ".3g") -> str:
        """``median [q25, q75]``, each number in the format ``spec``."""
        return f"{self.median:{spec}} [{self.q25:{spec}}, {self.q75:{spec}}]"


@dataclass
class Table1Group(Record):
    """One row of Table 1 as run: an (activation, init) over its seeds, beside the paper's row
    (``paper_*`` None where the paper has none). Accuracies in %, smoothness as measured."""

    activation: str
    init: str
    seeds: int
    train_acc: MedianIQR | None
    test_acc: MedianIQR | None
    mean_dw: MedianIQR | None
    mean_dz: MedianIQR | None
    paper_train_acc: float | None
    paper_test_acc: float | None
    paper_smooth: bool | None


def _text(m: MedianIQR | None, spec: str = ".3g", missing: str = "—") -> str:
    return missing if m is None else m.text(spec)


@dataclass
class Table1Result(Record):
    """``groups``: one :class:`Table1Group` per (activation, init) with medians, IQRs and the
    paper's numbers;
    ``ratios``: per activation, median mean‖ΔW‖ tied / iid; ``judged``: the smoothness claim
    per activation the paper calls smooth, the accuracy claims per row of the paper."""

    config: CifarConfig
    cells: list[Table1Cell]
    groups: list[Table1Group]
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


def _group_row(act: str, init: str, cells: list[Table1Cell]) -> Table1Group:
    paper = PAPER_TABLE1.get((act, init))
    train, test, smooth = paper or (None, None, None)
    return Table1Group(
        act,
        init,
        len(cells),
        MedianIQR.of([100 * c.train_acc for c in cells if c.train_acc is not None]),
        MedianIQR.of([100 * c.test_acc for c in cells if c.test_acc is not None]),
        MedianIQR.of([c.smoothness["mean_dw"] for c in cells]),
        MedianIQR.of([c.smoothness["mean_dz"] for c in cells]),
        train,
        test,
        smooth,
    )


def table1_combine(config: CifarConfig, cells: Sequence[Table1Cell]) -> Table1Result:
    """Medians and IQRs per (activation, init); the tied/iid smoothness ratio, its verdict where
    the paper calls the tied row smooth, and the accuracy of every row the paper reports."""
    from resode.analysis_plan import plan_claim
    from resode.verdicts import judge

    groups, ratios, judgements = [], {}, []
    for act in config.activations:
        by_init = {
            i: [c for c in cells if c.activation == act and c.init == i] for i in config.inits
        }
        groups += [_group_row(act, i, cs) for i, cs in by_init.items() if cs]
        for init, cs in by_init.items():
            paper = PAPER_TABLE1.get((act, init))
            if not cs or paper is None:
                continue
            for kind, ref in (("test", paper[1]), ("train", paper[0])):
                accs = [getattr(c, f"{kind}_acc") for c in cs]
                diffs = [100.0 * a - ref for a in accs if a is not None]
                name = f"table1_{kind}_acc_{act}_{init}"
                judgements.append(judge(plan_claim(name, ACCURACY_CLAIM[kind]), diffs))
        tied, iid = by_init.get("tied"), by_init.get("iid")
        if not tied or not iid:
            continue
        t = [c.smoothness["mean_dw"] for c in tied]
        b = [c.smoothness["mean_dw"] for c in iid]
        ratios[act] = float(np.median(t) / np.median(b))
        if paper_says_smooth(act):
            claim = plan_claim(f"table1_tied_smoother_{act}", SMOOTHER_CLAIM["text"])
            judgements.append(judge(claim, t, b))
    return Table1Result(config, list(cells), groups, ratios, judgements)


def claim_text(name: str) -> str | None:
    """The sentence of a Table 1 claim name (per activation / row), None for other names."""
    if name.startswith("table1_tied_smoother_"):
        return f"{SMOOTHER_CLAIM['text']} — {name.removeprefix('table1_tied_smoother_')}"
    for kind in ("test", "train"):
        prefix = f"table1_{kind}_acc_"
        if name.startswith(prefix):
            act, _, init = name.removeprefix(prefix).rpartition("_")
            return f"{ACCURACY_CLAIM[kind]} — {act}, {init}"
    return None


def write(result: Table1Result, out_dir: str | Path) -> list[Path]:
    """cifar_smoothness.png, cifar.{json,csv,md,html}."""
    from resode.ode import plots
    from resode.report import Report, write_csv, write_json
    from resode.verdicts import ratio_text

    out = Path(out_dir)
    cfg = result.config
    paths = plots.plot_table1(result, out)
    summary = {
        "experiment": "cifar",
        "config": cfg.to_dict(),
        "groups": [g.to_dict() for g in result.groups],
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
                "activation": g.activation,
                "init": g.init,
                "seeds": g.seeds,
                "train % median [IQR]": _text(g.train_acc),
                "test % median [IQR]": _text(g.test_acc),
                "paper train / test %": "—"
                if g.paper_train_acc is None
                else f"{g.paper_train_acc} / {g.paper_test_acc}",
                "mean‖ΔW‖ median [IQR]": _text(g.mean_dw),
                "mean‖ΔZ‖ median [IQR]": _text(g.mean_dz),
                "paper: smooth?": g.paper_smooth,
            }
            for g in result.groups
        ]
    )
    for j in result.judgements():
        rep.claim(claim_text(j.claim) or j.claim, j.verdict, j.reason)
    rep.paragraph(
        "Median ratios mean‖ΔW‖ tied / iid: "
        + ", ".join(f"{a} {ratio_text(r)}" for a, r in result.ratios.items())
        + f" (paper appendix: about 1/{PAPER_SMOOTHNESS_RATIO:g})."
    )
    for p in paths:
        if p.suffix == ".png":
            rep.figure(p, p.stem)
    paths.extend(rep.write("cifar"))
    return paths


def cells(config: CifarConfig, files_of: FilesOf) -> list[Cell]:
    """One training run per (activation, init, seed), each in its own folder ``files_of(key)``."""
    return [
        Cell(key, table1_cell, (config, act, init, seed, files_of(key)))
        for act in config.activations
        for init in config.inits
        for seed in range(config.seed, config.seed + config.seeds)
        for key in [f"{act}-{init}-seed{seed}"]
    ]


def summary(t1: Table1Result) -> dict[str, Any]:
    """The entry of Table 1 in ``resode reproduce``'s ``results.json``."""
    return {"groups": [g.to_dict() for g in t1.groups], "ratios": t1.ratios}


def report(rep: Any, results: Mapping[str, Table1Result], figures: Mapping[str, Path]) -> None:
    """The report section: median [IQR] accuracies and smoothness per row, the paper's row, the
    tied / i.i.d. smoothness ratios."""
    from resode.report import fmt_num
    from resode.verdicts import ratio_text

    for t1 in results.values():
        rows = [
            {
                "activation": g.activation,
                "init": g.init,
                "seeds": g.seeds,
                "train acc median [IQR]": _text(g.train_acc, ".2f", "–"),
                "test acc median [IQR]": _text(g.test_acc, ".2f", "–"),
                "mean ‖ΔW‖ median": fmt_num(None if g.mean_dw is None else g.mean_dw.median),
                "paper train / test": f"{g.paper_train_acc} / {g.paper_test_acc}",
            }
            for g in t1.groups
        ]
        rep.table(rows)
        rep.paragraph(
            "Tied / i.i.d. ratio of the median layer-averaged ‖W_{k+1} − W_k‖_F: "
            + ", ".join(f"{a}: {ratio_text(v)}" for a, v in t1.ratios.items())
            + " (the paper's appendix: about 1/10)."
        )


EXPERIMENT = register(
    Experiment(
        name="table1",
        command="cifar",
        title="Table 1",
        help="Table 1: activation × init grid, smoothness per run",
        config=CifarConfig,
        cells=cells,
        combine=table1_combine,
        write=write,
        summary=summary,
        report=report,
        output="cifar.json",
        claim_text=claim_text,
        order=50,
        reproduce={"seeds": 5, "dataset": "cifar10"},
        job_keys={"seed": "seed", "device": "device", "threads": "threads"},
        in_default=False,  # CIFAR-10 and hours of GPU time: the cifar10-table1 preset
    )
)


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
    return run_experiment(
        EXPERIMENT, config, out_dir, progress=progress, workers=workers, cache_dir=cache_dir
    )
