"""Coefficient parametrisations and damped blocks: closed forms, inits, gradients, identities."""

from __future__ import annotations

import math

import pytest
import torch

from resode.errors import ResodeError
from resode.nn.blocks import DampedBlock, PreActBasicBlock, PreActBottleneck, PreActResNeXtBlock
from resode.nn.damping import (
    FixedDamping,
    InDamping,
    LambdaInDamping,
    SigmoidDamping,
    default_k_init,
    make_damping,
)


def test_parametrisations_closed_forms() -> None:
    k = torch.tensor([-0.5, 0.0, 0.3, 1.0, 1.7])
    d_in, d_lin, d_sig = (
        InDamping(channels=5),
        LambdaInDamping(channels=5),
        SigmoidDamping(channels=5),
    )
    with torch.no_grad():
        for d in (d_in, d_lin, d_sig):
            d.k.copy_(k)
    assert torch.equal(d_in.value(), torch.tensor([1.5, 1.0, 0.7, 0.0, 0.0]))
    assert torch.equal(d_lin.value(), torch.tensor([0.0, 0.0, 0.3, 1.0, 1.7]))
    assert torch.allclose(d_sig.value(), 1 / (1 + torch.exp(-k)))
    assert torch.equal(FixedDamping(0.3).value(), torch.tensor(0.3))
    assert FixedDamping(0.3, channels=4).value().shape == (4,)
    assert (d_in.form, d_lin.form, d_sig.form) == ("in", "lambda_in", "in")


def test_sigmoid_is_bounded() -> None:
    d = SigmoidDamping(channels=3)
    with torch.no_grad():
        d.k.copy_(torch.tensor([-30.0, 0.0, 30.0]))
    lam = d.value()
    assert lam.min() >= 0 and lam.max() <= 1 and lam[1] == 0.5


@pytest.mark.parametrize(
    ("cls", "depth", "lam_range"),
    [
        (InDamping, 20, (0.20, 0.25)),
        (InDamping, 110, (0.20, 0.25)),
        (InDamping, 164, (0.10, 0.20)),
        (LambdaInDamping, 56, (0.20, 0.25)),
        (LambdaInDamping, 164, (0.10, 0.20)),
        (SigmoidDamping, 20, (0.20, 0.25)),
        (SigmoidDamping, 164, (0.10, 0.20)),
    ],
)
def test_initial_lambda_range(cls: type, depth: int, lam_range: tuple[float, float]) -> None:
    torch.manual_seed(0)
    lam = cls(channels=2000, depth=depth).value()
    lo, hi = lam_range
    eps = 1e-6
    assert lam.min() >= lo - eps and lam.max() <= hi + eps
    # the draws fill the range (uniform init, not a constant)
    assert lam.min() < lo + 0.01 * (hi - lo) + eps and lam.max() > hi - 0.01 * (hi - lo) - eps


def test_default_k_init_matches_paper() -> None:
    assert default_k_init("in") == pytest.approx((0.75, 0.80))
    assert default_k_init("in", 164) == pytest.approx((0.80, 0.90))
    assert default_k_init("lambda_in") == pytest.approx((0.20, 0.25))
    assert default_k_init("lambda_in", 164) == pytest.approx((0.10, 0.20))
    lo, hi = default_k_init("sigmoid")
    assert 1 / (1 + math.exp(-lo)) == pytest.approx(0.20)
    assert 1 / (1 + math.exp(-hi)) == pytest.approx(0.25)


def test_k_init_override() -> None:
    d = InDamping((0.5, 0.5))
    assert d.k.item() == 0.5 and d.value().item() == 0.5


def test_in_resnet_k_above_one_has_zero_gradient() -> None:
    d = InDamping(channels=3)
    with torch.no_grad():
        d.k.copy_(torch.tensor([1.2, 3.0, 0.5]))
    d.value().sum().backward()
    assert torch.equal(d.k.grad, torch.tensor([0.0, 0.0, -1.0]))


