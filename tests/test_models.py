"""The model zoo: every registry model runs, parameter counts, damping placement, λ identities."""

from __future__ import annotations

import pytest
import torch

import resode
from resode.errors import ResodeError
from resode.nn.blocks import DampedBlock
from resode.nn.preact_resnet import CIFAR10_MEAN, CIFAR10_STD, PreActResNet

_BIG = ("resnext",)


def _is_damped_name(name: str) -> bool:
    return name.startswith(("inres", "lambda_in"))


def _marks(name: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if any(b in name for b in _BIG) else []


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_marks(n), id=n) for n in resode.list_models()]
)
def test_every_model_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    # ResNeXt-29 (34 M / 68 M parameters) runs on 4x4 inputs to keep the CPU test short
    size = 4 if any(b in name for b in _BIG) else 8
    model = resode.create_model(name, num_classes=7, in_channels=3, image_size=size)
    model.train()
    x = torch.rand(2, 3, size, size)
    out = model(x)
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "a parameter did not get a gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    lams = model.interpolation_coefficients()
    assert bool(lams) == _is_damped_name(name)
    assert model.resode_spec == {
        "name": name,
        "kwargs": {"num_classes": 7, "in_channels": 3, "image_size": size},
    }
    # hidden states: h_0 … h_B, the last one feeds the head
    states = model.hidden_states(x)
    assert len(states) == len(model.blocks) + 1
    assert torch.allclose(model.head(states[-1]), out)


@pytest.mark.parametrize(
    ("name", "reference_millions"),
    [
        ("resnet20", 0.27),
        ("resnet56", 0.85),
        ("resnet110", 1.7),
        ("resnet164", 1.7),
    ],
)
def test_parameter_counts(name: str, reference_millions: float) -> None:
    n = _n_params(resode.create_model(name))
    assert abs(n / 1e6 - reference_millions) / reference_millions < 0.03


