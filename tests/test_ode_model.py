"""Paper B model: the scaled residual MLP of eq. (3) is an Euler scheme; exact gradients."""

from __future__ import annotations

import math

import pytest
import torch

from resode.errors import ResodeError
from resode.ode.init import initialize
from resode.ode.measures import neural_ode_output
from resode.ode.scaled_resnet import ScaledResidualMLP, StackedResidual, layer_major
from resode.ode.train import loss_and_grads

F64 = torch.float64


def _model(L=6, d=3, m=4, q=None, **kw) -> ScaledResidualMLP:
    kw.setdefault("dtype", F64)
    return ScaledResidualMLP(L, d, m, hidden_dim=q, **kw)


@pytest.mark.parametrize("normalisation", ["paper", "official"])
@pytest.mark.parametrize("activation", ["gelu", "tanh", "relu"])
def test_network_is_euler_scheme_of_piecewise_constant_field(normalisation, activation):
    """F_L(x) = torchdiffeq fixed-step Euler (step 1/L) on dH/ds = Lc·V(s)σ(rW(s)H), to 1e-12."""
    L = 12
    model = _model(L, d=3, m=5, q=4, activation=activation, normalisation=normalisation)
    initialize(model, "iid", seed=1, zero_v=False)
    with torch.no_grad():
        model.A.copy_(torch.randn(4, 3, dtype=F64))
        model.B.copy_(torch.randn(3, 4, dtype=F64))
    x = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    euler = neural_ode_output(model, x, interpolation="constant", method="euler", step_size=1 / L)
    with torch.no_grad():
        net = model(x)
        net_ref = model(x, fast=False)
    assert torch.allclose(net, euler, rtol=0, atol=1e-12)
    assert torch.allclose(net, net_ref, rtol=0, atol=1e-12)


def test_zero_v_gives_linear_map_bax():
    model = _model(5, d=3, m=4, q=6, out_dim=2, train_embeddings=True)
    initialize(model, "iid", seed=0, zero_v=True)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.A.copy_(torch.randn(6, 3, generator=g, dtype=F64))
        model.B.copy_(torch.randn(2, 6, generator=g, dtype=F64))
    x = torch.randn(8, 3, generator=g, dtype=F64)
    expected = x @ model.A.detach().T @ model.B.detach().T
    with torch.no_grad():
        assert torch.allclose(model(x), expected, atol=1e-14)


def test_default_embeddings_are_paper_block_identities():
    model = _model(2, d=3, m=4, q=5, out_dim=2)
    assert torch.equal(model.A, torch.cat([torch.eye(3), torch.zeros(2, 3)]).to(F64))
    assert torch.equal(model.B, torch.cat([torch.zeros(2, 3), torch.eye(2)], dim=1).to(F64))


@pytest.mark.parametrize("seeds", [None, 3])
def test_tied_init_has_zero_weight_differences(seeds):
    model = _model(16, n_seeds=seeds)
    initialize(model, "tied", seed=4, zero_v=False)
    assert model.weight_differences().abs().max() == 0
    assert model.W.abs().sum() > 0 and model.V.abs().sum() > 0


def test_seed_batch_equals_separate_models():
    x = torch.randn(5, 3, dtype=F64)
    batched = _model(8, n_seeds=3, activation="softplus")
    initialize(batched, "iid", seed=10, zero_v=False)
    with torch.no_grad():
        out = batched(x)
    for i in range(3):
        single = _model(8, activation="softplus")
        initialize(single, "iid", seed=10 + i, zero_v=False)
        with torch.no_grad():
            assert torch.allclose(out[i], single(x), atol=1e-13)


