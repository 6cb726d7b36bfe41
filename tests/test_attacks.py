"""Adversarial attacks: constraint sets, linear-model closed forms, determinism, model safety."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from resode.attacks import (
    FGSM,
    IFGSM,
    PGD,
    autoattack_available,
    list_attacks,
    make_attack,
    per_sample_norm,
)
from resode.errors import ResodeError

TOL = 1e-6


def linear_model(d: int, k: int, seed: int = 0, dtype=torch.float64) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(d, k).to(dtype)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(k, d, generator=g, dtype=dtype))
        lin.bias.copy_(torch.randn(k, generator=g, dtype=dtype) * 0.1)
    return nn.Sequential(nn.Flatten(), lin).eval()


def small_convnet(seed: int = 0, classes: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, classes),
    )


# ------------------------------------------------------------------ constraint sets (property)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["fgsm", "ifgsm", "pgd", "square"]),
    norm=st.sampled_from(["Linf", "L2"]),
    n=st.integers(1, 3),
    c=st.integers(1, 2),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    eps=st.floats(0.0, 1.0),
    early=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_output_in_eps_ball_and_box(name, norm, n, c, h, w, eps, early, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, w, generator=g)
    x[0, 0, 0, 0] = 0.0  # pixels on the box boundary
    if x.numel() > 1:
        x.view(-1)[-1] = 1.0
    y = torch.randint(0, 3, (n,), generator=g)
    model = linear_model(c * h * w, 3, seed, dtype=torch.float32)
    kw = {} if name == "fgsm" else {"steps": 3, "alpha": max(eps, 1e-3)}
    if name == "pgd":
        kw["restarts"] = 2
    if name == "square":  # L∞ only, gradient-free
        kw, norm = {"queries": 4}, "Linf"
    attack = make_attack(name, model, eps=eps, norm=norm, early_stop=early, seed=seed, **kw)
    adv = attack(x, y)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert adv.min() >= 0 and adv.max() <= 1
    assert per_sample_norm(adv - x, norm).max() <= eps + TOL


def test_pgd_projects_around_clean_input_not_random_start():
    """Random start + full steps stay within ε (the official code lets δ reach 2ε)."""
    torch.manual_seed(0)
    x = 0.25 + 0.5 * torch.rand(16, 1, 6, 6)
    model = small_convnet()
    y = torch.randint(0, 4, (16,))
    eps = 8 / 255
    attack = PGD(model, eps=eps, steps=10, alpha=eps, early_stop=False, seed=1)
    delta = (attack(x, y) - x).abs().amax(dim=(1, 2, 3))
    assert delta.max() <= eps + TOL
    assert delta.min() >= 0.99 * eps  # steps of size ε from the random start reach the boundary


# ------------------------------------------------------------------ closed forms


def test_fgsm_linear_closed_form_multiclass():
    """∇ₓCE(Wx + b, y) = Σ_k p_k (w_k − w_y): FGSM = clip(x + ε·sign(Σ_k p_k (w_k − w_y)))."""
    d, k, eps = 20, 5, 0.05
    model = linear_model(d, k)
    lin = model[1]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (8,), generator=g)
    p = F.softmax(lin(x), dim=1)
    grad = p @ lin.weight - lin.weight[y]
    expected = (x + eps * grad.sign()).clamp(0, 1)
    adv = FGSM(model, eps=eps, early_stop=False)(x, y)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-12)
    # L2 version: x + ε·g/‖g‖₂ (x in the interior so the box does not bind)
    x_in = 0.3 + 0.4 * x
    p = F.softmax(lin(x_in), dim=1)
    grad = p @ lin.weight - lin.weight[y]
    expected = x_in + eps * grad / grad.norm(dim=1, keepdim=True)
    adv = FGSM(model, eps=eps, norm="L2", early_stop=False)(x_in, y)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-12)


def test_fgsm_linear_closed_form_binary_and_early_stop():
    """Two classes: sign(p_{1−y}(w_{1−y} − w_y)) = sign(w_{1−y} − w_y), whatever p."""
    d, eps = 12, 0.1
    model = linear_model(d, 2, seed=3)
    w = model[1].weight
    x = torch.rand(10, d, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1] * 5)
    expected = (x + eps * (w[1 - y] - w[y]).sign()).clamp(0, 1)
    adv = FGSM(model, eps=eps, early_stop=False)(x, y)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-12)
    # with early stopping the misclassified samples are returned unchanged
    wrong = model(x).argmax(1) != y
    assert wrong.any() and (~wrong).any()
    adv_es = FGSM(model, eps=eps)(x, y)
    torch.testing.assert_close(adv_es[wrong], x[wrong], rtol=0, atol=0)
    torch.testing.assert_close(adv_es[~wrong], expected[~wrong], rtol=0, atol=1e-12)


def _binary_setup(d: int = 16, seed: int = 4):
    model = linear_model(d, 2, seed=seed)
    lin = model[1]
    g = torch.Generator().manual_seed(seed)
    x = 0.3 + 0.4 * torch.rand(6, d, generator=g, dtype=torch.float64)  # far from the box faces
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    wdiff = lin.weight[y] - lin.weight[1 - y]  # margin m(x) = wdiff·x + bdiff

    def margin(z):
        return (lin(z).gather(1, y[:, None]) - lin(z).gather(1, (1 - y)[:, None])).squeeze(1)

    return model, x, y, wdiff, margin


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_linf_reaches_analytic_optimum(random_start):
    """min_{‖δ‖∞≤ε} m(x + δ) = m(x) − ε‖w_y − w_{y'}‖₁ (δ = −ε sign(w_y − w_{y'}))."""
    model, x, y, wdiff, margin = _binary_setup()
    eps = 0.1
    attack = PGD(
        model, eps=eps, steps=10, alpha=0.05, random_start=random_start, early_stop=False, seed=0
    )
    adv = attack(x, y)
    expected = margin(x) - eps * wdiff.abs().sum(1)
    torch.testing.assert_close(margin(adv), expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(adv, x - eps * wdiff.sign(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_l2_reaches_analytic_optimum(random_start):
    """min_{‖δ‖₂≤ε} m(x + δ) = m(x) − ε‖w_y − w_{y'}‖₂ (inside the box)."""
    model, x, y, wdiff, margin = _binary_setup()
    eps = 0.1
    attack = PGD(
        model,
        eps=eps,
        norm="L2",
        steps=100,
        alpha=eps / 2,
        random_start=random_start,
        early_stop=False,
        seed=0,
    )
    adv = attack(x, y)
    expected = margin(x) - eps * wdiff.norm(dim=1)
    torch.testing.assert_close(margin(adv), expected, rtol=0, atol=1e-8)


def test_ifgsm_is_bim_with_paper_defaults():
    model = linear_model(4, 3)
    a = IFGSM(model, eps=8 / 255)
    assert a.steps == 20 and a.alpha == pytest.approx(1 / 255) and not a.random_start_enabled
    assert PGD(model, eps=8 / 255).alpha == pytest.approx(1 / 255)
    assert PGD(model, eps=0.5, norm="L2", steps=10).alpha == pytest.approx(0.125)


def test_targeted_pgd_reaches_target():
    d, k = 10, 4
    model = linear_model(d, k, seed=5)
    x = torch.rand(12, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = model(x).argmax(1)
    t = (y + 1) % k
    adv = PGD(model, eps=1.0, steps=50, alpha=0.05, targeted=True)(x, y, t)
    assert torch.equal(model(adv).argmax(1), t)
    with pytest.raises(ResodeError):
        PGD(model, eps=0.1)(x, y, t)  # target labels for an untargeted attack


# ------------------------------------------------------------------ early stopping


def test_early_stopping_never_weaker_than_full_run():
    """Robust with early stopping ⇒ robust in the full run (same per-sample trajectories)."""
    model = small_convnet(seed=1, classes=3).double().eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(48, 1, 6, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (48,), generator=g)
    for norm, eps in (("Linf", 0.05), ("L2", 0.3)):
        kw = {"eps": eps, "norm": norm, "steps": 8, "restarts": 2, "seed": 3}
        adv_es = PGD(model, early_stop=True, **kw)(x, y)
        adv_full = PGD(model, early_stop=False, **kw)(x, y)
        ok_es = model(adv_es).argmax(1) == y
        ok_full = model(adv_full).argmax(1) == y
        assert not (ok_es & ~ok_full).any()
        assert ok_es.sum() <= ok_full.sum()
        clean_wrong = model(x).argmax(1) != y
        assert torch.equal(adv_es[clean_wrong], x[clean_wrong])


# ------------------------------------------------------------------ determinism


def test_seeded_determinism():
    model = small_convnet().eval()
    x = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(8) % 4
    a1 = PGD(model, eps=0.1, steps=3, seed=7)(x, y)
    a2 = PGD(model, eps=0.1, steps=3, seed=7)(x, y)
    a3 = PGD(model, eps=0.1, steps=3, seed=8)(x, y)
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, a3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    attack = PGD(model, eps=0.1, steps=3, norm="L2")
    assert torch.equal(attack(x, y, generator=g1), attack(x, y, generator=g2))


# ------------------------------------------------------------------ the model is left alone


@pytest.mark.parametrize("name", ["fgsm", "ifgsm", "pgd", "transfer", "square"])
def test_model_mode_and_parameters_untouched(name):
    model = small_convnet()
    model.train()
    model[3].eval()  # a mixed-mode model: dropout in eval, the rest in train
    model[0].bias.requires_grad_(False)
    model[5].weight.grad = torch.full_like(model[5].weight, 0.5)
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(6, 1, 6, 6)
    y = torch.arange(6) % 4
    kw = {"surrogate": small_convnet(seed=2)} if name == "transfer" else {}
    adv = make_attack(name, model, eps=0.1, **kw)(x, y)
    assert not adv.requires_grad
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    for k, v in model.state_dict().items():  # weights and BatchNorm running statistics
        assert torch.equal(v, state[k]), k
    assert torch.equal(model[5].weight.grad, torch.full_like(model[5].weight, 0.5))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "5.weight")


def test_attack_inside_no_grad_and_inference_mode():
    model = small_convnet().eval()
    x, y = torch.rand(4, 1, 6, 6), torch.arange(4)
    ref = PGD(model, eps=0.1, steps=2)(x, y)
    with torch.no_grad():
        assert torch.equal(PGD(model, eps=0.1, steps=2)(x, y), ref)
    with torch.inference_mode():
        assert torch.equal(PGD(model, eps=0.1, steps=2)(x, y), ref)


# ------------------------------------------------------------------ errors


def test_bad_input_errors():
    model = linear_model(4, 3, dtype=torch.float32)
    x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 1])
    for eps in (-0.1, 1.5, 8, float("nan")):
        with pytest.raises(ResodeError, match="eps"):
            PGD(model, eps=eps)
    with pytest.raises(ResodeError, match="eps"):
        PGD(model, eps=-1.0, norm="L2")
    PGD(model, eps=2.0, norm="L2")  # an L2 radius above 1 is meaningful
    with pytest.raises(ResodeError, match="unknown attack"):
        make_attack("deepfool", model, eps=0.1)
    with pytest.raises(ResodeError, match="norm"):
        FGSM(model, eps=0.1, norm="L1")
    with pytest.raises(ResodeError, match=r"\[0, 1\]"):
        FGSM(model, eps=0.1)(x * 255, y)
    with pytest.raises(ResodeError, match="labels"):
        FGSM(model, eps=0.1)(x, torch.tensor([0]))
    with pytest.raises(ResodeError, match="out of range"):
        FGSM(model, eps=0.1)(x, torch.tensor([0, 7]))
    with pytest.raises(ResodeError, match="steps"):
        PGD(model, eps=0.1, steps=-1)
    assert set(list_attacks()) == {
        "fgsm",
        "ifgsm",
        "pgd",
        "autoattack",
        "transfer",
        "square",
        "apgd-ce",
        "apgd-dlr",
    }
    assert type(make_attack("BIM", model, eps=0.1)) is IFGSM