def test_in_resnet_block_k_above_one_zero_gradient_in_network() -> None:
    torch.manual_seed(0)
    block = PreActBasicBlock(4, 4, damping=InDamping((1.5, 1.5)))
    block(torch.randn(2, 4, 5, 5)).square().sum().backward()
    assert block.damping.k.grad is not None and block.damping.k.grad.item() == 0.0


def test_make_damping_and_errors() -> None:
    assert make_damping("none") is None
    assert isinstance(make_damping("in"), InDamping)
    assert isinstance(make_damping("lambda_in", channels=3), LambdaInDamping)
    assert make_damping("fixed", lam=0.7, form="lambda_in").form == "lambda_in"
    with pytest.raises(ResodeError, match="valid dampings"):
        make_damping("bogus")
    with pytest.raises(ResodeError, match="lam="):
        make_damping("fixed")
    with pytest.raises(ResodeError, match="lam="):
        make_damping("in", lam=0.2)
    with pytest.raises(ResodeError, match="k_init"):
        make_damping("in", k_init=(0.9, 0.1))
    with pytest.raises(ResodeError, match="form"):
        make_damping("sigmoid", form="out")


def _blocks() -> list[tuple[str, DampedBlock, int]]:
    """(name, undamped block, in_channels) for each block family, identity and projection."""
    return [
        ("basic", PreActBasicBlock(4, 4), 4),
        ("basic-proj", PreActBasicBlock(4, 8, stride=2), 4),
        ("bottleneck", PreActBottleneck(8, 2), 8),
        ("resnext", PreActResNeXtBlock(8, 4, 8, cardinality=2), 8),
    ]


@pytest.mark.parametrize("form", ["in", "lambda_in"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_block_forms_closed_form(form: str, per_channel: bool) -> None:
    torch.manual_seed(0)
    for _name, block, c_in in _blocks():
        block.eval()
        x = torch.randn(2, c_in, 6, 6)
        f, s = block.branch(x), block.shortcut(x)
        c_out = f.shape[1]
        lam_val = torch.rand(c_out) if per_channel else torch.rand(())
        block.damping = FixedDamping(0.0, channels=c_out if per_channel else None, form=form)
        with torch.no_grad():
            block.damping.lam.copy_(lam_val)
        lam = lam_val.view(1, -1, 1, 1) if per_channel else lam_val
        expected = f + (1 - lam) * s if form == "in" else (1 + lam) * f + (1 - lam) * s
        assert torch.allclose(block(x), expected, atol=1e-6)
        # λ = 0: bit-for-bit the undamped block; λ = 1: the plain layer f (In) or 2f (λ-In)
        block.damping.lam.fill_(0.0)
        assert torch.equal(block(x), f + s)
        block.damping.lam.fill_(1.0)
        assert torch.equal(block(x), f if form == "in" else 2 * f)


def test_per_channel_size_mismatch_is_an_error() -> None:
    with pytest.raises(ResodeError, match="per-channel"):
        PreActBasicBlock(4, 4, damping=InDamping(channels=3))


def test_interpolation_coefficient() -> None:
    assert PreActBasicBlock(4, 4).interpolation_coefficient() is None
    d = InDamping((0.8, 0.8), channels=4)
    lam = PreActBasicBlock(4, 4, damping=d).interpolation_coefficient()
    assert lam is not None and lam.shape == (4,) and torch.allclose(lam, torch.full((4,), 0.2))


@pytest.mark.parametrize(
    "damping", [InDamping((0.6, 0.8)), LambdaInDamping((0.2, 0.3)), SigmoidDamping()]
)
def test_gradcheck_damped_block_float64(damping: torch.nn.Module) -> None:
    """Analytic vs finite-difference gradients of a damped block, w.r.t. x, k and a conv weight."""
    torch.manual_seed(0)
    block = PreActBasicBlock(2, 2, damping=damping).double().eval()
    # non-trivial BN statistics so the eval-mode BN is a generic affine map
    for m in block.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    k = block.damping.k
    w = block.branch[2].weight

    def fn(x: torch.Tensor, k_: torch.Tensor, w_: torch.Tensor) -> torch.Tensor:
        params = {"damping.k": k_, "branch.2.weight": w_}
        return torch.func.functional_call(block, params, (x,))

    k_in = k.detach().clone().requires_grad_(True)
    w_in = w.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x, k_in, w_in), eps=1e-6, atol=1e-5)


