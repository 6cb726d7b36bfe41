"""The typed results of paper A's grid tasks: what a worker returns, what ``result.json`` holds.

A (model, seed) cell returns a :class:`RunResult`, a seed-stacked group a :class:`GroupResult`
(one :class:`RunResult` per seed), the transfer wave a :class:`TransferResult`. The task runner
(:func:`resode.grid.run_task`) stores ``to_dict()``; :func:`parse_cell` reads a stored result
back, so ``collect``, the claims and the report reach every number by field. Mappings that
remain are keyed by data (a corruption label, an ε label ``"8/255"``, an attack or model name),
never by a field name read by convention. ``to_dict`` keeps the JSON shape the job has always
written (optional parts absent when they did not run), so ``results.json`` is unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resode.robustness.checks import CheckResult

#: accuracy per data label: ``{"8/255": 0.71}``, ``{"1": 0.9, "pooled": 0.85}``
Accuracies = dict[str, float]


@dataclass
class TrainSummary:
    """The training of one run: its checkpoint (in the run's folder) and last epoch."""

    checkpoint: str
    seconds: float
    epochs: int | None
    train_acc: float | None
    test_acc_full: float | None
    threads: int | None
    seed_batch: int | None = None  # trained in a seed-stacked group of this size

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.seed_batch is None:
            del d["seed_batch"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSummary:
        return cls(**{f.name: d.get(f.name) for f in dataclasses.fields(cls)})


@dataclass
class AttackIntervals:
    """Clopper–Pearson intervals ``[lo, hi]`` over one run's attacked images."""

    level: float
    attacks: dict[str, dict[str, list[float]]]
    robust: dict[str, list[float]]
    cumulative: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttackIntervals:
        return cls(d["level"], d["attacks"], d["robust"], d.get("cumulative", {}))


@dataclass
class EvalSeconds:
    noise: float
    attacks: float
    per_attack: dict[str, float] = field(default_factory=dict)


@dataclass
class Evaluation:
    """One run's evaluation: clean and noise accuracy on the ``n`` evaluated images, the
    attacks on the first ``n_attack`` (per attack and ε, the per-point worst case ``robust``
    and the cascade's ``cumulative`` rows)."""

    n: int
    n_attack: int
    clean: float
    clean_attack_subset: float
    corruptions: dict[str, Accuracies]
    attacks: dict[str, Accuracies]
    robust: Accuracies
    cumulative: dict[str, Accuracies]
    declared_attacks: list[str]
    cascade: bool
    intervals: AttackIntervals
    eps: list[float]
    seconds: EvalSeconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        return cls(
            **{
                **d,
                "cumulative": d.get("cumulative", {}),
                "declared_attacks": d.get("declared_attacks", list(d["attacks"])),
                "cascade": d.get("cascade", False),
                "intervals": AttackIntervals.from_dict(d["intervals"]),
                "seconds": EvalSeconds(**d["seconds"]),
            }
        )


@dataclass
class Lambdas:
    """Learned λ per damped block (mean over channels) and their values at initialisation."""

    final: dict[str, float]
    init: dict[str, float]


@dataclass
class StabilitySummary:
    """The stability scalars of one run (the full per-block result: ``stability.json``)."""

    cum_amp_random: float
    cum_amp_attack: float
    cum_gain_random: float
    cum_gain_attack: float
    state_growth: float
    cum_sigma_max: float
    drift_noise_last: float
    drift_adv_last: float


@dataclass
class LandscapeSummary:
    """The input-landscape scalars of one run (the grids: ``landscape.json``)."""

    clean_loss: float
    loss_rise_adv: float
    loss_rise_rand: float
    radius: float


@dataclass
class RunResult:
    """One trained and evaluated run of paper A (or of the fixed-λ sweep, with ``lam``)."""

    model: str
    seed: int
    train: TrainSummary
    n_test: int
    indices: list[int]
    robustness: Evaluation
    lambdas: Lambdas | None = None  # None: the model has no damping
    lam: float | None = None  # the sweep's fixed λ
    checks: list[CheckResult] | None = None  # None: the masking checks did not run
    stability: StabilitySummary | None = None
    landscape: LandscapeSummary | None = None
    #: transfer accuracy per surrogate model and ε label (attached from the second wave)
    transfer: dict[str, Accuracies] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "model": self.model,
            "seed": self.seed,
            "train": self.train.to_dict(),
            "n_test": self.n_test,
            "indices": list(self.indices),
            "robustness": self.robustness.to_dict(),
            "lambdas": {} if self.lambdas is None else dataclasses.asdict(self.lambdas),
        }
        optional = {
            "lam": self.lam,
            "checks": None if self.checks is None else [c.to_dict() for c in self.checks],
            "stability": _asdict(self.stability),
            "landscape": _asdict(self.landscape),
            "transfer": self.transfer,
        }
        d.update({k: v for k, v in optional.items() if v is not None})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        lambdas, checks = d.get("lambdas") or None, d.get("checks")
        return cls(
            model=d["model"],
            seed=int(d["seed"]),
            train=TrainSummary.from_dict(d["train"]),
            n_test=d["n_test"],
            indices=list(d["indices"]),
            robustness=Evaluation.from_dict(d["robustness"]),
            lambdas=None if lambdas is None else Lambdas(**lambdas),
            lam=d.get("lam"),
            checks=None if checks is None else [CheckResult.from_dict(c) for c in checks],
            stability=_summary(StabilitySummary, d.get("stability")),
            landscape=_summary(LandscapeSummary, d.get("landscape")),
            transfer=d.get("transfer"),
        )

    def summaries(self) -> dict[str, float]:
        """The analyses' scalars as ``stability/<name>`` and ``landscape/<name>``."""
        out: dict[str, float] = {}
        for group, summary in (("stability", self.stability), ("landscape", self.landscape)):
            for k, v in (_asdict(summary) or {}).items():
                out[f"{group}/{k}"] = float(v)
        return out


@dataclass
class GroupResult:
    """A seed-stacked group of one model: one :class:`RunResult` per seed (``seed<s>/``)."""

    runs: list[RunResult]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupResult:
        return cls([RunResult.from_dict(r) for r in d["runs"]])


@dataclass
class TransferResult:
    """The transfer wave's task: the target's accuracy under ``attack`` crafted on each
    surrogate model, per ε label, on the ``n_attack`` attacked images."""

    target: str
    seed: int
    n_attack: int
    attack: str
    transfer: dict[str, Accuracies]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TransferResult:
        return cls(**d)


def parse_cell(result: dict[str, Any], *, group: bool) -> list[RunResult]:
    """The runs of a stored paper-A cell result: one for a one-seed cell, one per seed for a
    seed-stacked group (``group``: the task ran :func:`~resode.reproduce.paper_a.run_cell_group`,
    as its ``fn`` says)."""
    if group:
        return GroupResult.from_dict(result).runs
    return [RunResult.from_dict(result)]


def _asdict(x: Any) -> dict[str, Any] | None:
    return None if x is None else dataclasses.asdict(x)


def _summary(cls: type, d: dict[str, Any] | None) -> Any:
    return None if not d else cls(**d)


__all__ = [
    "AttackIntervals",
    "EvalSeconds",
    "Evaluation",
    "GroupResult",
    "Lambdas",
    "LandscapeSummary",
    "RunResult",
    "StabilitySummary",
    "TrainSummary",
    "TransferResult",
    "parse_cell",
]