def test_sqrt_depth_scaling_factor_is_applied():
    """Same weights: the 1/√L residual is √L times the 1/L residual (and 1/(L√m) for paper)."""
    L, m = 16, 4
    a = _model(L, m=m, normalisation="official", scaling_exponent=0.5)
    b = _model(L, m=m, normalisation="official", scaling_exponent=1.0)
    p = _model(L, m=m, normalisation="paper", scaling_exponent=1.0)
    assert a.c == pytest.approx(1 / math.sqrt(L)) and b.c == pytest.approx(1 / L)
    assert p.c == pytest.approx(1 / (L * math.sqrt(m))) and p.r == pytest.approx(1 / math.sqrt(3))
    initialize(a, "iid", seed=0, zero_v=False)
    b.load_state_dict(a.state_dict())
    h = torch.randn(4, 3, dtype=F64)
    with torch.no_grad():
        assert torch.allclose(a.residual(3, h), math.sqrt(L) * b.residual(3, h), atol=1e-14)


def test_hand_computed_gradients_two_layers():
    """Scalar net (d=q=m=1, tanh): h1 = x + v1·tanh(w1 x)/2, h2 = h1 + v2·tanh(w2 h1)/2."""
    model = _model(2, d=1, m=1, activation="tanh", normalisation="official")
    v1, v2, w1, w2, x, y = 0.7, -1.3, 0.4, 1.1, 0.9, 0.2
    with torch.no_grad():
        model.V.copy_(torch.tensor([v1, v2], dtype=F64).view(2, 1, 1))
        model.W.copy_(torch.tensor([w1, w2], dtype=F64).view(2, 1, 1))
    h1 = x + 0.5 * v1 * math.tanh(w1 * x)
    h2 = h1 + 0.5 * v2 * math.tanh(w2 * h1)

    def sech2(u):
        return 1.0 - math.tanh(u) ** 2

    e = 2 * (h2 - y)
    dh2_dh1 = 1 + 0.5 * v2 * sech2(w2 * h1) * w2
    expected = {
        "v1": e * dh2_dh1 * 0.5 * math.tanh(w1 * x),
        "v2": e * 0.5 * math.tanh(w2 * h1),
        "w1": e * dh2_dh1 * 0.5 * v1 * sech2(w1 * x) * x,
        "w2": e * 0.5 * v2 * sech2(w2 * h1) * h1,
    }
    g = loss_and_grads(model, torch.tensor([[x]], dtype=F64), torch.tensor([[y]], dtype=F64))
    assert g.loss.item() == pytest.approx((h2 - y) ** 2, rel=1e-14)
    got = {"v1": g.V[0, 0], "v2": g.V[0, 1], "w1": g.W[0, 0], "w2": g.W[0, 1]}
    for k, v in expected.items():
        assert got[k].item() == pytest.approx(v, rel=1e-12), k


@pytest.mark.parametrize("activation", ["gelu", "tanh", "softplus", "identity"])
def test_stacked_adjoint_passes_gradcheck(activation):
    g = torch.Generator().manual_seed(0)
    S, L, n, q, m = 2, 3, 4, 3, 5
    h0 = torch.randn(S, n, q, generator=g, dtype=F64, requires_grad=True)
    V = torch.randn(S, L, q, m, generator=g, dtype=F64, requires_grad=True)
    W = torch.randn(S, L, m, q, generator=g, dtype=F64, requires_grad=True)

    def f(h0, V, W):
        return StackedResidual.apply(h0, V, W, 0.3, 0.7, activation)

    assert torch.autograd.gradcheck(f, (h0, V, W))


def test_layer_major_round_trip():
    t = torch.randn(2, 5, 3, 4)
    assert layer_major(t).shape == (5, 2, 3, 4)
    assert torch.equal(layer_major(layer_major(t)), t)


@pytest.mark.parametrize("image_size,channels", [(8, 1), (16, 1), (32, 3)])
def test_scaled_convnet_registered_starts_as_identity_blocks(image_size, channels):
    from resode import create_model, list_models

    assert "scaled_convnet" in list_models()
    model = create_model(
        "scaled_convnet",
        depth=6,
        activation="gelu",
        init="tied",
        num_classes=10,
        in_channels=channels,
        image_size=image_size,
        mean=[0.5] * channels,
        std=[0.25] * channels,
    ).eval()
    x = torch.rand(3, channels, image_size, image_size)
    assert model(x).shape == (3, 10)
    hs = model.hidden_states(x)
    assert len(hs) == 7 and all(torch.equal(hs[0], h) for h in hs)  # bn2.weight = 0 at init
    Z = model.block_weights()
    assert torch.equal(Z, Z[:1].expand_as(Z))  # tied
    iid = create_model(
        "scaled_convnet", depth=6, init="iid", in_channels=channels, image_size=image_size
    )
    Zi = iid.block_weights()
    assert (Zi[1:] - Zi[:-1]).norm(dim=1).min() > 0
    assert iid.blocks[0].scale == pytest.approx(1 / 6)