# ------------------------------------------------------------------ AutoAttack, transfer


@pytest.mark.skipif(not autoattack_available(), reason="pyautoattack not installed")
@pytest.mark.slow  # Square's 5000 queries on the robust samples: ~10 s of CPU
def test_autoattack_matches_analytic_robustness_of_linear_model():
    """Linear 4-class model, x inside the box: sample i is robust at ε iff for every k ≠ y
    (w_y − w_k)·x + b_y − b_k > ε‖w_y − w_k‖₁. AutoAttack must find exactly the others."""
    d, k, eps = 6, 4, 0.05
    model = linear_model(d, k, seed=11, dtype=torch.float32)
    lin = model[1]
    x = 0.3 + 0.4 * torch.rand(12, 1, 2, 3, generator=torch.Generator().manual_seed(3))
    y = model(x).argmax(1)
    y[:2] = (y[:2] + 1) % k  # two misclassified samples
    with torch.no_grad():
        wd = lin.weight[y][:, None, :] - lin.weight[None]  # (n, k, d)
        m = (wd * x.flatten(1)[:, None, :]).sum(-1) + lin.bias[y][:, None] - lin.bias[None]
        slack = m - eps * wd.abs().sum(-1)
        slack[torch.arange(12), y] = float("inf")
        robust = slack.min(1).values > 0
    assert robust.any() and (~robust).any()
    modes = [mm.training for mm in model.modules()]
    adv = make_attack("autoattack", model, eps=eps)(x, y)
    assert [mm.training for mm in model.modules()] == modes
    assert per_sample_norm(adv - x, "Linf").max() <= eps + TOL
    assert torch.equal(model(adv).argmax(1) == y, robust)


