"""CIFAR-10-C noise corruptions: parameters, statistics, range, seeding, errors."""

from __future__ import annotations

import pytest
import torch

from resode.corruptions import (
    CORRUPTION_PARAMETERS,
    canonical_name,
    corrupt,
    corruption_parameter,
    list_corruptions,
)
from resode.errors import ResodeError

# the values of papers.md A.4 (official make_cifar_c.py)
PAPER = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500, 250, 100, 75, 50),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),
}


def grey(value: float = 0.5, n: int = 4) -> torch.Tensor:
    """(n, 3, 64, 64) constant image: 49 152 values, far from clipping at 0.5."""
    return torch.full((n, 3, 64, 64), value)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_parameters_are_the_cifar10c_ones():
    assert list_corruptions() == list(PAPER)
    for name, values in PAPER.items():
        assert CORRUPTION_PARAMETERS[name] == pytest.approx(values, abs=0)
        for s in range(1, 6):
            assert corruption_parameter(name, s) == values[s - 1]


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_gaussian_noise_std(severity):
    sigma = PAPER["gaussian_noise"][severity - 1]
    d = corrupt(grey(), "gaussian", severity, gen()) - 0.5
    assert abs(d.mean().item()) < 3 * sigma / d.numel() ** 0.5 + 1e-7
    assert d.std().item() == pytest.approx(sigma, rel=0.02)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_shot_noise_is_poisson(severity):
    """Poisson(c·x)/c: mean x, variance x/c, values on the grid k/c."""
    c = PAPER["shot_noise"][severity - 1]
    for x in (0.2, 0.5):
        out = corrupt(grey(x), "shot_noise", severity, gen(severity))
        assert out.mean().item() == pytest.approx(x, rel=0.01)
        assert out.var().item() == pytest.approx(x / c, rel=0.04)
        k = out * c
        assert torch.allclose(k, k.round(), atol=1e-3)


@pytest.mark.parametrize("severity", [1, 5])
def test_impulse_noise_fraction(severity):
    amount = PAPER["impulse_noise"][severity - 1]
    out = corrupt(grey(0.5), "impulse", severity, gen())
    changed = out != 0.5
    frac = changed.float().mean().item()
    assert frac == pytest.approx(amount, rel=0.06)
    # changed values are salt (1) or pepper (0), half each
    assert set(out[changed].unique().tolist()) <= {0.0, 1.0}
    salt = (out[changed] == 1).float().mean().item()
    assert salt == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("severity", [2, 5])
def test_speckle_noise_is_multiplicative(severity):
    sigma = PAPER["speckle_noise"][severity - 1]
    for x in (0.25, 0.5):
        d = corrupt(grey(x), "speckle", severity, gen()) - x
        assert d.std().item() == pytest.approx(x * sigma, rel=0.02)
    assert torch.equal(corrupt(grey(0.0), "speckle", severity, gen()), grey(0.0))


@pytest.mark.parametrize("name", list(PAPER))
def test_range_shape_seed_and_input_untouched(name):
    x = torch.rand(3, 3, 8, 8, generator=gen(1))
    x[0] = 0.0
    x[1] = 1.0
    before = x.clone()
    out = corrupt(x, name, 5, gen(2))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, before)
    assert torch.equal(out, corrupt(x, name, 5, gen(2)))
    assert not torch.equal(out, corrupt(x, name, 5, gen(3)))
    assert not torch.equal(out, x)


def test_severity_increases_the_noise():
    x = grey(0.5, n=2)
    for name in PAPER:
        errs = [(corrupt(x, name, s, gen()) - x).pow(2).mean().item() for s in range(1, 6)]
        assert errs == sorted(errs), name


def test_errors():
    x = grey(0.5, n=1)
    for bad in (0, 6, -1, 2.5, True, "3"):
        with pytest.raises(ResodeError, match="severity"):
            corrupt(x, "gaussian_noise", bad)
    with pytest.raises(ResodeError, match="unknown corruption"):
        corrupt(x, "fog_noise", 1)
    with pytest.raises(ResodeError, match=r"\[0, 1\]"):
        corrupt(x * 255, "gaussian_noise", 1)
    with pytest.raises(ResodeError):
        corrupt(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "gaussian_noise", 1)
    assert canonical_name("Gaussian-Noise") == "gaussian_noise"
    assert canonical_name("shot") == "shot_noise"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_is_the_documented_formula_on_the_generator_stream(dtype):
    """Same generator state ⇒ exactly the documented image, drawn in the images' dtype."""
    x = torch.rand(2, 3, 8, 8, generator=gen(4), dtype=dtype)
    for name, s in (("gaussian_noise", 3), ("speckle_noise", 4), ("shot_noise", 2)):
        p = CORRUPTION_PARAMETERS[name][s - 1]
        g = gen(9)
        if name == "shot_noise":
            expected = (torch.poisson(x * p, generator=g) / p).clamp(0, 1)
        else:
            e = torch.randn(x.shape, generator=g, dtype=dtype)
            expected = (x + p * e if name == "gaussian_noise" else x + x * (p * e)).clamp(0, 1)
        out = corrupt(x, name, s, gen(9))
        assert out.dtype == dtype and torch.equal(out, expected), name
    amount = CORRUPTION_PARAMETERS["impulse_noise"][4]
    g = gen(9)
    flipped = torch.rand(x.shape, generator=g, dtype=dtype) < amount
    salted = torch.rand(x.shape, generator=g, dtype=dtype) < 0.5
    expected = torch.where(flipped, salted.to(dtype), x)
    assert torch.equal(corrupt(x, "impulse_noise", 5, gen(9)), expected)


@pytest.mark.parametrize("name", list(PAPER))
def test_global_rng_without_a_generator(name):
    x = torch.rand(2, 3, 8, 8, generator=gen(1))
    torch.manual_seed(3)
    first = corrupt(x, name, 5)
    torch.manual_seed(3)
    assert torch.equal(corrupt(x, name, 5), first)
    assert not torch.equal(first, x) and first.min() >= 0 and first.max() <= 1


def test_speckle_clips_below_zero():
    """x + x·σ·ε < 0 needs ε < −1/σ: with σ = 1 a sizeable fraction is clipped to exactly 0."""
    from resode.corruptions import speckle_noise

    x = torch.full((1, 1, 64, 64), 0.5)
    out = speckle_noise(x, 1.0, gen(0))
    assert out.min() == 0.0 and (out == 0).float().mean() > 0.1 and out.max() == 1.0
