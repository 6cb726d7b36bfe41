"""The typed worker results of paper A (resode.reproduce.runs): exact JSON round trips, the
stored shape (optional parts absent when they did not run), old stored results still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resode.grid import Task, run_task
from resode.grid.task import fn_ref, resolve
from resode.reproduce.runs import (
    AttackIntervals,
    EvalSeconds,
    Evaluation,
    GroupResult,
    Lambdas,
    LandscapeSummary,
    RunResult,
    StabilitySummary,
    TrainSummary,
    TransferResult,
    parse_cell,
)
from resode.robustness.checks import CheckResult


def _json(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` through JSON text, as ``result.json`` stores it."""
    return json.loads(json.dumps(d))


def _evaluation(scale: float = 1.0) -> Evaluation:
    # floats of many bits (0.1 + 0.2, 1/3): a round trip must keep every bit
    return Evaluation(
        n=48,
        n_attack=24,
        clean=(0.1 + 0.2) * scale,
        clean_attack_subset=1 / 3,
        corruptions={
            "gaussian_noise": {"1": 0.75, "5": 0.625, "pooled": 0.6875 * scale},
            "gaussian_noise×3": {"1": 0.5, "5": 0.25, "pooled": 0.375},
        },
        attacks={"fgsm": {"0": 1 / 3, "8/255": 1 / 7}},
        robust={"0": 1 / 3, "8/255": 1 / 11},
        cumulative={"fgsm": {"0": 1 / 3, "8/255": 1 / 7}, "apgd-ce": {"8/255": 1 / 11}},
        declared_attacks=["fgsm", "apgd-ce"],
        cascade=True,
        intervals=AttackIntervals(
            level=0.95,
            attacks={"fgsm": {"8/255": [0.01, 0.4]}},
            robust={"8/255": [0.001, 0.3]},
            cumulative={"apgd-ce": {"8/255": [0.001, 0.3]}},
        ),
        eps=[0.0, 8 / 255],
        seconds=EvalSeconds(noise=1.25, attacks=2.5, per_attack={"fgsm": 0.5}),
    )


def _train(seed_batch: int | None = None) -> TrainSummary:
    return TrainSummary("last.pt", 3.5, 2, 0.875, 1 / 6, 1, seed_batch=seed_batch)


def _minimal(seed: int = 0) -> RunResult:
    """A run with nothing optional: no λ, no checks, no analyses, no transfer."""
    return RunResult("resnet20", seed, _train(), 48, [3, 1, 4, 1, 5], _evaluation())


def _full(seed: int = 1, seed_batch: int | None = 2) -> RunResult:
    """A run with every optional part, the falsy ones included (λ = 0, no failed check)."""
    return RunResult(
        model="inresnet20",
        seed=seed,
        train=_train(seed_batch),
        n_test=48,
        indices=[9, 2, 6],
        robustness=_evaluation(0.5),
        lambdas=Lambdas(final={"layer1.0": 0.1 + 0.2}, init={"layer1.0": 1 / 3}),
        lam=0.0,
        checks=[
            CheckResult("flags", True, "fine", {"zero_grad_fraction": 0.0}),
            CheckResult("transfer-resnet20", False, "beats the worst case", {"8/255": 1 / 9}),
        ],
        stability=StabilitySummary(1.5, 2.5, 0.25, 0.125, 1 / 3, 7.0, 0.01, 0.02),
        landscape=LandscapeSummary(
            clean_loss=0.69, loss_rise_adv=0.3, loss_rise_rand=1e-17, radius=8 / 255
        ),
        transfer={"resnet20": {"0": 1 / 3, "8/255": 1 / 9}},
    )


@pytest.mark.parametrize("run", [_minimal(), _full(), _full(seed_batch=None)])
def test_a_run_survives_its_json_exactly(run: RunResult) -> None:
    back = RunResult.from_dict(_json(run.to_dict()))
    assert back == run
    assert back.to_dict() == run.to_dict()
    # the floats kept every bit (== on floats; repr tells 0.30000000000000004 from 0.3)
    assert repr(back.robustness.clean) == repr(run.robustness.clean)


def test_parts_that_did_not_run_are_absent_from_the_stored_run() -> None:
    d = _minimal().to_dict()
    # the keys results.json and result.json have always held, in their order
    assert list(d) == ["model", "seed", "train", "n_test", "indices", "robustness", "lambdas"]
    assert d["lambdas"] == {}  # a model without damping: an empty mapping, as before
    assert "seed_batch" not in d["train"]
    assert list(d["robustness"]) == [
        "n",
        "n_attack",
        "clean",
        "clean_attack_subset",
        "corruptions",
        "attacks",
        "robust",
        "cumulative",
        "declared_attacks",
        "cascade",
        "intervals",
        "eps",
        "seconds",
    ]
    assert RunResult.from_dict(_json(d)).lambdas is None


