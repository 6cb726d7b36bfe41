"""Training engine: schedules, presets, outputs, weight decay on λ, NaN policies, bad input, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import resode
from resode.cli import main
from resode.errors import ConfigError, NumericalError, ResodeError
from resode.nn import Normalize, ResidualClassifier
from resode.training import (
    TrainConfig,
    evaluate,
    get_preset,
    list_presets,
    lr_at,
    save_preset,
    train,
)
from resode.training.engine import load_datasets


class _Block(nn.Module):
    """h ↦ (1 − λ)h + conv(relu(h)) with λ = relu(1 − k) (the In-ResNet form)."""

    def __init__(self, width: int, k0: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1)
        self.k = nn.Parameter(torch.tensor(float(k0)))

    def interpolation_coefficient(self) -> torch.Tensor:
        return torch.relu(1 - self.k)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (1 - self.interpolation_coefficient()) * h + self.conv(torch.relu(h))


@resode.register_model("_train_tiny_damped", family="test")
def _tiny_damped(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 8,
    mean: tuple[float, ...] = (0.5,),
    std: tuple[float, ...] = (0.5,),
    width: int = 4,
    k0: tuple[float, ...] = (0.8, 1.5),
) -> ResidualClassifier:
    """Two damped blocks; block 1 starts with k > 1 so its loss gradient to k is exactly 0."""
    return ResidualClassifier(
        Normalize(mean, std),
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.ModuleList(_Block(width, k) for k in k0),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)),
    )


class _NaNAt(nn.Module):
    """A tiny classifier whose training-mode forward returns NaN at the given call numbers."""

    def __init__(self, num_classes: int, n_in: int, bad_calls: tuple[int, ...]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_in, num_classes))
        self.bad_calls = set(bad_calls)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls in self.bad_calls:
                out = out * float("nan")
        return out


class _InfGrad(torch.autograd.Function):
    """Identity forward (finite loss); the backward pass returns an infinite gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad * float("inf")


