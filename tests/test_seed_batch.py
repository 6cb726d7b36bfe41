"""Seed-batched training and evaluation: every seed stays exactly what its seed says.

(i) a seed's result does not depend on which seeds share its batch; (ii) the batched run of a
seed equals the single-seed engine's; (iii) each seed's checkpoint is an ordinary one. Tiny
networks (pre-act ResNet-14: damped blocks in every stage), 96 digits, 2 epochs.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest
import torch

from resode.checkpoint import load_checkpoint
from resode.errors import ResodeError
from resode.nn.seed_stack import SeedMajor, SeedStack
from resode.registry import create_model
from resode.training import TrainConfig, engine, train
from resode.training.seed_batch import train_seed_batch

KW = {"num_classes": 10, "in_channels": 1, "image_size": 8, "mean": [0.3], "std": [0.4]}


def _config(seed: int, **over: object) -> TrainConfig:
    base = {
        "model": "preact_resnet",
        "model_kwargs": {"depth": 14, "damping": "in"},
        "dataset": "digits",
        "image_size": 8,
        "train_subset": 96,
        "test_subset": 64,
        "epochs": 2,
        "batch_size": 32,
        "lr": 0.05,
        "weight_decay": 5e-4,
        "schedule": "cosine",
        "milestones": [],
        "crop_padding": 1,
        "padding_mode": "zero",
        "flip": False,
        "threads": 1,
        "device": "cpu",
        "seed": seed,
    }
    base.update(over)
    return TrainConfig.from_dict(base)


@pytest.fixture
def float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train in float64 (models and images): the native kernels, where stacking is exact."""
    load, build = engine.load_datasets, engine.build_model

    def load64(config: TrainConfig):  # type: ignore[no-untyped-def]
        return tuple(dataclasses.replace(d, images=d.images.double()) for d in load(config))

    monkeypatch.setattr(engine, "load_datasets", load64)
    monkeypatch.setattr(engine, "build_model", lambda c, d: build(c, d).double())


def _state(folder: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(folder / "last.pt").model.state_dict()


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _batch(tmp: Path, name: str, seeds: list[int], **over: object) -> list[Path]:
    dirs = [tmp / name / f"seed{s}" for s in seeds]
    train_seed_batch([_config(s, **over) for s in seeds], dirs)
    return dirs


# ------------------------------------------------------------------------------ the stack


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("resnet20", {}),
        ("inresnet20", {}),
        ("lambda_inresnet20", {}),
        ("preact_resnet", {"depth": 14, "damping": "fixed", "lam": 0.5}),
        ("preact_resnet", {"depth": 14, "damping": "sigmoid", "per_channel": True}),
        ("preact_resnet", {"depth": 14, "damping": "lambda_in", "per_channel": True}),
        ("preact_resnet", {"depth": 11, "bottleneck": True, "damping": "lambda_in"}),
        ("resnext", {"cardinality": 2, "base_width": 4, "depth": 11, "damping": "in"}),
    ],
)
def test_stack_is_the_seed_models(name: str, kwargs: dict) -> None:
    """Eval-mode logits of the seed-major stack are each seed's model's, bit for bit (float64),
    and unstacking returns every seed's state exactly."""
    models = []
    for s in range(3):
        torch.manual_seed(s)
        models.append(create_model(name, **KW, **kwargs).double().eval())
    stack = SeedStack(copy.deepcopy(models)).eval()
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rows = torch.cat([x + 0.01 * s for s in range(3)])  # seed s's block: its own images
    with torch.no_grad():
        out = SeedMajor(stack)(rows)
        ref = torch.cat([m(x + 0.01 * s) for s, m in enumerate(models)])
    assert torch.equal(out, ref)
    for s, m in enumerate(models):
        _assert_same(stack.unstack(s).state_dict(), m.state_dict())


def test_unsupported_models_are_refused() -> None:
    torch.manual_seed(0)
    other = create_model("scaled_convnet", depth=4, num_classes=10, in_channels=1, image_size=8)
    with pytest.raises(ResodeError, match="seed"):
        SeedStack([other, copy.deepcopy(other)])
    a, b = create_model("resnet20", **KW), create_model("inresnet20", **KW)
    with pytest.raises(ResodeError, match="one architecture"):
        SeedStack([a, b])


