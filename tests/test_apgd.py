"""APGD-CE / APGD-DLR (resode.attacks.apgd): constraint sets, the start, determinism, the DLR
loss's invariances, targeted runs, the active mask of the cascade, and the reference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resode.attacks import APGD, FGSM, PGD, autoattack_available, make_attack, per_sample_norm
from resode.attacks.apgd import checkpoint_lengths, dlr_loss, targeted_dlr_loss
from resode.errors import ResodeError

TOL = 1e-6


def convnet(seed: int = 0, classes: int = 5, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 36, classes),
    )
    return m.to(dtype).eval()


def data(n: int = 48, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class Affine(nn.Module):
    """logits a·f(x) + b (a > 0): the DLR loss cannot tell it from f."""

    def __init__(self, inner: nn.Module, a: float, b: float) -> None:
        super().__init__()
        self.inner, self.a, self.b = inner, a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * self.inner(x) + self.b


def test_checkpoints_follow_the_paper():
    """p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06): N = 100 gives the
    checkpoints 22, 41, 57, 70, 80, 87, 93, 99."""
    lengths = checkpoint_lengths(100)
    assert [sum(lengths[: i + 1]) for i in range(len(lengths))] == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoint_lengths(1) == [1]


@pytest.mark.parametrize("loss", ["ce", "dlr"])
@pytest.mark.parametrize("norm,eps", [("Linf", 0.05), ("L2", 0.4), ("Linf", 0.0)])
@pytest.mark.parametrize("early", [True, False])
def test_output_in_the_ball_and_the_box(loss, norm, eps, early):
    model = convnet()
    x = data()
    x[0] = 0.0
    x[1] = 1.0  # whole images on the box boundary
    y = torch.arange(48) % 5
    adv = make_attack(f"apgd-{loss}", model, eps=eps, norm=norm, steps=12, early_stop=early)(x, y)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert adv.min() >= 0 and adv.max() <= 1
    assert per_sample_norm(adv - x, norm).max() <= eps + TOL


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_never_weaker_than_its_start(loss):
    """Without early stopping the returned point is a fooling iterate, or x_max, whose loss is at
    least the start's: fooled at the start ⇒ fooled at the end, else loss(end) ≥ loss(start)."""
    model = convnet(1, dtype=torch.float64)
    x = data(dtype=torch.float64)
    y = model(x).argmax(1)
    y[:6] = (y[:6] + 1) % 5
    atk = APGD(model, eps=0.04, loss=loss, steps=15, early_stop=False, seed=3)
    adv = atk(x, y)
    start = atk.random_start(x, torch.Generator().manual_seed(3))
    with torch.no_grad():
        z0, z1 = model(start), model(adv)
    f0, f1 = z0.argmax(1) != y, z1.argmax(1) != y
    assert not bool((f0 & ~f1).any())
    l0, l1 = atk.objective(z0, y, None), atk.objective(z1, y, None)
    assert bool((l1[~f1] >= l0[~f1] - 1e-12).all())
    assert per_sample_norm(start - x, "Linf").max() <= 0.04 + TOL


def test_start_is_on_the_sphere_before_clipping():
    """AutoAttack's start x + ε·r/‖r‖: away from the box every sample is at distance ε."""
    model = convnet()
    x = torch.full((8, 1, 6, 6), 0.5)
    for norm, eps in (("Linf", 0.1), ("L2", 0.3)):
        start = APGD(model, eps=eps, norm=norm).random_start(x, torch.Generator().manual_seed(0))
        assert torch.allclose(per_sample_norm(start - x, norm), torch.full((8,), eps), atol=1e-6)


def test_seeded_determinism():
    model = convnet()
    x, y = data(16), torch.arange(16) % 5
    a1 = APGD(model, eps=0.05, steps=8, seed=7)(x, y)
    a2 = APGD(model, eps=0.05, steps=8, seed=7)(x, y)
    a3 = APGD(model, eps=0.05, steps=8, seed=8)(x, y)
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, a3)