@pytest.mark.parametrize(
    ("name", "reference_millions"),
    [("resnext29_8x64d", 34.4), ("resnext29_16x64d", 68.1)],
)
def test_resnext_parameter_counts(name: str, reference_millions: float) -> None:
    """Built on the meta device (shapes only): 34.4 M / 68.1 M, damped versions add 6."""
    with torch.device("meta"):
        base = resode.create_model(name)
        damped = {p: resode.create_model(p + name) for p in ("in", "lambda_in")}
    n = _n_params(base)
    assert abs(n / 1e6 - reference_millions) / reference_millions < 0.03
    assert len(base.blocks) == 9
    for model in damped.values():
        assert _n_params(model) - n == 6
        lams = model.interpolation_coefficients()
        assert sorted(lams) == [f"blocks.{i}" for i in (1, 2, 4, 5, 7, 8)]
    convs = [m for m in base.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    cardinality = int(name.split("_")[1].split("x")[0])
    assert len(convs) == 9 and all(m.groups == cardinality for m in convs)
    assert [m.in_channels for m in convs[::3]] == [cardinality * 64 * 2**s for s in range(3)]


@pytest.mark.parametrize(
    ("depth", "n_blocks", "n_damped"),
    [(20, 9, 6), (32, 15, 12), (44, 21, 18), (56, 27, 24), (110, 54, 51), (164, 54, 51)],
)
@pytest.mark.parametrize("prefix", ["inresnet", "lambda_inresnet"])
def test_damping_placement_and_extra_parameters(
    prefix: str, depth: int, n_blocks: int, n_damped: int
) -> None:
    base = resode.create_model(f"resnet{depth}")
    damped = resode.create_model(f"{prefix}{depth}")
    assert len(damped.blocks) == n_blocks
    lams = damped.interpolation_coefficients()
    assert len(lams) == n_damped
    # damped versions add exactly one coefficient per damped block
    assert _n_params(damped) - _n_params(base) == n_damped
    # not the first block, not a downsampling (projection) block
    for i, block in enumerate(damped.blocks):
        identity = isinstance(block.shortcut, torch.nn.Identity)
        assert (f"blocks.{i}" in lams) == (i > 0 and identity)
    # same parameter shapes otherwise
    base_shapes = {k: v.shape for k, v in base.state_dict().items()}
    damped_shapes = {k: v.shape for k, v in damped.state_dict().items() if "damping" not in k}
    assert base_shapes == damped_shapes


def test_per_channel_adds_channel_count() -> None:
    base = resode.create_model("resnet20")
    pc = resode.create_model("preact_resnet", depth=20, damping="in", per_channel=True)
    # damped blocks: 2 of width 16, 2 of 32, 2 of 64
    assert _n_params(pc) - _n_params(base) == 2 * (16 + 32 + 64)
    shapes = {tuple(v.shape) for v in pc.interpolation_coefficients().values()}
    assert shapes == {(16,), (32,), (64,)}


def _set_k(model: torch.nn.Module, value: float) -> None:
    with torch.no_grad():
        for block in model.blocks:
            if getattr(block, "damping", None) is not None:
                block.damping.k.fill_(value)


def _copy(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected
    assert all("damping" in k for k in missing)


def _randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial BN affine maps and running statistics (so eval mode is a generic test)."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


@pytest.mark.parametrize(
    ("depth", "damped_name", "kwargs", "k_zero_lambda", "mode"),
    [
        (20, "inresnet20", {}, 1.0, "eval"),
        (20, "inresnet20", {}, 1.0, "train"),
        (20, "lambda_inresnet20", {}, 0.0, "eval"),
        (20, "lambda_inresnet20", {}, 0.0, "train"),
        (164, "inresnet164", {}, 1.0, "train"),
        (164, "lambda_inresnet164", {}, 0.0, "eval"),
        (20, "preact_resnet", {"depth": 20, "damping": "fixed", "lam": 0.0}, None, "train"),
        (
            20,
            "preact_resnet",
            {"depth": 20, "damping": "lambda_in", "per_channel": True},
            0.0,
            "eval",
        ),
        (
            20,
            "preact_resnet",
            {"depth": 20, "damping": "fixed", "lam": 0.0, "form": "lambda_in"},
            None,
            "eval",
        ),
    ],
)
def test_lambda_zero_is_resnet_bit_for_bit(
    depth: int, damped_name: str, kwargs: dict, k_zero_lambda: float | None, mode: str
) -> None:
    torch.manual_seed(0)
    base = resode.create_model(f"resnet{depth}", image_size=8)
    _randomise_bn(base)
    damped = resode.create_model(damped_name, **kwargs)
    _copy(base, damped)
    if k_zero_lambda is not None:
        _set_k(damped, k_zero_lambda)
    assert all(bool((v == 0).all()) for v in damped.interpolation_coefficients().values())
    base.train(mode == "train")
    damped.train(mode == "train")
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(base(x), damped(x))
    assert all(torch.equal(a, b) for a, b in zip(base.hidden_states(x), damped.hidden_states(x)))


_SMALL_RESNEXT = {"cardinality": 2, "base_width": 4, "depth": 29}


@pytest.mark.parametrize("damping", ["in", "lambda_in"])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_resnext_lambda_zero_is_resnext_bit_for_bit(damping: str, mode: str) -> None:
    """Same code path as ResNeXt-29 8x64d, at cardinality 2 and width 4 to stay fast."""
    torch.manual_seed(0)
    base = resode.create_model("resnext", **_SMALL_RESNEXT)
    _randomise_bn(base)
    damped = resode.create_model("resnext", damping=damping, **_SMALL_RESNEXT)
    _copy(base, damped)
    _set_k(damped, 1.0 if damping == "in" else 0.0)
    base.train(mode == "train")
    damped.train(mode == "train")
    x = torch.rand(2, 3, 8, 8)
    assert len(damped.interpolation_coefficients()) == 6
    assert torch.equal(base(x), damped(x))


@pytest.mark.parametrize(
    ("name", "kwargs", "k_one_lambda", "scale"),
    [
        ("inresnet20", {}, 0.0, 1.0),
        ("lambda_inresnet20", {}, 1.0, 2.0),
        ("inresnet164", {}, 0.0, 1.0),
        ("resnext", {"damping": "in", **_SMALL_RESNEXT}, 0.0, 1.0),
        ("resnext", {"damping": "lambda_in", **_SMALL_RESNEXT}, 1.0, 2.0),
    ],
)
def test_lambda_one_is_plain_layer(
    name: str, kwargs: dict, k_one_lambda: float, scale: float
) -> None:
    """λ = 1: x_{n+1} = f(x_n) (In form) and x_{n+1} = 2 f(x_n) (λ-In form) in damped blocks."""
    torch.manual_seed(0)
    model = resode.create_model(name, image_size=8, **kwargs).eval()
    _randomise_bn(model)
    _set_k(model, k_one_lambda)
    lams = model.interpolation_coefficients()
    assert lams and all(bool((v == 1).all()) for v in lams.values())
    states = model.hidden_states(torch.rand(2, 3, 8, 8))
    checked = 0
    for i, block in enumerate(model.blocks):
        assert isinstance(block, DampedBlock)
        h, h_next = states[i], states[i + 1]
        f = block.branch(h)
        if f"blocks.{i}" in lams:
            expected = f if scale == 1.0 else scale * f
            assert torch.equal(h_next, expected)
            assert not torch.allclose(h_next, f + block.shortcut(h))  # really not residual
            checked += 1
        else:
            assert torch.equal(h_next, f + block.shortcut(h))
    assert checked == len(lams)


def test_fixed_lambda_sweep_values() -> None:
    for lam in (0.0, 0.25, 0.5, 1.0):
        model = resode.create_model("preact_resnet", depth=20, damping="fixed", lam=lam)
        vals = model.interpolation_coefficients()
        assert len(vals) == 6 and all(v.item() == lam for v in vals.values())
        assert not any("damping" in n for n, _ in model.named_parameters())  # not trained


def test_initial_lambdas_of_registry_models() -> None:
    torch.manual_seed(0)
    for name, (lo, hi) in [
        ("inresnet20", (0.20, 0.25)),
        ("lambda_inresnet110", (0.20, 0.25)),
        ("inresnet164", (0.10, 0.20)),
        ("lambda_inresnet164", (0.10, 0.20)),
    ]:
        vals = torch.stack(list(resode.create_model(name).interpolation_coefficients().values()))
        assert vals.min() >= lo - 1e-6 and vals.max() <= hi + 1e-6, name
    vals = resode.create_model("inresnet20", k_init=[0.5, 0.5]).interpolation_coefficients()
    assert all(v.item() == 0.5 for v in vals.values())


def test_conv_init_variance() -> None:
    torch.manual_seed(0)
    model = resode.create_model("resnet56")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.bias is None for m in convs)
    # all 3x3 convs with C_out = 64: w ~ N(0, 2 / (k² C_out)), std = sqrt(2 / (9 * 64))
    w = torch.cat(
        [m.weight.flatten() for m in convs if m.weight.shape[0] == 64 and m.kernel_size == (3, 3)]
    )
    std = (2 / (9 * 64)) ** 0.5
    assert abs(w.std().item() / std - 1) < 0.02
    assert abs(w.mean().item()) < 0.02 * std
    # the 1×1 projection shortcuts, each scaled by its own fan-out std sqrt(2 / C_out)
    z = torch.cat(
        [
            m.weight.flatten() / (2 / m.weight.shape[0]) ** 0.5
            for m in convs
            if m.kernel_size == (1, 1)
        ]
    )
    assert z.numel() > 2000 and abs(z.std().item() - 1) < 0.05
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in bns)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in bns)