@pytest.mark.parametrize("chunk_layers", [1, 3, 100])
@pytest.mark.parametrize("seeds", [None, 2])
def test_gelu_chunked_derivative_matches_autograd(monkeypatch, chunk_layers, seeds):
    """GELU's σ' computed per chunk of layers (chunks of 1, 3 (8 = 3+3+2) and all 8 layers),
    one seed (2-D matmuls) or two (batched): loss gradients equal autograd's to 1e-12."""
    from resode.ode import scaled_resnet

    L, n, m = 8, 5, 4
    monkeypatch.setattr(scaled_resnet, "_GELU_CHUNK", chunk_layers * (seeds or 1) * n * m)
    model = _model(L, d=3, m=m, n_seeds=seeds, normalisation="official")
    initialize(model, "iid", seed=0, zero_v=False)
    x = torch.randn(n, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    y = torch.randn(n, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    loss = ((model(x, fast=False) - y) ** 2).mean((-1, -2)).sum()
    gV, gW = torch.autograd.grad(loss, [model.V, model.W])
    g = loss_and_grads(model, x, y)
    shape = gV.shape
    assert torch.allclose(g.V.reshape(shape), gV, atol=1e-12)
    assert torch.allclose(g.W.reshape(shape[:-2] + gW.shape[-2:]), gW, atol=1e-12)


# ---- analytic float64 checks (written from mutation testing's survivors) ----------------------


def _random_weights(model: ScaledResidualMLP, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in (model.V, model.W, model.A, model.B):
            t.copy_(0.7 * torch.randn(t.shape, generator=g, dtype=t.dtype))


@pytest.mark.parametrize("seeds", [None, 2])
@pytest.mark.parametrize("normalisation", ["paper", "official"])
def test_identity_activation_is_a_product_of_matrices(normalisation, seeds):
    """σ = id: h_{k+1} = h_k (I + c r W_kᵀ V_kᵀ), so F(x) = x Aᵀ Π_k (I + c r W_kᵀ V_kᵀ) Bᵀ."""
    L, d, q, m, dout = 5, 3, 4, 6, 2
    model = _model(
        L,
        d=d,
        m=m,
        q=q,
        out_dim=dout,
        activation="identity",
        n_seeds=seeds,
        normalisation=normalisation,
    )
    c, r = (1 / (L * math.sqrt(m)), 1 / math.sqrt(q)) if normalisation == "paper" else (1 / L, 1.0)
    _random_weights(model)
    x = torch.randn(7, d, dtype=F64, generator=torch.Generator().manual_seed(1))
    A, V, W, B = model.stacked()
    with torch.no_grad():
        for s in range(A.shape[0]):
            P = torch.eye(q, dtype=F64)
            for k in range(L):
                P = P @ (torch.eye(q, dtype=F64) + c * r * W[s, k].T @ V[s, k].T)
            expected = x @ A[s].T @ P @ B[s].T
            for fast in (True, False):
                out = model(x, fast=fast)
                out = out if seeds is None else out[s]
                assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12), (s, fast)


@pytest.mark.parametrize("activation", ["relu", "softplus", "tanh", "gelu"])
def test_stacked_forward_states_and_activations_match_the_definition(activation):
    """Every hidden state h_k and stored σ, σ' of the fast forward equal the per-layer formula."""
    from resode.ode.scaled_resnet import activation_derivative, activation_fn, residual_forward

    model = _model(4, d=3, m=5, q=3, activation=activation, n_seeds=2)
    _random_weights(model, seed=3)
    x = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        hs = model.hidden_states(x)
        _, V, W, _ = model.stacked()
        hL, cache = residual_forward(
            hs[0], layer_major(V), layer_major(W), c=model.c, r=model.r, activation=activation
        )
    _, s_a, s_d = cache.scales
    assert torch.allclose(hL, hs[-1], atol=1e-13)
    for k in range(4):
        assert torch.allclose(cache.hs[k], hs[k], atol=1e-13)
        pre = model.r * hs[k] @ W[:, k].transpose(-1, -2)
        assert torch.allclose(cache.act[k] * s_a, activation_fn(activation, pre), atol=1e-13)
        assert torch.allclose(
            cache.dsig[k] * s_d, activation_derivative(activation, pre), atol=1e-13
        )


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("seeds", [1, 3])
def test_stacked_adjoint_gradcheck_relu_and_one_seed(activation, seeds):
    g = torch.Generator().manual_seed(5)
    L, n, q, m = 3, 4, 3, 5
    h0 = torch.randn(seeds, n, q, generator=g, dtype=F64, requires_grad=True)
    V = torch.randn(seeds, L, q, m, generator=g, dtype=F64, requires_grad=True)
    W = torch.randn(seeds, L, m, q, generator=g, dtype=F64, requires_grad=True)

    def f(h0, V, W):
        return StackedResidual.apply(h0, V, W, 0.4, 0.9, activation)

    assert torch.autograd.gradcheck(f, (h0, V, W))


def test_activation_derivatives_closed_forms():
    from resode.ode.scaled_resnet import activation_and_derivative, activation_derivative

    x = torch.linspace(-4, 4, 81, dtype=F64)
    xa = x.clone().requires_grad_(True)
    for name, fn in (
        ("gelu", torch.nn.functional.gelu),
        ("tanh", torch.tanh),
        ("softplus", torch.nn.functional.softplus),
        ("identity", lambda t: t),
    ):
        (grad,) = torch.autograd.grad(fn(xa).sum(), xa)
        assert torch.allclose(activation_derivative(name, x), grad, atol=1e-14), name
    relu = activation_derivative("relu", torch.tensor([-1.0, 0.0, 2.0], dtype=F64))
    assert relu.tolist() == [0.0, 0.0, 1.0] and relu.dtype == F64
    # the stored forms for GELU: out_a = √2·xΦ(x), out_d = 2(Φ(x) + xφ(x)) at z = x/√2
    a, dd = torch.empty_like(x), torch.empty_like(x)
    activation_and_derivative("gelu", x / math.sqrt(2), a, dd)
    assert torch.allclose(a, math.sqrt(2) * torch.nn.functional.gelu(x), atol=1e-14)
    assert torch.allclose(dd, 2 * activation_derivative("gelu", x), atol=1e-14)
    with pytest.raises(ResodeError, match="unknown activation 'swish'"):
        activation_and_derivative("swish", x, a, dd)
    with pytest.raises(ResodeError, match="unknown activation 'swish'"):
        activation_derivative("swish", x)


def test_model_shapes_and_errors():
    m = _model(3, d=2, m=4, q=5, out_dim=3, n_seeds=2, train_embeddings=True)
    assert m.V.shape == (2, 3, 5, 4) and m.W.shape == (2, 3, 4, 5)
    assert m.A.shape == (2, 5, 2) and m.B.shape == (2, 3, 5) and m.V.dtype == F64
    assert {n for n, _ in m.named_parameters()} == {"V", "W", "A", "B"}
    buf = _model(3, d=2, m=4)
    assert {n for n, _ in buf.named_buffers()} == {"A", "B"}
    assert "depth=3, d=2, q=2, m=4, d'=2, activation=gelu" in repr(buf)
    assert "scaling=L^-1, seeds=None" in repr(buf)
    for kw in ({"n_seeds": 0}, {"activation": "swish"}, {"out_dim": 0}, {"hidden_dim": 0}):
        with pytest.raises(ResodeError):
            ScaledResidualMLP(3, 2, 4, **kw)
    with pytest.raises(ResodeError, match="normalisation"):
        ScaledResidualMLP(3, 2, 4, normalisation="other")
