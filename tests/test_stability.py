"""Stability analysis: power iteration vs explicit SVD, closed forms on toy damped blocks."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resode.analysis.stability import (
    StabilityConfig,
    analyze_stability,
    block_amplification,
    block_sigma_max,
    feature_drift,
    random_direction,
)
from resode.nn.base import ResidualClassifier


class Damped(nn.Module):
    """g(h) = (1 − λ)·h + f(h) with a fixed λ."""

    def __init__(self, f: nn.Module, lam: float) -> None:
        super().__init__()
        self.f = f
        self.lam = lam

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (1 - self.lam) * h + self.f(h)

    def interpolation_coefficient(self) -> torch.Tensor:
        return torch.tensor(self.lam)


class Zero(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(h)


class MatMul(nn.Module):
    """f(h) = h Mᵀ on (N, D) features, i.e. f(h_i) = M h_i."""

    def __init__(self, m: torch.Tensor) -> None:
        super().__init__()
        self.m = nn.Parameter(m.clone())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.m.T


class ConvF(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(h))


def vector_model(blocks: list[nn.Module], d: int, k: int = 3) -> ResidualClassifier:
    torch.manual_seed(1)
    head = nn.Linear(d, k).double()
    return ResidualClassifier(nn.Identity(), nn.Identity(), nn.ModuleList(blocks), head).double()


def conv_model(lams: list[float], c: int = 2, k: int = 3) -> ResidualClassifier:
    torch.manual_seed(0)
    stem = nn.Conv2d(1, c, 3, padding=1)
    head = nn.Sequential(nn.Flatten(), nn.Linear(c * 4 * 4, k))
    blocks = nn.ModuleList([Damped(ConvF(c), lam) for lam in lams])
    return ResidualClassifier(nn.Identity(), stem, blocks, head).double().eval()


def local_fgsm(eps: float):
    def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        xg = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y), xg)
        return (x + eps * g.sign()).clamp(0, 1).detach()

    return attack


def test_power_iteration_matches_svd_of_explicit_jacobian() -> None:
    torch.manual_seed(3)
    block = Damped(ConvF(2), 0.3).double().eval()
    h = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    sigma = block_sigma_max(
        block, h, iters=2000, tol=1e-12, generator=torch.Generator().manual_seed(0)
    )
    for i in range(3):
        jac = torch.autograd.functional.jacobian(
            lambda v: block(v.view(1, 2, 4, 4)).flatten(), h[i].flatten()
        )
        expected = torch.linalg.svdvals(jac)[0]
        torch.testing.assert_close(sigma[i], expected, rtol=1e-6, atol=0)


def test_power_iteration_on_rectangular_block() -> None:
    """A block that changes the width (a projection shortcut) has a rectangular Jacobian."""
    torch.manual_seed(4)
    lin = nn.Linear(5, 3).double()
    block = nn.Sequential(lin, nn.Tanh())
    h = torch.randn(2, 5, dtype=torch.float64)
    sigma = block_sigma_max(block, h, iters=3000, tol=1e-15)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: block(v[None])[0], h[i])
        torch.testing.assert_close(sigma[i], torch.linalg.svdvals(jac)[0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("lam", [0.0, 0.25, 0.5, 1.0, 1.5])
def test_zero_residual_branch_amplification_is_abs_one_minus_lambda(lam: float) -> None:
    block = Damped(Zero(), lam)
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(8, 3, 4, 4, dtype=torch.float64, generator=gen)
    for rel in (1e-3, 1e-1, 1.0):  # (rounding of h + δ grows like 1e-16/rel)
        delta = random_direction(h, rel, gen)
        amp = block_amplification(block, h, delta)
        torch.testing.assert_close(amp, torch.full_like(amp, abs(1 - lam)), rtol=1e-12, atol=1e-12)
    sigma = block_sigma_max(block, h, iters=5)
    torch.testing.assert_close(sigma, torch.full_like(sigma, abs(1 - lam)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
def test_zero_residual_branch_through_analyze_stability(lam: float) -> None:
    d = 6
    model = vector_model([Damped(Zero(), lam) for _ in range(3)], d)
    x = torch.rand(10, d, dtype=torch.float64)
    y = torch.arange(10) % 3
    cfg = StabilityConfig(n_samples=10, batch_size=4, power_iters=5, float64=True)
    res = analyze_stability(model, x, y, cfg, adversarial=local_fgsm(0.05))
    expect = abs(1 - lam)
    for key in ("amp_random_mean", "amp_attack_mean", "sigma_max_mean", "amp_random_geomean"):
        assert getattr(res, key) == pytest.approx([expect] * 3, rel=1e-10, abs=1e-12), key
    assert res.amp_random_std == pytest.approx([0.0] * 3, abs=1e-12)
    assert res.cum_sigma_max == pytest.approx([expect, expect**2, expect**3], rel=1e-10, abs=1e-12)
    assert res.lambdas == pytest.approx([lam] * 3)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_toy_linear_block_matches_hand_computation(lam: float) -> None:
    """g(h) = (1 − λ)h + Mh: amplification ‖Aδ‖/‖δ‖, σ_max = σ₁(A), A = (1 − λ)I + M; attack
    direction = ∇_{h_n}L computed by hand through the linear network."""
    d, k, depth = 5, 3, 2
    gen = torch.Generator().manual_seed(7)
    m = 0.4 * torch.randn(d, d, dtype=torch.float64, generator=gen)
    a_mat = (1 - lam) * torch.eye(d, dtype=torch.float64) + m
    model = vector_model([Damped(MatMul(m), lam) for _ in range(depth)], d, k)
    h = torch.randn(4, d, dtype=torch.float64, generator=gen)
    delta = torch.randn(4, d, dtype=torch.float64, generator=gen)
    amp = block_amplification(model.blocks[0], h, delta)
    expected = (delta @ a_mat.T).norm(dim=1) / delta.norm(dim=1)
    torch.testing.assert_close(amp, expected, rtol=1e-12, atol=0)
    sigma = block_sigma_max(model.blocks[0], h, iters=5000, tol=1e-15)
    s1 = torch.linalg.svdvals(a_mat)[0]
    torch.testing.assert_close(sigma, s1.expand(4), rtol=1e-6, atol=0)

    # whole analysis: attack direction by hand
    x = torch.rand(6, d, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    cfg = StabilityConfig(n_samples=6, batch_size=6, power_iters=5000, power_tol=1e-15)
    res = analyze_stability(model, x, y, cfg, adversarial=local_fgsm(0.03))
    w = model.head.weight.detach()
    hs = [x]
    for _ in range(depth):
        hs.append(hs[-1] @ a_mat.T)
    p = torch.softmax(hs[-1] @ w.T + model.head.bias.detach(), dim=1)
    g = (p - F.one_hot(y, k).double()) @ w  # ∇_{h_B} L per sample
    grads = [None] * depth
    for n in reversed(range(depth)):
        g = g @ a_mat  # ∇_{h_n} = Aᵀ ∇_{h_{n+1}}
        grads[n] = g
    for n in range(depth):
        amp_att = (grads[n] @ a_mat.T).norm(dim=1) / grads[n].norm(dim=1)
        assert res.amp_attack_mean[n] == pytest.approx(float(amp_att.mean()), rel=1e-10)
        assert res.sigma_max_mean[n] == pytest.approx(float(s1), rel=1e-6)
    assert res.cum_sigma_max[-1] == pytest.approx(float(s1) ** depth, rel=1e-6)
    # linear map: amplification along any δ is below σ_max
    assert max(res.amp_random_mean) <= float(s1) * (1 + 1e-9)


def test_feature_drift_with_pure_damping_is_constant_over_depth() -> None:
    """f = 0, λ = 0.5: h_n = 0.5ⁿ h_0, so every layer drifts by ‖η‖/‖x‖."""
    model = vector_model([Damped(Zero(), 0.5) for _ in range(4)], 6)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(5, 6, dtype=torch.float64, generator=gen)
    eta = 0.01 * torch.randn(5, 6, dtype=torch.float64, generator=gen)
    drift = feature_drift(model, x, x + eta)
    expected = eta.norm(dim=1) / x.norm(dim=1)
    assert drift.shape == (5, 5)
    for n in range(5):
        torch.testing.assert_close(drift[:, n], expected, rtol=1e-12, atol=0)


def test_conv_model_result_serialises(tmp_path) -> None:
    model = conv_model([0.0, 0.3, 1.0])
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 4, 4, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    cfg = StabilityConfig(n_samples=6, batch_size=4, power_iters=30)
    res = analyze_stability(model, x, y, cfg, name="toy", adversarial=local_fgsm(0.05))
    assert len(res.amp_random_mean) == 3 and len(res.drift_noise_mean) == 4
    # amplification along a direction never exceeds the top singular value (small δ)
    for ar, sm in zip(res.amp_random_mean, res.sigma_max_mean):
        assert ar <= sm * (1 + 1e-3)
    assert all(v >= 0 for v in res.drift_adv_mean)
    assert res.drift_noise_mean[0] > 0
    res.to_json(tmp_path / "s.json")
    back = json.loads((tmp_path / "s.json").read_text())
    assert back["lambdas"] == pytest.approx([0.0, 0.3, 1.0])
    res.to_csv(tmp_path / "s.csv")
    lines = (tmp_path / "s.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 4 and lines[0].startswith("model,layer,block,lambda")
    assert not model.training


def test_rejects_non_residual_model() -> None:
    from resode.errors import ResodeError

    with pytest.raises(ResodeError, match="ResidualClassifier"):
        analyze_stability(nn.Linear(2, 2), torch.rand(2, 2), torch.zeros(2, dtype=torch.long))


def test_library_fgsm_drift_matches_local_fgsm() -> None:
    pytest.importorskip("resode.attacks")
    model = conv_model([0.2, 0.5])
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(6, 1, 4, 4, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    cfg = StabilityConfig(n_samples=6, batch_size=6, power_iters=3, eps=0.05, attack="fgsm")
    lib = analyze_stability(model, x, y, cfg)
    loc = analyze_stability(model, x, y, cfg, adversarial=local_fgsm(0.05))
    assert lib.drift_adv_mean == pytest.approx(loc.drift_adv_mean, rel=1e-9)
    assert lib.drift_adv_mean[0] > 0


def _digits_checkpoints(tmp_path) -> list[str]:
    import resode

    paths = []
    for name in ("resnet20", "inresnet20"):
        torch.manual_seed(0)
        model = resode.create_model(name, num_classes=10, in_channels=1, image_size=8)
        cfg = {"dataset": "digits", "image_size": 8, "data_root": None}
        paths.append(str(resode.save_checkpoint(tmp_path / f"{name}.pt", model, config=cfg)))
    return paths


@pytest.mark.slow
def test_cli_stability_end_to_end(tmp_path) -> None:
    from resode.cli import main

    paths = _digits_checkpoints(tmp_path)
    out = tmp_path / "out"
    argv = [
        "stability",
        *paths,
        "--out",
        str(out),
        "--n-samples",
        "4",
        "--power-iters",
        "3",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(argv) == 0
    for name in ("stability.png", "stability.json", "stability.csv", "stability.md"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "stability.json").read_text())
    assert [m["model"] for m in data["models"]] == ["resnet20", "inresnet20"]
    assert data["config"]["n_samples"] == 4 and data["seed"] == 0
    r20, in20 = data["models"]
    assert all(v is None for v in r20["lambdas"])
    assert sum(v is not None for v in in20["lambdas"]) == 6  # first/downsampling blocks undamped
    assert len(in20["drift_adv_mean"]) == len(in20["blocks"]) + 1
    assert "## Comparison" in (out / "stability.md").read_text()
    # a checkpoint without a recorded dataset needs --dataset: one-line error, exit code 2
    import resode

    bare = resode.save_checkpoint(tmp_path / "bare.pt", resode.load_checkpoint(paths[0]).model)
    assert main(["stability", str(bare), "--out", str(out), "--n-samples", "2"]) == 2
