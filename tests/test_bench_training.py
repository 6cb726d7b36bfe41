"""benchmarks/bench_training.py (c): the FLOP count behind the fraction of peak (no timing)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import script_module


@pytest.fixture(scope="module")
def bt():
    with script_module("benchmarks/bench_training.py", "bench_training") as module:
        yield module


def test_step_flops_count_forward_and_backward(bt):
    """Two 3×3 convolutions on (N, C, H, W) = (4, 2, 5, 5): F_i = 2·N·C_out·H·W·C_in·9 each in
    the forward; the backward computes both weight gradients and the input gradient of the
    second conv only (the images need no gradient): total 2·F_1 + 3·F_2."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, bias=False),
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    x, y = torch.rand(4, 2, 5, 5), torch.tensor([0, 1, 2, 3])
    f1, f2 = 2 * 4 * 3 * 25 * 2 * 9, 2 * 4 * 4 * 25 * 3 * 9
    assert bt.step_flops(model, x, y) == 2 * f1 + 3 * f2
    assert all(p.grad is None for p in model.parameters())  # left clean for the timing


def test_step_variants_name_the_before_and_now_steps(bt):
    assert bt.BEFORE in bt.STEP_VARIANTS and bt.NOW in bt.STEP_VARIANTS
    assert bt.STEP_VARIANTS[bt.NOW] == (True, "foreach")  # speed.sgd auto on CPU
    assert bt.matmul_peak(1, n=32, repeats=1) > 0