class _InfGradAt(_NaNAt):
    """Finite logits always; at the given training calls the gradient is infinite."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls in self.bad_calls:
                out = _InfGrad.apply(out)
        return out


@resode.register_model("_train_inf_grad_at", family="test")
def _inf_grad_at(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 8,
    mean: tuple[float, ...] = (0.5,),
    std: tuple[float, ...] = (0.5,),
    bad_calls: tuple[int, ...] = (),
) -> nn.Module:
    return _InfGradAt(num_classes, in_channels * image_size**2, tuple(bad_calls))


@resode.register_model("_train_nan_at", family="test")
def _nan_at(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 8,
    mean: tuple[float, ...] = (0.5,),
    std: tuple[float, ...] = (0.5,),
    bad_calls: tuple[int, ...] = (),
) -> nn.Module:
    return _NaNAt(num_classes, in_channels * image_size**2, tuple(bad_calls))


def _tiny_config(**kw: object) -> TrainConfig:
    base = {
        "model": "_train_tiny_damped",
        "dataset": "digits",
        "image_size": 8,
        "train_subset": 96,
        "test_subset": 40,
        "epochs": 2,
        "batch_size": 32,
        "lr": 0.05,
        "schedule": "constant",
        "milestones": [],
        "device": "cpu",
        "threads": 1,
    }
    base.update(kw)
    return TrainConfig.from_dict(base)


# ----------------------------------------------------------------------------- schedules, presets


def test_multistep_schedule_matches_paper_a() -> None:
    cfg = get_preset("cifar10-paper-a")
    assert [lr_at(cfg, e) for e in (0, 79, 80, 119, 120, 159)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )
    c100 = get_preset("cifar100-paper-a")
    assert (c100.epochs, c100.milestones) == (300, [150, 225])
    assert lr_at(c100, 149) == pytest.approx(0.1) and lr_at(c100, 225) == pytest.approx(1e-3)


def test_cosine_schedule_closed_form() -> None:
    cfg = get_preset("cifar10-table1")
    assert (cfg.model, cfg.batch_size, cfg.weight_decay, cfg.epochs) == (
        "scaled_convnet",
        64,
        5e-4,
        180,
    )
    for e in (0, 45, 90, 179):
        assert lr_at(cfg, e) == pytest.approx(4e-2 * 0.5 * (1 + math.cos(math.pi * e / 180)))


def test_paper_a_preset_recipe() -> None:
    cfg = get_preset("cifar10-paper-a")
    assert (cfg.momentum, cfg.weight_decay, cfg.batch_size, cfg.epochs) == (0.9, 1e-4, 128, 160)
    assert (cfg.augment, cfg.crop_padding, cfg.padding_mode, cfg.flip) == (
        True,
        2,
        "reflect",
        True,
    )
    assert set(list_presets()) >= {
        "cifar10-paper-a",
        "cifar100-paper-a",
        "cifar10-table1",
        "digits",
    }
    assert get_preset("digits").model == "inresnet20"


def test_preset_yaml_round_trip(tmp_path: Path) -> None:
    path = save_preset("cifar10-paper-a", tmp_path / "c10.yaml", epochs=7)
    loaded = get_preset(path)
    assert loaded == get_preset("cifar10-paper-a", epochs=7)
    assert get_preset(path, lr=0.5).lr == 0.5


def test_unknown_preset_and_bad_values() -> None:
    with pytest.raises(ResodeError, match=r"valid train presets: .*digits"):
        get_preset("nope")
    with pytest.raises(ConfigError, match="lr"):
        get_preset("digits", lr=-1.0)
    with pytest.raises(ConfigError, match="milestones"):
        get_preset("digits", milestones=[5, 3])


# ----------------------------------------------------------------------------- a real run


def test_train_outputs_and_evaluate_identity(tmp_path: Path) -> None:
    cfg = _tiny_config(epochs=2)
    result = train(cfg, tmp_path, progress=False)
    hist = result.history
    assert [h["epoch"] for h in hist] == [1, 2]
    for name in ("last.pt", "history.json", "history.csv", "config.yaml"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "history.json").read_text()) == hist
    csv_lines = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 3 and "lambda.blocks.0" in csv_lines[0]
    assert TrainConfig.from_yaml(tmp_path / "config.yaml") == cfg
    # the logged test metrics are exactly what evaluate() gives for the final model
    _, test_ds = load_datasets(cfg)
    loss, acc = evaluate(result.model, test_ds, batch_size=17, device="cpu")
    assert loss == pytest.approx(hist[-1]["test_loss"], rel=1e-5)
    assert acc == pytest.approx(hist[-1]["test_acc"])
    # λ logged = relu(1 − k) of the final weights, one list per damped block
    ks = [b.k.item() for b in result.model.blocks]
    assert hist[-1]["lambdas"]["blocks.0"] == pytest.approx([max(0.0, 1 - ks[0])])
    # the checkpoint rebuilds the model by itself and gives the same predictions
    ckpt = resode.load_checkpoint(result.checkpoint_path)
    x = test_ds.images[:5]
    assert torch.equal(ckpt.model(x), result.model(x))


def test_weight_decay_reaches_lambda_parameter(tmp_path: Path) -> None:
    """Block 1 has k > 1, so ∂loss/∂k = 0 and only weight decay moves k (same SGD group):

    b_t = m·b_{t−1} + wd·k_{t−1} (b_1 = wd·k_0),  k_t = k_{t−1} − lr·b_t.
    """
    cfg = _tiny_config(epochs=2, weight_decay=0.01, lr=0.1, momentum=0.9)
    result = train(cfg, tmp_path, progress=False)
    steps = 2 * math.ceil(96 / 32)
    k, buf = 1.5, None
    for _ in range(steps):
        g = cfg.weight_decay * k
        buf = g if buf is None else cfg.momentum * buf + g
        k -= cfg.lr * buf
    assert result.model.blocks[1].k.item() == pytest.approx(k, rel=1e-6)
    assert k < 1.5 - 1e-3  # the decay is visible


# ----------------------------------------------------------------------------- NaN / inf


def test_nan_stop_names_epoch_step_and_checkpoint(tmp_path: Path) -> None:
    train(_tiny_config(epochs=1), tmp_path, progress=False)
    diverging = _tiny_config(epochs=2, lr=1e30)
    with pytest.raises(NumericalError) as info:
        train(diverging, tmp_path, resume=True, progress=False, resume_override=True)
    msg = str(info.value)
    assert "epoch 2" in msg and "step " in msg and str(tmp_path / "last.pt") in msg
    # the last good checkpoint is intact and still holds epoch 1
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    assert payload["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in payload["state_dict"].values())


def test_nan_stop_at_injected_step(tmp_path: Path) -> None:
    cfg = _tiny_config(model="_train_nan_at", model_kwargs={"bad_calls": [2]}, epochs=1)
    with pytest.raises(NumericalError, match=r"epoch 1, step 2 .*none \(no epoch finished\)"):
        train(cfg, tmp_path, progress=False)


def test_nan_skip_counts_and_skips_update(tmp_path: Path) -> None:
    bad = [2, 5]
    cfg = _tiny_config(
        model="_train_nan_at", model_kwargs={"bad_calls": bad}, epochs=2, nan_policy="skip"
    )
    result = train(cfg, tmp_path, progress=False)
    assert [h["nan_skips"] for h in result.history] == [1, 1]  # 3 steps per epoch: calls 2 and 5
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    with pytest.raises(NumericalError, match="more than 1 non-finite steps"):
        train(cfg.replace(max_nan_skips=1), tmp_path / "again", progress=False)


@pytest.mark.parametrize("grad_clip", [None, 1.0])
def test_infinite_gradient_with_finite_loss_is_detected(tmp_path: Path, grad_clip) -> None:
    """The loss is finite at every step; only the gradient of step 2 is infinite."""
    cfg = _tiny_config(
        model="_train_inf_grad_at", model_kwargs={"bad_calls": [2]}, epochs=1, grad_clip=grad_clip
    )
    with pytest.raises(NumericalError, match=r"epoch 1, step 2 \(loss [0-9.]+,"):
        train(cfg, tmp_path / "stop", progress=False)
    skipped = train(cfg.replace(nan_policy="skip", epochs=2), tmp_path / "skip", progress=False)
    assert [h["nan_skips"] for h in skipped.history] == [1, 0]
    assert all(torch.isfinite(p).all() for p in skipped.model.parameters())


@pytest.mark.parametrize("clip", [1e-3, 0.05])
def test_gradient_clipping_bounds_the_update(tmp_path: Path, clip: float) -> None:
    """One plain SGD step (no momentum, no decay): θ₁ − θ₀ = −lr·g·min(1, c/‖g‖), so the
    update's norm is lr·c when the gradient is longer than c, and lr·‖g‖ without clipping."""
    from resode.training.engine import build_model

    kw = {"model": "_train_nan_at", "epochs": 1, "train_subset": 32, "batch_size": 32}
    kw.update(momentum=0.0, weight_decay=0.0, lr=2.0, augment=False)
    cfg = _tiny_config(**kw)
    train_ds, _ = load_datasets(cfg)
    torch.manual_seed(cfg.seed)
    theta0 = torch.cat([p.detach().flatten() for p in build_model(cfg, train_ds).parameters()])

    def step_norm(config: TrainConfig, name: str) -> float:
        model = train(config, tmp_path / name, progress=False).model
        theta1 = torch.cat([p.detach().flatten() for p in model.parameters()])
        return float((theta1 - theta0).norm())

    free = step_norm(cfg, "free")
    assert free > 2.0 * clip * 1.5  # the raw gradient is longer than the clip
    assert step_norm(cfg.replace(grad_clip=clip), "clipped") == pytest.approx(2.0 * clip, rel=1e-4)
    # a clip above the gradient norm changes nothing
    assert step_norm(cfg.replace(grad_clip=free), "loose") == pytest.approx(free, rel=1e-5)


