"""Paper B as a grid of tasks, read from the registered experiments
(:mod:`resode.ode.experiments.protocol`).

Each experiment named in ``paper_b.experiments`` runs its nested config ``paper_b.<name>`` with
the keys the job owns set (its ``job_keys``: the job's seed as the initialisation and data seed,
the device and thread count of Table 1). Two job rules compare initialisations: the depth sweep
runs once per ``paper_b.inits`` (a *variant* per init; without ``paper_b.reference_iid`` the
i.i.d. sweep skips the reference depth) and the weights run trains ``paper_b.inits``. Every cell
is a :mod:`resode.grid` task in ``paper_b/<experiment>[_<variant>]/<cell>``; :func:`collect`
combines each variant whose cells all finished with the experiment's own ``combine`` (fits,
judged claims) and writes its files there with the experiment's ``write``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.grid import Task, TaskOutcome
from resode.ode.experiments.protocol import Cell, Experiment, experiments
from resode.reproduce.config import ReproduceConfig


@dataclass(frozen=True)
class Variant:
    """One run of a registered experiment in the job: its folder, label and config."""

    experiment: Experiment
    label: str  # "" or, for the depth sweep, the init
    config: Any
    folder: str  # relative to the job's out folder

    def cells(self, root: Path) -> list[Cell]:
        return self.experiment.cells(self.config, lambda key: root / self.folder / key / "run")


def variants(cfg: ReproduceConfig) -> list[Variant]:
    """The experiment runs of paper B, in report order (empty when paper B is off)."""
    pb = cfg.paper_b
    if not pb.enabled:
        return []
    job = {"seed": cfg.seed, "data_seed": cfg.seed, "device": cfg.device, "threads": cfg.threads}
    out = []
    for exp in experiments():
        if exp.name not in pb.experiments:
            continue
        config = getattr(pb, exp.name)
        config = config.replace(**{k: job[k] for k in exp.job_keys if k in job})
        if exp.name == "depth_sweep":  # job rule: one sweep per compared init
            for init in pb.inits:
                ref = {} if init != "iid" or pb.reference_iid else {"reference_depth": 0}
                c = config.replace(init=init, **ref)
                out.append(Variant(exp, init, c, f"paper_b/{exp.name}_{init}"))
            continue
        if exp.name == "weights":  # job rule: the weights of the compared inits
            config = config.replace(inits=list(pb.inits))
        out.append(Variant(exp, "", config, f"paper_b/{exp.name}"))
    return out


def tasks(cfg: ReproduceConfig, root: Path) -> list[Task]:
    """Every cell of paper B as a task."""
    from resode.ode.experiments.common import cell_as_task

    out: list[Task] = []
    for v in variants(cfg):
        for cell in v.cells(root):
            task = cell_as_task(cell.fn, cell.args)
            key = f"{v.folder}/{cell.key}"
            out.append(
                Task(key, task.fn, task.params, cfg.threads, key.split("/", 1)[1], cell.cost)
            )
    return out


@dataclass
class PaperBResult:
    """The combined experiments of paper B: experiment name → variant label → its typed result
    (only the variants whose cells all finished), the failed cells, the experiments' figures."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    declared: list[str] = field(default_factory=list)  # the experiments the job ran
    failed: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)

    def variants(self, name: str) -> dict[str, Any]:
        """The results of experiment ``name`` by variant (empty when it did not finish)."""
        return self.results.get(name, {})

    def judgements(self) -> list[Any]:
        from resode.ode.experiments import slope_gap_judgement

        out = []
        for name, runs in self.results.items():  # registry order
            out += [j for r in runs.values() for j in r.judgements()]
            if name == "depth_sweep" and "tied" in runs and "iid" in runs:  # across two variants
                gap = slope_gap_judgement(runs["tied"], runs["iid"])
                if gap is not None:
                    out.append(gap)
        return out


def collect(
    cfg: ReproduceConfig, outcomes: dict[str, TaskOutcome], root: Path
) -> PaperBResult | None:
    """Combine every variant whose cells all finished, write its files; name the failed cells."""
    from resode.ode.experiments.common import record_of

    runs = variants(cfg)
    if not runs:
        return None
    out = PaperBResult(declared=list(dict.fromkeys(v.experiment.name for v in runs)))
    for v in runs:
        keys = [f"{v.folder}/{c.key}" for c in v.cells(root)]
        failed = {k: _error(outcomes, k) for k in keys if not _ok(outcomes, k)}
        out.failed.update(failed)
        if failed:
            continue
        result = v.experiment.combine(v.config, [record_of(outcomes[k]) for k in keys])
        out.results.setdefault(v.experiment.name, {})[v.label] = result
        name = Path(v.folder).name
        for p in v.experiment.write(result, root / v.folder):
            if Path(p).suffix == ".png":
                out.figures[f"{name}/{Path(p).stem}"] = Path(p)
    return out


def _ok(outcomes: dict[str, TaskOutcome], key: str) -> bool:
    return key in outcomes and outcomes[key].ok


def _error(outcomes: dict[str, TaskOutcome], key: str) -> str:
    return (outcomes[key].error if key in outcomes else "not run") or "failed"


__all__ = ["PaperBResult", "Variant", "collect", "tasks", "variants"]