def test_dlr_is_shift_and_scale_invariant():
    z = torch.randn(32, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.arange(32) % 7
    t = (y + 3) % 7
    for a, b in ((3.0, -5.0), (0.25, 40.0)):
        assert torch.allclose(dlr_loss(a * z + b, y), dlr_loss(z, y), atol=1e-9)
        assert torch.allclose(targeted_dlr_loss(a * z + b, y, t), targeted_dlr_loss(z, y, t))
    # the loss is > 0 exactly on the misclassified samples
    assert torch.equal(dlr_loss(z, y) > 0, z.argmax(1) != y)
    # and the attack does not see the affine change of the logits
    model = convnet(2, dtype=torch.float64)
    x = data(32, dtype=torch.float64)
    yy = model(x).argmax(1)
    wrapped = Affine(model, 8.0, 3.0)
    adv = APGD(model, eps=0.03, loss="dlr", steps=10)(x, yy)
    adv_w = APGD(wrapped, eps=0.03, loss="dlr", steps=10)(x, yy)
    with torch.no_grad():
        assert torch.equal(model(adv).argmax(1) == yy, wrapped(adv_w).argmax(1) == yy)


def test_targeted_reaches_the_target_and_needs_four_classes_for_dlr():
    """Linear 5-class model, ε = 1 (the whole box): the targets are the classes of other random
    images, so each one is reachable; both losses must reach it."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 5)).eval()
    x = data(40)
    with torch.no_grad():
        y = model(x).argmax(1)
        t = model(data(40, 9)).argmax(1)
    keep = t != y
    x, y, t = x[keep], y[keep], t[keep]
    assert x.shape[0] >= 10
    for loss in ("ce", "dlr"):
        adv = APGD(model, eps=1.0, loss=loss, steps=40, targeted=True)(x, y, t)
        with torch.no_grad():
            assert torch.equal(model(adv).argmax(1), t)
    x = data(12)
    three = convnet(3, classes=3)
    with pytest.raises(ResodeError, match="4 classes"):
        APGD(three, eps=0.1, loss="dlr", targeted=True)(x, torch.zeros(12, dtype=torch.long))
    with pytest.raises(ResodeError, match="step size"):
        APGD(model, eps=0.1, alpha=0.01)
    with pytest.raises(ResodeError, match="loss"):
        APGD(model, eps=0.1, loss="hinge")


def test_early_stopping_never_weaker_than_full_run():
    model = convnet(4, dtype=torch.float64)
    x = data(40, 1, dtype=torch.float64)
    y = torch.arange(40) % 5
    for loss in ("ce", "dlr"):
        kw = {"eps": 0.03, "loss": loss, "steps": 10, "restarts": 2, "seed": 1}
        ok_es = model(APGD(model, early_stop=True, **kw)(x, y)).argmax(1) == y
        ok_full = model(APGD(model, early_stop=False, **kw)(x, y)).argmax(1) == y
        assert not bool((ok_es & ~ok_full).any())


@pytest.mark.parametrize(
    "make",
    [
        lambda m: FGSM(m, eps=0.04),
        lambda m: PGD(m, eps=0.04, steps=6, restarts=2, alpha=0.01),
        lambda m: APGD(m, eps=0.04, loss="ce", steps=8),
        lambda m: APGD(m, eps=0.04, loss="dlr", steps=8, norm="L2"),
    ],
)
def test_active_mask_gives_every_active_sample_its_own_result(make):
    """The cascade's contract: an active sample gets what it gets in a full call (random numbers
    are drawn for the whole batch; equal up to the rounding of kernels run on another batch
    size, ~1e-16 here) and the same verdict; an inactive one comes back unchanged."""
    model = convnet(5, dtype=torch.float64)
    x = data(30, 2, dtype=torch.float64)
    with torch.no_grad():
        y = model(x).argmax(1)  # every sample clean-correct, as the cascade promises
    active = torch.arange(30) % 3 != 0
    full = make(model)(x, y, generator=torch.Generator().manual_seed(4))
    part = make(model)(x, y, generator=torch.Generator().manual_seed(4), active=active)
    assert torch.allclose(part[active], full[active], rtol=0, atol=1e-12)
    with torch.no_grad():
        assert torch.equal(model(part[active]).argmax(1), model(full[active]).argmax(1))
    assert torch.equal(part[~active], x[~active])
    with pytest.raises(ResodeError, match="active"):
        make(model)(x, y, active=active.long())


@pytest.mark.skipif(not autoattack_available(), reason="pyautoattack not installed")
@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_not_weaker_than_the_reference_apgd(loss):
    """Against pyautoattack's APGDAttack (same N = 50, ε, one restart) on small conv nets: the
    robust count of this implementation is never higher (measured: equal on all three)."""
    from pyautoattack.autopgd_base import APGDAttack

    for seed in range(3):
        model = convnet(seed)
        x = data(200, seed)
        with torch.no_grad():
            y = model(x).argmax(1)
        ref = APGDAttack(model, n_iter=50, eps=0.03, loss=loss, seed=0, device="cpu")
        adv_ref = ref.perturb(x, y)
        adv = make_attack(f"apgd-{loss}", model, eps=0.03, steps=50)(x, y)
        with torch.no_grad():
            robust_ref = int((model(adv_ref).argmax(1) == y).sum())
            robust = int((model(adv).argmax(1) == y).sum())
        assert robust <= robust_ref
        assert robust < 200  # the attack does something