def test_autoattack_missing_dependency_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyautoattack":
            raise ImportError("no pyautoattack")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ResodeError, match=r"resode\[autoattack\]"):
        make_attack("autoattack", linear_model(4, 3), eps=0.1)


def test_transfer_attack_uses_surrogate_gradients_only():
    """With surrogate = target the transfer attack is the surrogate's attack (full run)."""
    model = small_convnet(seed=3).eval()
    x = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 4
    via_transfer = make_attack(
        "transfer", model, surrogate=model, eps=0.1, early_stop=False, steps=3
    )(x, y)
    direct = PGD(model, eps=0.1, steps=3, early_stop=False)(x, y)
    assert torch.equal(via_transfer, direct)
    with pytest.raises(ResodeError):
        make_attack("transfer", model, surrogate=model, attack="autoattack", eps=0.1)


def test_transfer_attack_from_a_different_surrogate_is_pgd_on_the_surrogate():
    """x' = PGD_surrogate(x, y) with the same generator; never PGD on the target."""
    target, surrogate = small_convnet(seed=3).eval(), small_convnet(seed=4).eval()
    x = torch.rand(16, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    y = torch.arange(16) % 4
    kw = {"eps": 0.1, "steps": 4, "restarts": 2}

    def gen() -> torch.Generator:
        return torch.Generator().manual_seed(5)

    transfer = make_attack("transfer", target, surrogate=surrogate, early_stop=False, **kw)
    via_transfer = transfer(x, y, generator=gen())
    on_surrogate = PGD(surrogate, early_stop=False, **kw)(x, y, generator=gen())
    on_target = PGD(target, early_stop=False, **kw)(x, y, generator=gen())
    assert torch.equal(via_transfer, on_surrogate)
    assert not torch.equal(via_transfer, on_target)
    # without a generator both draw from their ``seed``
    seeded = make_attack("transfer", target, surrogate=surrogate, early_stop=False, seed=9, **kw)
    assert torch.equal(seeded(x, y), PGD(surrogate, early_stop=False, seed=9, **kw)(x, y))
    # early stopping: what the target already gets wrong stays clean, the rest is the surrogate's
    via_es = make_attack("transfer", target, surrogate=surrogate, **kw)(x, y, generator=gen())
    wrong = target(x).argmax(1) != y
    assert wrong.any() and (~wrong).any()
    assert torch.equal(via_es[wrong], x[wrong])
    assert torch.equal(via_es[~wrong], on_surrogate[~wrong])
    # another surrogate attack: FGSM on the surrogate
    fgsm = make_attack("transfer", target, surrogate=surrogate, attack="fgsm", early_stop=False)
    assert torch.equal(fgsm(x, y), FGSM(surrogate, early_stop=False)(x, y))
    assert transfer.surrogate is surrogate
    # L2: the surrogate's L2 PGD, projected on the L2 ball
    l2 = {"eps": 0.5, "norm": "L2", "steps": 3}
    via_l2 = make_attack("transfer", target, surrogate=surrogate, early_stop=False, **l2)
    # (the transfer attack re-projects: equal up to the rounding of the L2 rescaling)
    assert torch.allclose(via_l2(x, y), PGD(surrogate, early_stop=False, **l2)(x, y), atol=1e-6)
    assert not torch.allclose(via_l2(x, y), PGD(target, early_stop=False, **l2)(x, y), atol=1e-3)
    assert via_l2.norm == "L2"
    with pytest.raises(
        ResodeError, match=r"^the transfer attack is untargeted; drop targeted=True$"
    ):
        make_attack("transfer", target, surrogate=surrogate, eps=0.1, targeted=True)
    for inner in ("transfer", "autoattack"):
        with pytest.raises(ResodeError, match=f"cannot use '{inner}' on the surrogate"):
            make_attack("transfer", target, surrogate=surrogate, attack=inner, eps=0.1)


class _ConstantLogits(nn.Module):
    """Predicts class 4 for every input: labels 0..3 are all fooled at the clean input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = torch.tensor([0.0, 0.0, 0.0, 0.0, 5.0], dtype=x.dtype)
        return bias + 0.0 * x.flatten(1)[:, :1]


def _record_starts(attack: PGD) -> list[torch.Tensor]:
    draws: list[torch.Tensor] = []
    draw = attack.random_start

    def recorded(x0: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        start = draw(x0, generator)
        draws.append(start.clone())
        return start

    attack.random_start = recorded  # type: ignore[method-assign]
    return draws


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_pgd_restarts_draw_every_start_whatever_early_stopping_did(norm):
    """Paired models, one generator across batches: the same starts for every batch and restart.

    The constant model is fooled at the clean input (early stopping finishes every batch before
    its first restart); the convnet keeps samples robust through all restarts at this ε.
    """
    x = torch.rand(12, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    convnet = small_convnet(seed=3).eval()
    y = convnet(x).argmax(1)  # the convnet's own predictions: robust at a small ε
    restarts, n_batches = 3, 3
    eps = 0.02 if norm == "Linf" else 0.1
    draws = []
    outcomes = []
    for model in (_ConstantLogits(), convnet):
        attack = PGD(model, eps=eps, norm=norm, steps=2, restarts=restarts)
        draws.append(_record_starts(attack))
        g = torch.Generator().manual_seed(11)
        fooled = []
        for b in range(n_batches):
            xb, yb = x[4 * b : 4 * b + 4], y[4 * b : 4 * b + 4]
            fooled.append(model(attack(xb, yb, generator=g)).argmax(1) != yb)
        outcomes.append(torch.cat(fooled))
        assert len(draws[-1]) == restarts * n_batches
    assert outcomes[0].all() and not outcomes[1].all()
    for a, b in zip(draws[0], draws[1]):
        assert torch.equal(a, b)


def test_targeted_default_is_the_least_likely_class_and_labels_are_checked():
    model = linear_model(6, 4, seed=2)
    x = torch.rand(10, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y = model(x).argmax(1)
    least = model(x).argmin(1)
    kw = {"eps": 0.05, "targeted": True, "early_stop": False}
    default = FGSM(model, **kw)(x, y)
    assert torch.equal(default, FGSM(model, **kw)(x, y, least))
    assert not torch.equal(default, FGSM(model, **kw)(x, y, (least + 1) % 4))
    # integer labels of any dtype are class indices
    assert torch.equal(FGSM(model, **kw)(x, y, least.to(torch.int32)), default)
    with pytest.raises(ResodeError, match=r"target_labels must have shape \(10,\)"):
        FGSM(model, **kw)(x, y, least[:3])


def test_ifgsm_passes_its_arguments_to_the_iteration():
    """IFGSM(steps, alpha, norm) is x^{k+1} = Π(x^k + α·s(∇)), k < steps, from x (no random
    start); its other keyword arguments (early_stop, seed) reach the attack."""
    model = linear_model(5, 3, seed=6)
    x = 0.2 + 0.6 * torch.rand(
        8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    y = model(x).argmax(1)
    for norm, eps, alpha in (("Linf", 0.5, 0.2), ("L2", 2.0, 0.8)):
        steps = 3
        attack = IFGSM(model, eps=eps, steps=steps, alpha=alpha, norm=norm, early_stop=False)
        assert (attack.steps, attack.alpha, attack.restarts, attack.norm) == (
            steps, alpha, 1, norm,
        )  # fmt: skip
        assert not attack.random_start_enabled and not attack.early_stop
        xa = x.clone()
        for _ in range(steps):
            xg = xa.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
            if norm == "Linf":
                xa = torch.min(torch.max(xa + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
            else:
                d = xa + alpha * g / g.norm(dim=1, keepdim=True) - x
                xa = (x + d * (eps / d.norm(dim=1, keepdim=True)).clamp(max=1)).clamp(0, 1)
        assert torch.allclose(attack(x, y), xa, atol=1e-12)
        # early stopping returns the first fooling iterate instead: it is passed through
        assert not torch.equal(
            IFGSM(model, eps=eps, steps=steps, alpha=alpha, norm=norm)(x, y), attack(x, y)
        )


def test_a_batch_of_one_is_attacked():
    model = small_convnet(seed=3).eval()
    x = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    y = model(x).argmax(1)
    batch = FGSM(model, eps=0.1)(x, y)
    for i in range(3):
        one = FGSM(model, eps=0.1)(x[i : i + 1], y[i : i + 1])
        assert torch.equal(one, batch[i : i + 1]) and not torch.equal(one, x[i : i + 1])


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_random_start_is_the_documented_draw(norm):
    """PGD with 0 steps returns its random start: L∞ x + (2u − 1)ε, L2 x + ε·r^{1/d}·g/‖g‖,
    drawn in the images' dtype from the generator, then clipped to [0, 1]."""
    model = linear_model(12, 3)
    x = 0.3 + 0.4 * torch.rand(
        5, 1, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    y = torch.zeros(5, dtype=torch.long)
    eps = 0.1 if norm == "Linf" else 0.5
    start = PGD(model, eps=eps, norm=norm, steps=0, early_stop=False)(
        x, y, generator=torch.Generator().manual_seed(7)
    )
    g = torch.Generator().manual_seed(7)
    if norm == "Linf":
        u = torch.rand(x.shape, generator=g, dtype=torch.float64)
        expected = x + (2 * u - 1) * eps
    else:
        n = torch.randn(x.shape, generator=g, dtype=torch.float64)
        r = torch.rand(5, generator=g, dtype=torch.float64)
        radius = eps * r.pow(1 / 12)
        expected = x + n * (radius / n.flatten(1).norm(dim=1)).view(-1, 1, 1, 1)
    assert torch.allclose(start, expected.clamp(0, 1), atol=1e-12)


@pytest.mark.parametrize("name", [a for a in list_attacks() if a != "autoattack"])
def test_attack_never_raises_accuracy_above_clean(name):
    """With early stopping every attack returns a misclassified clean image unchanged, so the
    set of correctly classified adversarial images is a subset of the clean-correct ones."""
    model = small_convnet(seed=1).eval()
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(16, 1, 6, 6, generator=g), torch.randint(0, 4, (16,), generator=g)
    kw = {"surrogate": small_convnet(seed=2)} if name == "transfer" else {}
    if name == "square":
        kw = {"queries": 10}
    adv = make_attack(name, model, eps=0.1, **kw)(x, y)
    with torch.no_grad():
        clean_ok = model(x).argmax(1) == y
        adv_ok = model(adv).argmax(1) == y
    assert not bool((adv_ok & ~clean_ok).any())
    assert per_sample_norm(adv - x, "Linf").max() <= 0.1 + TOL


def test_square_finds_the_linear_models_flip_without_gradients():
    """For a linear binary-margin model the worst L∞ point is a corner of the ε-ball; the random
    search must reduce the margin monotonically and fool points whose margin is below ε·‖w‖₁."""
    model = linear_model(16, 2, seed=4, dtype=torch.float32)
    x = torch.full((8, 1, 4, 4), 0.5)
    with torch.no_grad():
        y = model(x).argmax(1)
    w = model[1].weight
    wdiff = (w[0] - w[1]).abs().sum().item()
    eps = 1.0 / 2
    atk = make_attack("square", model, eps=eps, queries=100, early_stop=False)
    adv = atk(x, y)
    assert atk.gradient_evaluations == 0
    with torch.no_grad():
        m0 = model(x).gather(1, y[:, None]).squeeze(1) - model(x).gather(1, 1 - y[:, None]).squeeze(
            1
        )
        m1 = model(adv).gather(1, y[:, None]).squeeze(1) - model(adv).gather(
            1, 1 - y[:, None]
        ).squeeze(1)
    assert bool((m1 <= m0 + 1e-6).all())
    if float(m0.max()) < eps * wdiff * 0.5:
        assert bool((m1 < 0).all())