def test_configs_must_differ_in_the_seed_only(tmp_path: Path) -> None:
    with pytest.raises(ResodeError, match="lr"):
        train_seed_batch([_config(0), _config(1, lr=0.2)], [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ResodeError, match="nan_policy"):
        train_seed_batch(
            [_config(0, nan_policy="skip"), _config(1, nan_policy="skip")],
            [tmp_path / "a", tmp_path / "b"],
        )


# ------------------------------------------------------------------------------ training


def _momentum(ck: dict) -> dict[str, torch.Tensor]:
    return {str(i): st["momentum_buffer"] for i, st in ck["optimizer"]["state"].items()}


def test_batched_seed_equals_the_single_engine_float64(tmp_path: Path, float64: None) -> None:
    """(i) in float64 seed 0 trained with seed 1, with seed 2, or alone ends with the same
    weights, BN statistics and momentum, bit for bit; (ii) they are those of ``training.train``
    for seed 0 up to the summation order of the λ gradients (a scalar λ is broadcast over the
    seed's channels, so its gradient is summed per channel, then over channels): ≤ 1e-12."""
    train(_config(0), tmp_path / "single", progress=False)
    ref = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    got = {}
    for name, seeds in (("b01", [0, 1]), ("b02", [0, 2]), ("b0", [0])):
        got[name] = torch.load(_batch(tmp_path, name, seeds)[0] / "last.pt", weights_only=True)
    for name in ("b02", "b0"):
        _assert_same(got[name]["state_dict"], got["b01"]["state_dict"])
        _assert_same(_momentum(got[name]), _momentum(got["b01"]))
    mine, theirs = got["b01"], ref
    for a, b in ((mine["state_dict"], theirs["state_dict"]), (_momentum(mine), _momentum(theirs))):
        assert a.keys() == b.keys()
        for k in a:
            assert float((a[k] - b[k]).abs().max()) <= 1e-12, k
    exact = [k for k in theirs["state_dict"] if not k.endswith(".k")]
    _assert_same(
        {k: mine["state_dict"][k] for k in exact}, {k: theirs["state_dict"][k] for k in exact}
    )
    for a, b in zip(mine["history"], theirs["history"]):
        assert a["test_acc"] == b["test_acc"]
        assert abs(a["train_loss"] - b["train_loss"]) <= 1e-12
    assert torch.equal(mine["rng"]["torch"], theirs["rng"]["torch"])


def test_companions_do_not_change_a_seed_float32(tmp_path: Path) -> None:
    """(i) in float32 (the kernels the default uses): seed 0 with seed 1, with seed 2, with
    seeds 1–3, or alone (padded with a copy of itself) is bit for bit the same; it agrees with
    the single engine to float32 rounding carried through two epochs (the grouped convolution
    kernel rounds differently from the plain one)."""
    a = _state(_batch(tmp_path, "b01", [0, 1])[0])
    for name, seeds in (("b02", [0, 2]), ("b0123", [0, 1, 2, 3]), ("b0", [0])):
        _assert_same(_state(_batch(tmp_path, name, seeds)[0]), a)
    train(_config(0), tmp_path / "single", progress=False)
    ref = _state(tmp_path / "single")
    worst = max(float((a[k].double() - ref[k].double()).abs().max()) for k in a)
    scale = max(float(ref[k].double().abs().max()) for k in ref)
    assert worst <= 1e-3 * scale  # measured ≈ 1e-7 relative: rounding, not another run


def test_checkpoints_are_ordinary_and_resume(tmp_path: Path) -> None:
    """(iii) each seed's last.pt loads (weights_only) and evaluates as the stack's slice; a batch
    resumed after epoch 1, and one whose second seed lags an epoch behind (a crash between two
    writes), end where the uninterrupted batch ends, bit for bit."""
    full = _batch(tmp_path, "full", [0, 1])
    short = _batch(tmp_path, "short", [0, 1], epochs=1)
    lag = [tmp_path / "lag" / "seed0", tmp_path / "lag" / "seed1"]
    shutil.copytree(short[0].parent, lag[0].parent)
    shutil.copytree(full[0], lag[0], dirs_exist_ok=True)  # seed 0 done, seed 1 at epoch 1
    for dirs in (short, lag):
        res = train_seed_batch(
            [_config(0), _config(1)], dirs, resume=True, resume_override=True
        )  # epochs 1 → 2 (the cosine lr of epoch 0 is lr either way)
        for d, f in zip(dirs, full):
            _assert_same(_state(d), _state(f))
        assert [len(r.history) for r in res] == [2, 2]
    models = [load_checkpoint(d / "last.pt").model.eval() for d in full]
    x = engine.load_datasets(_config(0))[1].images[:16]
    stack = SeedStack(copy.deepcopy(models)).eval()
    with torch.no_grad():
        out = SeedMajor(stack)(torch.cat([x, x]))
        ref = torch.cat([m(x) for m in models])
    assert torch.equal(out.argmax(1), ref.argmax(1))
    assert torch.allclose(out, ref, rtol=0, atol=1e-5)
    # and the ordinary engine continues a seed's batched checkpoint
    more = train(_config(1, epochs=3), full[1], resume=True, resume_override=True, progress=False)
    assert [h["epoch"] for h in more.history] == [1, 2, 3]
    with pytest.raises(ResodeError, match="already holds"):
        train_seed_batch([_config(0), _config(1)], full)


# ------------------------------------------------------------------------------ reproduce


def test_reproduce_group_task_gives_one_record_per_seed(tmp_path: Path) -> None:
    """``paper_a.seed_batch = 2``: one grid task per (model, pair of seeds) whose result holds
    one run per seed, of the shape a one-seed task returns, in per-seed folders; resumable
    (a second run reuses the checkpoints); seed_batch = 1 keeps today's tasks."""
    from resode.grid import Task, run_task
    from resode.presets import get_preset
    from resode.reproduce import paper_a
    from resode.reproduce.runs import GroupResult, RunResult

    over = {"models": ["inresnet20"], "robustness": {"checks": False, "attacks": ["fgsm"]}}
    one = get_preset("tiny", kind="reproduce", device="cpu", threads=1, paper_a=over)
    two = get_preset(
        "tiny", kind="reproduce", device="cpu", threads=1, paper_a={**over, "seed_batch": 2}
    )
    singles, groups = paper_a.tasks(one), paper_a.tasks(two)
    assert [t.key for t in singles] == ["paper_a/inresnet20-seed0", "paper_a/inresnet20-seed1"]
    assert [t.key for t in groups] == ["paper_a/inresnet20-seeds0_1"]
    out = run_task(groups[0], tmp_path)
    assert out.ok, out.error
    runs = out.result["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    folder = tmp_path / groups[0].key
    for r in runs:
        assert (folder / f"seed{r['seed']}" / "last.pt").exists()
        assert (folder / f"seed{r['seed']}" / "stability.json").exists()
    ref = run_task(singles[0], tmp_path).result
    assert set(runs[0]) == set(ref)  # the same keys as a one-seed result
    assert runs[0]["robustness"].keys() == ref["robustness"].keys()
    assert runs[0]["indices"] == ref["indices"]
    outcomes = {groups[0].key: out}
    res = paper_a.collect(two, outcomes, tmp_path, groups)
    assert [(r.model, r.seed) for r in res.runs] == [("inresnet20", 0), ("inresnet20", 1)]
    assert res.runs[1].folder == folder / "seed1"
    assert set(res.runs[0].metrics) == set(paper_a.metrics(RunResult.from_dict(ref)))
    # the typed results round-trip their stored JSON exactly
    assert GroupResult.from_dict(out.result).to_dict() == out.result
    assert RunResult.from_dict(ref).to_dict() == ref
    # resumed: the group's training is not repeated (its checkpoints are reused)
    (folder / "result.json").unlink()
    stamp = (folder / "seed0" / "last.pt").stat().st_mtime_ns
    again = Task(groups[0].key, groups[0].fn, groups[0].params, threads=1)
    assert run_task(again, tmp_path).ok
    assert (folder / "seed0" / "last.pt").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "speed, named",
    [
        ({"cuda_graphs": True}, "speed.cuda_graphs = true"),
        ({"data_on_device": True}, "speed.data_on_device = true"),
        ({"finite_check": "epoch"}, "speed.finite_check = epoch"),
    ],
)
def test_speed_options_the_batched_loop_would_ignore_are_refused(speed, named) -> None:
    from resode.training.seed_batch import check_seed_batch

    cfgs = [
        dataclasses.replace(_config(s), speed=_config(s).speed.replace(**speed)) for s in (0, 1)
    ]
    with pytest.raises(ResodeError, match=named.replace(".", r"\.")):
        check_seed_batch(cfgs)
    check_seed_batch([_config(0), _config(1)])  # the defaults are accepted
