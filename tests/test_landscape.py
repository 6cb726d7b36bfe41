"""Loss landscapes: origin = model loss, weights restored bit-identically, filter normalisation."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resode.analysis.landscape import (
    LandscapeConfig,
    analyze_landscape,
    filter_normalized_direction,
    grid_coordinates,
    input_directions,
    input_landscape_1d,
    input_landscape_2d,
    parameter_landscape,
)
from resode.nn.base import ResidualClassifier


class LearnedDamped(nn.Module):
    """g(h) = (1 − λ)·h + f(h), λ = relu(1 − k) with a learnable scalar k."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(0.8))
        self.f = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

    def interpolation_coefficient(self) -> torch.Tensor:
        return torch.relu(1 - self.k)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (1 - self.interpolation_coefficient()) * h + self.f(h)


def toy_model(c: int = 3, k: int = 4) -> ResidualClassifier:
    torch.manual_seed(0)
    stem = nn.Conv2d(1, c, 3, padding=1, bias=False)
    blocks = nn.ModuleList([LearnedDamped(c) for _ in range(2)])
    head = nn.Sequential(
        nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, k)
    )
    model = ResidualClassifier(nn.Identity(), stem, blocks, head)
    # non-trivial batch-norm statistics and affine parameters
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, 1, 6, 6))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def data(n: int = 12, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 6, 6, generator=gen), torch.randint(0, k, (n,), generator=gen)


def test_grid_has_exact_origin() -> None:
    c = grid_coordinates(16 / 255, 21)
    assert c[10].item() == 0.0 and c[0].item() == pytest.approx(-16 / 255)
    assert c[-1].item() == pytest.approx(16 / 255) and len(c) == 21


def test_input_landscape_origin_is_model_loss_exactly() -> None:
    model = toy_model()
    x, y = data()
    expected = F.cross_entropy(model(x), y).item()
    d_adv, d_rand = input_directions(model, x, y, torch.Generator().manual_seed(0))
    assert set(d_rand.unique().tolist()) == {-1.0, 1.0}
    coords = grid_coordinates(16 / 255, 5)
    for clip in (True, False):
        losses, _ = input_landscape_1d(model, x, y, d_adv, coords, clip=clip)
        assert losses[2] == expected
        grid, _ = input_landscape_2d(model, x, y, d_adv, d_rand, coords, coords, clip=clip)
        assert grid[2][2] == expected
    cfg = LandscapeConfig(n_samples=12, grid=3, input_radius=0.05)
    res = analyze_landscape(model, x, y, cfg, space="input")
    assert res.clean_loss == expected
    assert res.surfaces["input"]["loss"][1][1] == expected
    assert res.curves["input/adv"]["loss"][1] == expected


def test_input_curve_along_adv_direction_is_fgsm_loss() -> None:
    """L(a = ε) along d_adv with clipping is the loss of the FGSM images of step ε."""
    model = toy_model()
    x, y = data()
    eps = 8 / 255
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y), xg)
    fgsm = (x + eps * g.sign()).clamp(0, 1)
    d_adv, _ = input_directions(model, x, y)
    losses, accs = input_landscape_1d(model, x, y, d_adv, [0.0, eps])
    with torch.no_grad():
        logits = model(fgsm)
    assert losses[1] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert accs[1] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert losses[1] > losses[0]  # FGSM increases the loss on this batch


