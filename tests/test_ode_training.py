"""Paper B training: depth-scaled GD, its per-iteration record, inits (experiments: see
tests/test_ode_experiments.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resode.errors import ResodeError
from resode.ode.init import initialize
from resode.ode.scaled_resnet import ScaledResidualMLP
from resode.ode.train import loss_and_grads, train_gd

F64 = torch.float64


def _data(n=10, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64)


def test_one_step_is_depth_scaled_gradient_step():
    L, lr = 8, 0.03
    x, y = _data()
    model = ScaledResidualMLP(L, 3, 4, dtype=F64, train_embeddings=True, normalisation="paper")
    initialize(model, "iid", seed=0, zero_v=False)
    ref = ScaledResidualMLP(L, 3, 4, dtype=F64, train_embeddings=True, normalisation="paper")
    ref.load_state_dict(model.state_dict())
    loss = ((ref(x, fast=False) - y) ** 2).mean()
    gA, gV, gW, gB = torch.autograd.grad(loss, [ref.A, ref.V, ref.W, ref.B])
    res = train_gd(model, x, y, iterations=1, lr=lr)
    with torch.no_grad():
        assert torch.allclose(model.V, ref.V - L * lr * gV, atol=1e-14)
        assert torch.allclose(model.W, ref.W - L * lr * gW, atol=1e-14)
        assert torch.allclose(model.A, ref.A - lr * gA, atol=1e-14)
        assert torch.allclose(model.B, ref.B - lr * gB, atol=1e-14)
    # PL ratio of Definition 1 at t = 0
    pl = gA.square().sum() + L * (gV.square().sum() + gW.square().sum()) + gB.square().sum()
    assert res.history["pl_ratio"][0, 0] == pytest.approx(float((pl / loss).detach()), rel=1e-10)
    assert res.history["loss"][0, 0] == pytest.approx(float(loss.detach()), rel=1e-12)


def test_history_records_weight_differences_and_norms():
    L = 16
    x, y = _data()
    model = ScaledResidualMLP(L, 3, 5, dtype=F64, n_seeds=2, normalisation="official")
    initialize(model, "tied", seed=1)
    res = train_gd(model, x, y, iterations=20, lr=0.05)
    h = res.history
    assert h["loss"].shape == (21, 2)
    assert np.all(h["max_dz"][0] == 0)  # tied init
    assert np.allclose(h["L_max_dz"], L * h["max_dz"])
    assert np.all(h["max_dz"][2:] > 0) and np.all(h["mean_dz"] <= h["max_dz"] + 1e-15)
    assert h["loss"][-1].max() < h["loss"][0].min()
    dz = model.weight_differences()  # final weights vs the record of the last state
    assert np.allclose(dz.max(-1).values.numpy(), h["max_dz"][-1])
    V, W = model.V.detach(), model.W.detach()
    assert np.allclose(h["norm_v"][-1], V.flatten(1).norm(dim=1).numpy())
    assert np.allclose(h["norm_w"][-1], W.flatten(1).norm(dim=1).numpy())
    assert np.all(np.diff(res.running_max_dz(), axis=0) >= 0)


def test_gradient_clipping_bounds_the_update():
    L, lr, clip = 8, 0.5, 1e-3
    x, y = _data()
    model = ScaledResidualMLP(L, 3, 4, dtype=F64, normalisation="official")
    initialize(model, "iid", seed=0, zero_v=False)
    V0, W0 = model.V.detach().clone(), model.W.detach().clone()
    train_gd(model, x, y, iterations=1, lr=lr, clip=clip)
    step = torch.cat([(model.V - V0).flatten(), (model.W - W0).flatten()]).norm().detach()
    assert float(step) == pytest.approx(clip, rel=1e-10)


def test_float32_and_float64_agree():
    x, y = _data()
    out = []
    for dtype in (torch.float32, F64):
        model = ScaledResidualMLP(12, 3, 4, dtype=dtype, normalisation="official")
        initialize(model, "tied", seed=0)
        out.append(train_gd(model, x, y, iterations=10, lr=0.05).history["loss"][-1, 0])
    assert out[0] == pytest.approx(out[1], rel=1e-5)


def test_loss_reduction_sample_scales_by_output_dim():
    x, y = _data(d=3)
    model = ScaledResidualMLP(4, 3, 4, dtype=F64)
    initialize(model, "iid", seed=0, zero_v=False)
    a = loss_and_grads(model, x, y, loss_reduction="mean")
    b = loss_and_grads(model, x, y, loss_reduction="sample")
    assert torch.allclose(b.loss, 3 * a.loss) and torch.allclose(b.V, 3 * a.V)
    with pytest.raises(ResodeError):
        loss_and_grads(model, x, y, loss_reduction="sum")


def test_gp_init_is_smooth_and_iid_is_rough():
    """max_k‖Z_{k+1} − Z_k‖ = O(1/L) for the GP init, O(1) for i.i.d."""
    mx = {}
    for scheme in ("gp", "iid"):
        for L in (32, 128):
            m = ScaledResidualMLP(L, 3, 4)
            initialize(m, scheme, seed=0, zero_v=False, length_scale=0.2, gp_grid=128)
            mx[scheme, L] = float(m.weight_differences().max())
    assert mx["gp", 32] / mx["gp", 128] == pytest.approx(4, rel=0.2)
    assert mx["iid", 32] / mx["iid", 128] == pytest.approx(1, rel=0.3)
    assert mx["iid", 128] > 20 * mx["gp", 128]


def test_user_function_init_and_errors():
    L, q, m = 5, 3, 2

    def z(s):
        return (
            s.view(-1, 1, 1) * torch.ones(L, q, m, dtype=s.dtype),
            torch.cos(s).view(-1, 1, 1) * torch.ones(L, m, q, dtype=s.dtype),
        )

    model = ScaledResidualMLP(L, q, m, dtype=F64)
    initialize(model, "function", z_init=z)
    assert torch.allclose(model.V[:, 0, 0], torch.arange(1, L + 1, dtype=F64) / L)
    with pytest.raises(ResodeError, match="z_init"):
        initialize(model, "function")
    with pytest.raises(ResodeError, match="unknown init"):
        initialize(model, "smooth")
