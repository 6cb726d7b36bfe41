"""Paper B training: depth-scaled GD, its per-iteration record, inits (experiments: see
tests/test_ode_experiments.py)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

from resode.errors import NumericalError, ResodeError
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


def test_gradient_clipping_acts_per_layer():
    """Z_k ← Z_k − lr·π(L ∇_{Z_k}ℓ), π(g) = g·min(1, clip/‖g‖): layers above the bound move by
    exactly lr·clip, the others take the plain step (global clipping moves none by lr·clip)."""
    L, lr = 8, 0.5
    x, y = _data()
    model = ScaledResidualMLP(L, 3, 4, dtype=F64, normalisation="official")
    initialize(model, "iid", seed=0, zero_v=False)
    g = loss_and_grads(model, x, y)
    layer = L * torch.sqrt(g.V[0].square().sum((1, 2)) + g.W[0].square().sum((1, 2)))
    clip = float(layer.median())  # half of the layers are clipped
    clipped = layer > clip
    assert 0 < int(clipped.sum()) < L
    V0, W0 = model.V.detach().clone(), model.W.detach().clone()
    train_gd(model, x, y, iterations=1, lr=lr, clip=clip)
    dV, dW = (model.V - V0).detach(), (model.W - W0).detach()
    step = torch.sqrt(dV.square().sum((1, 2)) + dW.square().sum((1, 2)))
    assert torch.allclose(step[clipped], torch.full_like(step[clipped], lr * clip), rtol=1e-12)
    plain = ~clipped
    assert torch.allclose(dV[plain], -lr * L * g.V[0][plain], atol=1e-15)
    assert torch.allclose(dW[plain], -lr * L * g.W[0][plain], atol=1e-15)


def test_gradient_clipping_is_per_seed_and_depth_independent():
    """Each seed and layer is bounded by lr·clip whatever L (global clipping: ~lr·clip/√L)."""
    lr, clip = 0.1, 1e-4
    x, y = _data()
    for L in (4, 64):
        model = ScaledResidualMLP(L, 3, 4, dtype=F64, n_seeds=2, normalisation="official")
        initialize(model, "iid", seed=3, zero_v=False)
        V0, W0 = model.V.detach().clone(), model.W.detach().clone()
        train_gd(model, x, y, iterations=1, lr=lr, clip=clip)
        step = ((model.V - V0).square().sum((2, 3)) + (model.W - W0).square().sum((2, 3))).sqrt()
        assert torch.allclose(step.detach(), torch.full((2, L), lr * clip, dtype=F64), rtol=1e-10)


def test_embedding_clipping_bounds_a_and_b():
    lr, clip = 0.5, 1e-6
    x, y = _data()
    model = ScaledResidualMLP(4, 3, 4, dtype=F64, train_embeddings=True)
    initialize(model, "iid", seed=0, zero_v=False)
    A0, B0 = model.A.detach().clone(), model.B.detach().clone()
    train_gd(model, x, y, iterations=1, lr=lr, clip=clip)
    for P, P0 in ((model.A, A0), (model.B, B0)):
        assert float((P.detach() - P0).norm()) == pytest.approx(lr * clip, rel=1e-10)


def test_rate_exponent_follows_the_scaling_exponent():
    """Default residual rate L^{2α−1}·lr: L·lr for 1/L, lr for 1/√L; an explicit e overrides."""
    L, lr = 16, 0.02
    x, y = _data()
    for alpha, e_default in ((1.0, 1.0), (0.5, 0.0)):
        for e in (None, 0.5):
            model = ScaledResidualMLP(L, 3, 4, dtype=F64, scaling_exponent=alpha)
            initialize(model, "iid", seed=0, zero_v=False)
            g = loss_and_grads(model, x, y)
            V0 = model.V.detach().clone()
            train_gd(model, x, y, iterations=1, lr=lr, lr_depth_exponent=e)
            rate = lr * L ** (e_default if e is None else e)
            assert torch.allclose(model.V.detach(), V0 - rate * g.V, atol=1e-15)


def test_sqrt_depth_network_trains_with_the_consistent_rate():
    """1/√L at L = 256 with lr = 1e-2: the rate lr (e = 0) trains for 100 iterations; the
    1/L-consistent rate L·lr (the old default) diverges within a few iterations."""
    L, d, m = 256, 16, 32  # the depth-sweep widths (n reduced)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, d, generator=g), torch.randn(20, d, generator=g)
    model = ScaledResidualMLP(L, d, m, normalisation="official", scaling_exponent=0.5)
    initialize(model, "tied", seed=0)
    res = train_gd(model, x, y, iterations=100, lr=1e-2)
    loss = res.history["loss"][:, 0]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    old = ScaledResidualMLP(L, d, m, normalisation="official", scaling_exponent=0.5)
    initialize(old, "tied", seed=0)
    with pytest.raises(NumericalError):
        train_gd(old, x, y, iterations=100, lr=1e-2, lr_depth_exponent=1.0)


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


HAS_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = [
    "torch",
    pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seeds,n,m,d", [(None, 12, 8, 11), (3, 40, 80, 5)])  # fused / hybrid
def test_float32_backends_match_float64_run(backend, seeds, n, m, d):
    """float32 GD with either backend follows the float64 run (history and final weights)."""
    L, T = 16, 30
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64)
    runs = {}
    for dtype, name in ((F64, "torch"), (torch.float32, backend)):
        model = ScaledResidualMLP(L, d, m, dtype=dtype, n_seeds=seeds, normalisation="official")
        initialize(model, "tied", seed=2)
        res = train_gd(model, x, y, iterations=T, lr=0.05, backend=name)
        assert res.backend == name
        runs[dtype] = (res.history, model.V.detach().double(), model.W.detach().double())
    (h64, V64, W64), (h32, V32, W32) = runs[F64], runs[torch.float32]
    for key in h64:
        assert np.allclose(h32[key], h64[key], rtol=2e-5, atol=1e-6), key
    assert torch.allclose(V32, V64, rtol=0, atol=2e-5 * float(V64.abs().max()))
    assert torch.allclose(W32, W64, rtol=0, atol=2e-5 * float(W64.abs().max()))


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
def test_numba_gelu_matches_exact_gelu():
    """Stored forms a = z(1 + erf z), D = 1 + erf z + (2/√π) z e^{−z²} to float32 accuracy."""
    from resode.ode import numba_backend

    x = torch.cat([torch.linspace(-14, 14, 20001), torch.tensor([0.0, 1e-30, -1e-8, 3e-4])])
    P = x.view(1, 1, -1).float().numpy().copy()
    A, D = np.empty_like(P), np.empty_like(P)
    numba_backend._gelu_layer(P, np.float32(1 / math.sqrt(2)), A, D)
    z = x.double() / math.sqrt(2)
    a = z * (1 + torch.erf(z))
    dd = 1 + torch.erf(z) + 2 / math.sqrt(math.pi) * z * torch.exp(-z * z)
    assert np.abs(A[0, 0] - a.numpy()).max() <= 2e-6 * max(1.0, float(a.abs().max()))
    assert np.abs(D[0, 0] - dd.numpy()).max() <= 2e-6


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
@pytest.mark.parametrize(("L", "embed"), [(1, True), (5, False), (5, True)])
def test_numba_record_row_is_the_history_row(L, embed):
    """The compiled record equals _layer_sums + _history_row, and its per-layer ‖∇Z_k‖²."""
    from resode.ode import numba_backend
    from resode.ode.train import LossGrads, _history_row, _layer_sums

    g32 = torch.Generator().manual_seed(L)
    S, q, m, d = 3, 4, 6, 2

    def rnd(*shape):
        return torch.randn(*shape, generator=g32)

    V, W = rnd(L, S, q, m), rnd(L, S, m, q)
    g = LossGrads(rnd(S).abs(), rnd(S, q, d), rnd(L, S, q, m), rnd(L, S, m, q), rnd(S, d, q))
    row, gz2 = numba_backend.record_row(V, W, g, rate=0.3, lr=0.01, embed=embed)
    sums, gsums = _layer_sums(V, W, True, {}), _layer_sums(g.V, g.W, False, {})
    expected = _history_row(g, sums, gsums, rate=0.3, lr=0.01, embed=embed)
    assert np.allclose(row, expected, rtol=1e-6, atol=0)
    assert np.allclose(gz2, gsums[0] + gsums[1], rtol=1e-6, atol=0)


def test_backend_resolution(monkeypatch):
    from resode.ode.train import resolve_backend

    cpu = torch.device("cpu")
    assert resolve_backend("auto", F64, "gelu", cpu) == "torch"
    assert resolve_backend("auto", torch.float32, "tanh", cpu) == "torch"
    expected = "numba" if HAS_NUMBA else "torch"
    assert resolve_backend("auto", torch.float32, "gelu", cpu) == expected
    monkeypatch.setenv("RESODE_GD_BACKEND", "torch")
    assert resolve_backend(None, torch.float32, "gelu", cpu) == "torch"
    with pytest.raises(ResodeError, match="numba"):
        resolve_backend("numba", F64, "gelu", cpu)
    with pytest.raises(ResodeError, match="unknown GD backend"):
        resolve_backend("jax", torch.float32, "gelu", cpu)


# ---- the GD step and its record, checked in float64 (written from mutation testing's survivors)


def _grads(model, x, y):
    """Autograd reference: loss ℓ = mean (F − y)² and ∂ℓ/∂(A, V, W, B), seed-major."""
    ref = ScaledResidualMLP(
        model.depth,
        model.in_dim,
        model.width,
        hidden_dim=model.hidden_dim,
        out_dim=model.out_dim,
        activation=model.activation,
        normalisation=model.normalisation,
        scaling_exponent=model.scaling_exponent,
        n_seeds=model.n_seeds,
        dtype=F64,
        train_embeddings=True,
    )
    ref.load_state_dict(model.state_dict())
    out = ref(x, fast=False)
    loss = ((out - y) ** 2).mean((-1, -2))
    grads = torch.autograd.grad(loss.sum(), [ref.A, ref.V, ref.W, ref.B])
    return loss.detach(), [g.detach() for g in grads]


@pytest.mark.parametrize("embed", [False, True])
def test_history_row_is_the_documented_record(embed):
    """t = 0 row of every key from autograd gradients and the weights, per seed, two seeds."""
    L, lr = 6, 0.01
    x, y = _data(n=7)
    model = ScaledResidualMLP(
        L, 3, 4, hidden_dim=5, dtype=F64, n_seeds=2, train_embeddings=embed, activation="tanh"
    )
    initialize(model, "iid", seed=2, zero_v=False)
    loss, (gA, gV, gW, gB) = _grads(model, x, y)
    V, W = model.V.detach().clone(), model.W.detach().clone()
    h = train_gd(model, x, y, iterations=1, lr=lr).history
    gz2 = gV.square().sum((1, 2, 3)) + gW.square().sum((1, 2, 3))
    gab2 = gA.square().sum((1, 2)) + gB.square().sum((1, 2))
    layer2 = V.square().sum((2, 3)) + W.square().sum((2, 3))  # (S, L)
    dz = (
        (V[:, 1:] - V[:, :-1]).square().sum((2, 3)) + (W[:, 1:] - W[:, :-1]).square().sum((2, 3))
    ).sqrt()
    step = (gz2 + (gab2 / L**2 if embed else 0.0)).sqrt()  # step length / (L·lr)
    expected = {
        "loss": loss,
        "max_dz": dz.max(1).values,
        "L_max_dz": L * dz.max(1).values,
        "mean_dz": dz.mean(1),
        "pl_ratio": (gab2 + L * gz2) / loss,
        "grad_norm": step,
        "norm_v": V.flatten(1).norm(dim=1),
        "norm_w": W.flatten(1).norm(dim=1),
        "max_norm_z": layer2.max(1).values.sqrt(),
    }
    for key, value in expected.items():
        assert h[key][0] == pytest.approx(value.numpy(), rel=1e-10), key
    assert h["loss"][1] == pytest.approx(_grads(model, x, y)[0].numpy(), rel=1e-10)


def test_loss_and_grads_convert_data_to_the_model_dtype():
    x, y = _data()
    model = ScaledResidualMLP(4, 3, 4, dtype=torch.float32)
    initialize(model, "iid", seed=0, zero_v=False)
    a = loss_and_grads(model, x, y)  # float64 data, float32 model
    b = loss_and_grads(model, x.float(), y.float())
    assert a.loss.dtype == torch.float32 and a.V.dtype == torch.float32
    assert torch.equal(a.loss, b.loss) and torch.equal(a.V, b.V) and torch.equal(a.B, b.B)


def test_per_seed_data_and_one_step_per_seed():
    """x, y with a seed dim (S, n, d): each seed trains on its own data (two seeds = two models)."""
    L, lr = 5, 0.02
    g = torch.Generator().manual_seed(7)
    xs, ys = (
        torch.randn(2, 6, 3, generator=g, dtype=F64),
        torch.randn(2, 6, 3, generator=g, dtype=F64),
    )
    both = ScaledResidualMLP(L, 3, 4, dtype=F64, n_seeds=2, train_embeddings=True)
    initialize(both, "iid", seed=0, zero_v=False)
    singles = []
    for s in range(2):
        one = ScaledResidualMLP(L, 3, 4, dtype=F64, train_embeddings=True)
        with torch.no_grad():
            for name in ("A", "V", "W", "B"):
                getattr(one, name).copy_(getattr(both, name)[s])
        singles.append(one)
    train_gd(both, xs, ys, iterations=2, lr=lr)
    for s, one in enumerate(singles):
        train_gd(one, xs[s], ys[s], iterations=2, lr=lr)
        for name in ("A", "V", "W", "B"):
            assert torch.allclose(getattr(both, name)[s], getattr(one, name), atol=1e-14), name


def test_snapshots_are_copies_at_the_requested_iterations():
    x, y = _data()
    model = ScaledResidualMLP(6, 3, 4, dtype=F64, n_seeds=2)
    initialize(model, "iid", seed=0, zero_v=False)
    V0 = model.V.detach().clone()
    seen = []
    res = train_gd(
        model,
        x,
        y,
        iterations=4,
        lr=0.05,
        snapshot_at=[0, 4],
        on_snapshot=lambda t, v, w: seen.append((t, v.shape, w.shape)),
    )
    assert sorted(res.snapshots) == [0, 4]
    assert seen == [(0, (2, 6, 3, 4), (2, 6, 4, 3)), (4, (2, 6, 3, 4), (2, 6, 4, 3))]
    assert torch.equal(res.snapshots[0][0], V0)
    assert torch.equal(res.snapshots[4][0], model.V.detach())
    assert torch.equal(res.snapshots[4][1], model.W.detach())
    assert not torch.equal(res.snapshots[0][0], res.snapshots[4][0])


def test_train_gd_rejects_bad_arguments_with_their_values():
    x, y = _data()
    model = ScaledResidualMLP(4, 3, 4, dtype=F64)
    for kw, msg in (
        ({"iterations": -1}, "iterations must be >= 0, got -1"),
        ({"lr": 0.0}, "learning rate must be > 0, got 0.0"),
        ({"clip": 0.0}, "gradient clip must be > 0 or None, got 0.0"),
    ):
        with pytest.raises(ResodeError, match=msg):
            train_gd(model, x, y, **{"iterations": 1, "lr": 0.1, **kw})
    train_gd(model, x, y, iterations=1, lr=0.1, clip=0.5)  # a clip below 1 is allowed
    for xb, yb in ((x[:, :2], y), (x, y[:, :2]), (x, y[:5])):
        with pytest.raises(ResodeError, match="does not fit the model"):
            train_gd(model, xb, yb, iterations=1, lr=0.1)
    res = train_gd(model, x, y, iterations=0, lr=0.1)
    assert res.history["loss"].shape == (1, 1) and res.seconds >= 0 and res.backend == "torch"


def test_embedding_clipping_is_per_seed():
    lr, clip = 0.5, 1e-6
    x, y = _data()
    model = ScaledResidualMLP(4, 3, 4, dtype=F64, n_seeds=2, train_embeddings=True)
    initialize(model, "iid", seed=0, zero_v=False)
    A0, B0 = model.A.detach().clone(), model.B.detach().clone()
    train_gd(model, x, y, iterations=1, lr=lr, clip=clip)
    for P, P0 in ((model.A, A0), (model.B, B0)):
        moved = (P.detach() - P0).flatten(1).norm(dim=1)
        assert moved.tolist() == pytest.approx([lr * clip] * 2, rel=1e-10)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
@pytest.mark.parametrize(
    "n,m,entry", [(12, 8, "fused_loss_and_grads"), (128, 80, "hybrid_forward")]
)
def test_numba_backend_is_the_one_that_runs(monkeypatch, n, m, entry):
    """backend="numba" runs the compiled kernels: fused while S·n·m is small, else hybrid."""
    from resode.ode import numba_backend

    assert (n * m <= numba_backend.FUSED_MAX_LAYER_SIZE) == (entry == "fused_loss_and_grads")
    calls = []
    real = getattr(numba_backend, entry)

    def spy(*args, **kw):
        calls.append(entry)
        return real(*args, **kw)

    monkeypatch.setattr(numba_backend, entry, spy)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g)
    model = ScaledResidualMLP(4, 5, m, normalisation="official")
    initialize(model, "tied", seed=0)
    assert train_gd(model, x, y, iterations=1, lr=0.01, backend="numba").backend == "numba"
    assert calls == [entry, entry]  # one loss-and-gradient evaluation per iteration t = 0, 1