# ----------------------------------------------------------------------------- bad input


def test_unknown_model_and_dataset_list_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ResodeError, match=r"valid models: .*inresnet20"):
        train(_tiny_config(model="resnet_nope"), tmp_path, progress=False)
    with pytest.raises(ResodeError, match=r"valid datasets: .*digits"):
        train(_tiny_config(dataset="mnist_nope"), tmp_path, progress=False)
    assert not (tmp_path / "last.pt").exists()


def test_existing_run_is_not_overwritten(tmp_path: Path) -> None:
    train(_tiny_config(epochs=1), tmp_path, progress=False)
    with pytest.raises(ResodeError, match="--resume"):
        train(_tiny_config(epochs=1), tmp_path, progress=False)


def test_cli_train_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    common = ["--out", str(out), "--epochs", "1", "--train-subset", "64", "--test-subset", "20"]
    common += ["--image-size", "8", "--device", "cpu", "--no-progress"]
    assert main(["train", "--preset", "digits", "--model", "_train_tiny_damped", *common]) == 0
    assert json.loads((out / "history.json").read_text())[0]["epoch"] == 1
    resume = ["train", "--preset", "digits", "--model", "_train_tiny_damped", *common, "--resume"]
    assert main([*resume, "--epochs", "2"]) == 2  # a changed config: refused (issue 24)
    assert main([*resume, "--epochs", "2", "--resume-override"]) == 0
    assert len(json.loads((out / "history.json").read_text())) == 2
    capsys.readouterr()
    # resuming with another architecture name is refused with a clear one-line message
    assert (
        main(["train", "--preset", "digits", "--model", "_train_nan_at", *common, "--resume"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "holds model '_train_tiny_damped'" in err
    assert (
        main(["train", "--preset", "digits", "--model", "nope", "--out", str(tmp_path / "x")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "valid models" in err and "inresnet20" in err
    assert main(["train", "--preset", "nope", "--out", str(tmp_path / "y")]) == 2
    assert "valid train presets" in capsys.readouterr().err
    assert main(["train", "--preset", "digits", "--lr", "-1", "--out", str(tmp_path / "z")]) == 2
    assert "lr" in capsys.readouterr().err