def test_filter_normalised_direction_norms() -> None:
    model = toy_model()
    d = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    assert set(d) == {k for k, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        if p.dim() <= 1:  # biases, BN γ/β and the damping parameter k: zero direction
            assert torch.count_nonzero(d[name]) == 0, name
            continue
        for i in range(p.shape[0]):
            torch.testing.assert_close(d[name][i].norm(), p[i].detach().norm(), rtol=1e-5, atol=0)
        assert not torch.allclose(d[name], p.detach())  # random, not the weight itself
    d_all = filter_normalized_direction(model, torch.Generator().manual_seed(0), ignore_1d=False)
    k_name = "blocks.0.k"
    assert d_all[k_name].abs().item() == pytest.approx(0.8, rel=1e-6)


def test_parameter_scan_restores_weights_bit_identically() -> None:
    model = toy_model()
    model.train()  # mode is restored too
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = data()
    gen = torch.Generator().manual_seed(0)
    d1 = filter_normalized_direction(model, gen)
    d2 = filter_normalized_direction(model, gen)
    coords = grid_coordinates(1.0, 5)
    grid, _ = parameter_landscape(model, x, y, d1, coords, d2, coords)
    after = model.state_dict()
    assert set(after) == set(before)
    for k, v in before.items():
        assert torch.equal(after[k], v), k
        assert after[k].dtype == v.dtype
    assert model.training
    model.eval()
    expected = F.cross_entropy(model(x), y).item()
    assert grid[2][2] == expected  # the origin is the trained model's loss, exactly
    assert len({round(v, 6) for row in grid for v in row}) > 1  # the scan did move the weights


def test_parameter_scan_point_matches_manually_moved_model() -> None:
    model = toy_model()
    x, y = data()
    d1 = filter_normalized_direction(model, torch.Generator().manual_seed(3))
    losses, _ = parameter_landscape(model, x, y, d1, [0.5])
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in moved.named_parameters():
            p.add_(0.5 * d1[name])
        expected = F.cross_entropy(moved(x), y).item()
    assert losses[0][0] == pytest.approx(expected, rel=1e-5)


def test_parameter_scan_restores_weights_after_an_error() -> None:
    model = toy_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = data()
    d1 = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    calls = {"n": 0}
    original_forward = model.head.forward

    def failing(h: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return original_forward(h)

    model.head.forward = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="boom"):
        parameter_landscape(model, x, y, d1, [0.3, 0.6, 0.9])
    for k, v in before.items():
        assert torch.equal(model.state_dict()[k], v), k


def test_analyze_both_spaces_serialises(tmp_path) -> None:
    model = toy_model()
    x, y = data()
    cfg = LandscapeConfig(n_samples=8, grid=3, input_radius=0.05, param_radius=0.5)
    res = analyze_landscape(model, x, y, cfg, space="both", name="toy")
    assert set(res.curves) == {"input/adv", "input/rand", "parameter/d1", "parameter/d2"}
    assert set(res.surfaces) == {"input", "parameter"}
    assert res.surfaces["parameter"]["loss"][1][1] == res.clean_loss
    assert res.curves["parameter/d1"]["loss"][1] == res.clean_loss
    path = res.to_json(tmp_path / "l.json")
    assert path.stat().st_size > 0
    assert len(res.rows()) == 4 * 3


@pytest.mark.slow
def test_cli_landscape_end_to_end(tmp_path) -> None:
    import json

    import resode
    from resode.cli import main

    paths = []
    for name in ("resnet20", "inresnet20"):
        torch.manual_seed(0)
        model = resode.create_model(name, num_classes=10, in_channels=1, image_size=8)
        cfg = {"dataset": "digits", "image_size": 8, "data_root": None}
        paths.append(str(resode.save_checkpoint(tmp_path / f"{name}.pt", model, config=cfg)))
    before = resode.load_checkpoint(paths[1]).payload["state_dict"]
    out = tmp_path / "out"
    argv = [
        "landscape",
        *paths,
        "--out",
        str(out),
        "--n-samples",
        "8",
        "--grid",
        "3",
        "--input-radius",
        "8/255",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(argv) == 0
    for space in ("input", "parameter"):
        for kind in ("1d", "2d"):
            assert (out / f"landscape_{space}_{kind}.png").stat().st_size > 0
    data = json.loads((out / "landscape.json").read_text())
    assert data["config"]["input_radius"] == pytest.approx(8 / 255)
    for m in data["models"]:
        assert m["surfaces"]["input"]["loss"][1][1] == m["clean_loss"]
        assert m["surfaces"]["parameter"]["loss"][1][1] == m["clean_loss"]
    after = resode.load_checkpoint(paths[1]).payload["state_dict"]  # file untouched
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(SystemExit) as exc:  # argparse: one-line error, exit code 2
        main(["landscape", *paths, "--out", str(out), "--input-radius", "abc"])
    assert exc.value.code == 2