def test_gradcheck_damped_block_train_mode_k_only() -> None:
    """Train-mode BN (batch statistics) with λ per channel: gradient w.r.t. k."""
    torch.manual_seed(1)
    block = PreActBasicBlock(3, 3, damping=InDamping((0.7, 0.9), channels=3)).double().train()
    x = torch.randn(4, 3, 3, 3, dtype=torch.float64)

    def fn(k_: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(block, {"damping.k": k_}, (x,))

    k_in = block.damping.k.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (k_in,), eps=1e-6, atol=1e-5)


def test_constructor_arguments_reach_the_coefficient() -> None:
    """k_init, lam, form and channels given to a constructor are the ones used, and bad values
    are refused with a message that names the valid ones."""
    assert SigmoidDamping(k_init=(0.3, 0.3)).k.item() == pytest.approx(0.3)
    assert SigmoidDamping(k_init=(0.3, 0.3), channels=2, form="lambda_in").k.shape == (2,)
    assert SigmoidDamping(form="lambda_in").form == "lambda_in"
    fixed = FixedDamping(0.25, channels=3, form="lambda_in")
    assert torch.equal(fixed.value(), torch.full((3,), 0.25)) and fixed.form == "lambda_in"
    for bad in (float("nan"), float("inf"), "0.5", None):
        with pytest.raises(ResodeError, match="finite number lam="):
            FixedDamping(bad)  # type: ignore[arg-type]
    with pytest.raises(ResodeError, match="valid forms: in, lambda_in"):
        FixedDamping(0.5, form="out")
    for bad_channels in (0, -2, 1.5):
        with pytest.raises(ResodeError, match="channels must be a positive int"):
            InDamping(channels=bad_channels)  # type: ignore[arg-type]
    for bad_range in ((0.5,), "ab", (0.2, float("nan")), (0.9, 0.1)):
        with pytest.raises(ResodeError, match="k_init"):
            InDamping(k_init=bad_range)  # type: ignore[arg-type]
    assert InDamping(k_init=(0.4, 0.4)).k_init == (0.4, 0.4)


def test_make_damping_forwards_and_checks_every_argument() -> None:
    s = make_damping("sigmoid", k_init=(0.3, 0.3), channels=2, form="lambda_in")
    assert torch.allclose(s.k, torch.full((2,), 0.3)) and s.form == "lambda_in"
    lo, hi = default_k_init("sigmoid", depth=164)
    deep = make_damping("sigmoid", depth=164, channels=64)
    assert lo <= deep.k.min().item() and deep.k.max().item() <= hi
    with pytest.raises(ResodeError, match=r"^damping='fixed' needs lam=<number>, e\.g\. lam=0\.5$"):
        make_damping("fixed")
    for kind in ("none", "fixed"):
        with pytest.raises(
            ResodeError,
            match=f"k_init= is only used with a learnable damping, not damping='{kind}'",
        ):
            make_damping(kind, k_init=(0.1, 0.2), lam=0.5 if kind == "fixed" else None)


def test_damping_repr_names_its_setting() -> None:
    assert repr(FixedDamping(0.5)) == "FixedDamping(lam=0.5, scalar, form=in)"
    assert "channels=3" in repr(FixedDamping(0.5, channels=3))
    assert repr(InDamping(k_init=(0.7, 0.8))) == "InDamping(scalar, k_init=(0.7, 0.8))"
    assert "channels=4, k_init=(0.2, 0.25)" in repr(LambdaInDamping(channels=4))