def test_normalization_defaults_and_channels() -> None:
    m3 = resode.create_model("resnet20")
    assert torch.allclose(m3.normalize.mean.flatten(), torch.tensor(CIFAR10_MEAN))
    assert torch.allclose(m3.normalize.std.flatten(), torch.tensor(CIFAR10_STD))
    m1 = resode.create_model("inresnet20", in_channels=1, image_size=16, num_classes=10)
    assert m1.normalize.mean.flatten().tolist() == [0.5]
    assert m1.normalize.std.flatten().tolist() == [0.25]
    assert m1(torch.rand(2, 1, 16, 16)).shape == (2, 10)
    assert m1.image_size == 16 and m1.in_channels == 1
    m = resode.create_model("resnet20", mean=[0.1, 0.2, 0.3], std=[0.5, 0.5, 0.5])
    assert m.normalize.mean.flatten().tolist() == pytest.approx([0.1, 0.2, 0.3])
    # size-agnostic: a model recorded for 32x32 also runs on other sizes
    assert m3(torch.rand(1, 3, 12, 20)).shape == (1, 10)


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = resode.create_model("inresnet20", in_channels=1, image_size=8, num_classes=4)
    path = resode.save_checkpoint(tmp_path / "m.pt", model)
    loaded = resode.load_checkpoint(path).model
    x = torch.rand(2, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x), loaded(x))
    assert isinstance(loaded, PreActResNet) and loaded.damping_kind == "in"


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(ResodeError) as info:
        resode.create_model("resnet21")
    msg = str(info.value)
    assert "resnet21" in msg and "resnet20" in msg and "inresnet110" in msg


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("preact_resnet", {"depth": 21}, "6n\\+2"),
        ("resnext", {"depth": 28}, "9n\\+2"),
        ("resnext", {"cardinality": 0}, "cardinality"),
        ("preact_resnet", {"damping": "bogus"}, "valid dampings"),
        ("preact_resnet", {"damping": "fixed"}, "lam="),
        ("resnet20", {"in_channels": 1, "mean": [0.1, 0.2]}, "in_channels=1"),
        ("resnet20", {"num_classes": 0}, "num_classes"),
        ("inresnet20", {"damping": "none"}, "inresnet20"),
        ("resnet20", {"widht": 3}, "resnet20"),
        ("inresnet20", {"per_channel": "yes"}, "per_channel"),
    ],
)
def test_bad_kwargs_raise_resode_error(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ResodeError, match=match):
        resode.create_model(name, **kwargs)


def test_sigmoid_and_per_channel_damping_in_a_model() -> None:
    torch.manual_seed(0)
    model = resode.create_model(
        "preact_resnet", depth=20, damping="sigmoid", per_channel=True, in_channels=1
    )
    lams = model.interpolation_coefficients()
    assert len(lams) == 6
    vals = torch.cat(list(lams.values()))
    assert vals.min() >= 0.20 - 1e-6 and vals.max() <= 0.25 + 1e-6
    out = model(torch.rand(2, 1, 8, 8))
    out.sum().backward()
    ks = [p for n, p in model.named_parameters() if n.endswith("damping.k")]
    assert len(ks) == 6 and all(k.grad is not None and k.grad.abs().sum() > 0 for k in ks)