def test_parts_that_ran_are_stored_even_when_falsy() -> None:
    run = _full()
    d = run.to_dict()
    assert list(d)[7:] == ["lam", "checks", "stability", "landscape", "transfer"]
    assert d["lam"] == 0.0  # the sweep's λ = 0 is a value, not an absent part
    assert d["train"]["seed_batch"] == 2
    assert d["checks"][1] == {
        "name": "transfer-resnet20",
        "passed": False,
        "reason": "beats the worst case",
        "numbers": {"8/255": 1 / 9},
    }
    # checks and transfer that ran and found nothing stay (empty), unlike ones that did not run
    run.checks, run.transfer = [], {}
    d = run.to_dict()
    assert d["checks"] == [] and d["transfer"] == {}
    assert RunResult.from_dict(_json(d)) == run


def test_a_group_and_a_transfer_survive_their_json_exactly() -> None:
    group = GroupResult([_full(seed=0), _full(seed=1)])
    d = group.to_dict()
    assert list(d) == ["runs"] and [r["seed"] for r in d["runs"]] == [0, 1]
    assert GroupResult.from_dict(_json(d)) == group
    tr = TransferResult("inresnet20", 3, 24, "pgd", {"resnet20": {"0": 1 / 3, "8/255": 1 / 7}})
    d = tr.to_dict()
    assert list(d) == ["target", "seed", "n_attack", "attack", "transfer"]
    assert TransferResult.from_dict(_json(d)) == tr


def test_parse_cell_reads_a_cell_by_what_its_task_ran() -> None:
    one, group = _minimal(), GroupResult([_full(seed=4), _full(seed=5)])
    assert parse_cell(_json(one.to_dict()), group=False) == [one]
    assert parse_cell(_json(group.to_dict()), group=True) == group.runs
    with pytest.raises(KeyError):  # a group read as one run is an error, never a wrong run
        parse_cell(_json(group.to_dict()), group=False)


def test_an_old_stored_run_without_the_later_fields_still_reads() -> None:
    d = _minimal().to_dict()
    rob = d["robustness"]
    for k in ("cumulative", "declared_attacks", "cascade"):
        del rob[k]
    del rob["intervals"]["cumulative"], rob["seconds"]["per_attack"]
    del d["train"]["threads"]
    old = RunResult.from_dict(_json(d))
    assert old.robustness.cumulative == {} and old.robustness.intervals.cumulative == {}
    assert old.robustness.declared_attacks == ["fgsm"]  # the attacks it measured
    assert old.robustness.cascade is False
    assert old.robustness.seconds.per_attack == {}
    assert old.train.threads is None
    assert old.robustness.attacks == _minimal().robustness.attacks


def test_the_metrics_read_the_analyses_by_field() -> None:
    from resode.reproduce.paper_a import metrics

    m = metrics(_full())
    assert m["stability/cum_sigma_max"] == 7.0 and m["landscape/radius"] == 8 / 255
    assert m["lambda_mean"] == 0.1 + 0.2 and m["lambda_init_mean"] == 1 / 3
    assert m["noise_pooled"] == 0.375 and m["noise_pooled×1"] == 0.6875 * 0.5
    assert not any(
        k.startswith(("stability/", "landscape/", "lambda")) for k in metrics(_minimal())
    )


# ---------------------------------------------------------------------------------------------
# the task runner stores a typed result as its to_dict(); fn_ref names the function


def typed_task(params: dict[str, Any], folder: Path) -> TransferResult:
    return TransferResult("inresnet20", params["seed"], 2, "pgd", {"resnet20": {"0": 0.5}})


def test_run_task_stores_a_typed_result_as_its_mapping(tmp_path: Path) -> None:
    ref = fn_ref(typed_task)
    assert ref.endswith(":typed_task") and resolve(ref) is typed_task
    out = run_task(Task("t/one", ref, {"seed": 7}), tmp_path)
    assert out.ok and out.result == typed_task({"seed": 7}, tmp_path).to_dict()
    stored = json.loads((tmp_path / "t/one/result.json").read_text())
    assert TransferResult.from_dict(stored["result"]) == typed_task({"seed": 7}, tmp_path)


def test_fn_ref_refuses_what_a_worker_could_not_import() -> None:
    def nested(params: dict[str, Any], folder: Path) -> dict[str, Any]:
        return {}

    for fn in (nested, lambda p, f: {}, TransferResult.from_dict):
        with pytest.raises(ValueError, match="module-level"):
            fn_ref(fn)
