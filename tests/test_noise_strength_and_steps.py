"""Data-scaled noise levels (strength s) and the attack step rule that reaches the ε-boundary."""

from __future__ import annotations

import time

import pytest
import torch

from resode.corruptions import corrupt, corruption_label, corruption_parameter
from resode.errors import ConfigError, ResodeError
from resode.robustness import RobustnessConfig, evaluate_models


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gaussian_noise", 0.08 * 3),
        ("speckle_noise", 0.12 * 3),
        ("shot_noise", 100 / 3),
        ("impulse_noise", 0.03 * 3),
    ],
)
def test_strength_scales_the_cifar_c_level(name: str, expected: float) -> None:
    assert corruption_parameter(name, 3, 3.0) == pytest.approx(expected)
    assert corruption_parameter(name, 3) == corruption_parameter(name, 3, 1.0)
    assert corruption_parameter("impulse_noise", 5, 100.0) == 1.0  # a fraction stays ≤ 1
    with pytest.raises(ResodeError, match="strength"):
        corruption_parameter(name, 3, 0.0)


def test_gaussian_noise_at_strength_s_is_s_times_the_same_draw() -> None:
    x = torch.full((4, 1, 8, 8), 0.5)
    g1, g3 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    d1 = corrupt(x, "gaussian", 1, g1) - x  # σ = 0.04: no clipping at 0.5 ± 6σ·3
    d3 = corrupt(x, "gaussian", 1, g3, strength=3.0) - x
    assert torch.allclose(d3, 3 * d1, atol=1e-6)
    assert corruption_label("gaussian", 3.0) == "gaussian_noise×3"
    assert corruption_label("gaussian") == "gaussian_noise"


def test_evaluation_reports_each_strength_with_its_own_noise() -> None:
    from resode import create_model

    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10, in_channels=1, image_size=8)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    cfg = RobustnessConfig(
        attacks=[], corruptions=["gaussian"], severities=[5], noise_strengths=[1, 3]
    )
    (res,) = evaluate_models([("m", model)], x, y, cfg, progress=False)
    assert set(res.corruptions) == {"gaussian_noise", "gaussian_noise×3"}
    # the ×1 numbers are those of an evaluation without strengths (same seeds as before)
    (plain,) = evaluate_models(
        [("m", model)], x, y, cfg.replace(noise_strengths=[1]), progress=False
    )
    assert res.corruptions["gaussian_noise"] == plain.corruptions["gaussian_noise"]
    with pytest.raises(ConfigError, match="generated noise"):
        RobustnessConfig(corruption_source="files", noise_strengths=[3])


def test_strength_reaches_the_noisy_images_that_are_scored() -> None:
    """The ×3 accuracy is the accuracy on corrupt(..., strength=3) drawn from the derived seed of
    the ×3 label, and differs from the ×1 accuracy on the same draw (the strength is applied)."""
    from resode import create_model
    from resode.evalset import derive_seed
    from resode.robustness.evaluate import corrupted_images

    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10, in_channels=1, image_size=8).eval()
    x = torch.rand(64, 1, 8, 8)
    with torch.no_grad():
        y = model(x).argmax(1)  # clean accuracy 1: every noisy error shows
    cfg = RobustnessConfig(
        attacks=[], corruptions=["gaussian"], severities=[5], noise_strengths=[3], batch_size=64
    )
    label = corruption_label("gaussian", 3.0)

    def by_hand(strength: float) -> torch.Tensor:
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, label, 5))
        return corrupt(x, "gaussian", 5, g, strength=strength)

    assert torch.equal(corrupted_images(x, "gaussian", 5, cfg, "cpu", 3.0), by_hand(3.0))
    with torch.no_grad():
        acc = {s: (model(by_hand(s)).argmax(1) == y).float().mean().item() for s in (1.0, 3.0)}
    assert acc[3.0] < acc[1.0]
    t0 = time.perf_counter()
    (res,) = evaluate_models([("m", model)], x, y, cfg, progress=False)
    elapsed = time.perf_counter() - t0
    assert res.corruptions[label]["5"] == pytest.approx(acc[3.0])
    assert 0 < res.seconds["corruptions"] <= elapsed  # a duration, not a time stamp


def test_reach_step_rule() -> None:
    paper = RobustnessConfig(steps=20)
    reach = RobustnessConfig(steps=20, step_rule="reach")
    assert paper.step_size(24 / 255) is None  # the attack's default: 1/255 in L∞
    assert reach.step_size(4 / 255) == pytest.approx(1 / 255)  # 2.5·4/20 < 1
    assert reach.step_size(24 / 255) == pytest.approx(2.5 * 24 / 255 / 20)
    assert 20 * reach.step_size(24 / 255) >= 24 / 255  # 20 steps can cross the whole ball
    assert RobustnessConfig(alpha=0.01, step_rule="reach").step_size(0.5) == 0.01
