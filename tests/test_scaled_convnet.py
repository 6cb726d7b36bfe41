"""Paper B's Table 1 network: float32 residual stream under bf16 autocast, the official head,
and the paper presets' float32 default."""

from __future__ import annotations

import pytest
import torch

from resode import create_model
from resode.nn.scaled_convnet import head_pool
from resode.training import engine, presets


def _active_net(depth: int, image_size: int = 32) -> torch.nn.Module:
    """An i.i.d. net whose branches are non-zero (bn2.weight = 1 instead of 0), eval mode."""
    torch.manual_seed(0)
    model = create_model("scaled_convnet", depth=depth, init="iid", image_size=image_size)
    with torch.no_grad():
        for block in model.blocks:
            block.bn2.weight.fill_(1.0)
    return model.eval()


def test_residual_updates_survive_bf16_autocast() -> None:
    """Σ_k (1/L)·branch_k = h_L − h_0 under CPU bf16 autocast equals float32 to bf16 rounding.

    Each update is ~|h|/L·O(1) = 2⁻⁸·|h| at L = 256, the size of bf16's rounding step, so a bf16
    stream loses ~65 % of the summed update; a float32 stream with bf16 branches errs by about
    the branches' own relative rounding (~2⁻⁸).
    """
    model = _active_net(256)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        ref = model.hidden_states(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            amp = model.hidden_states(x)
    assert all(h.dtype == torch.float32 for h in amp), [h.dtype for h in amp]
    ref_update = ref[-1] - ref[0]
    amp_update = amp[-1] - amp[0]
    rel = float((amp_update - ref_update).norm() / ref_update.norm())
    assert rel < 2e-2, rel


def test_stream_dtype_under_autocast_training_and_float64() -> None:
    model = _active_net(8, image_size=16).train()
    x = torch.rand(2, 3, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = model.embed(x)
        assert h.dtype == torch.float32
        out = model.blocks[0](h)
        assert out.dtype == torch.float32
        logits = model(x)
    logits.float().logsumexp(1).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    model64 = model.double().eval()
    assert model64.hidden_states(x.double())[-1].dtype == torch.float64  # never cast down


def test_cifar_head_is_the_official_avg_pool_4() -> None:
    """32×32 input: 10×10 map → avg_pool2d(·, 4) → 2×2×16 = 64 features → Linear(64, 10)."""
    depth = 3
    model = create_model("scaled_convnet", depth=depth, image_size=32)
    linear = model.head[-1]
    assert (linear.in_features, linear.out_features) == (64, 10)
    x = torch.rand(2, 3, 32, 32)
    h = model.hidden_states(x)[-1]
    assert h.shape == (2, 16, 10, 10)
    pooled = model.head[:-1](h)
    assert pooled.shape == (2, 64)
    # the official avg_pool2d(out, 4) and view(N, -1), channel-major
    official = torch.nn.functional.avg_pool2d(h, 4).reshape(2, -1)
    assert torch.equal(pooled, official)
    # parameter count of the official layout, layer by layer (convs without bias)
    stem = 3 * 16 * 5 * 5 + 2 * 16
    block = 2 * (16 * 16 * 3 * 3) + 2 * (2 * 16)
    head = 64 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == stem + depth * block + head


@pytest.mark.parametrize(
    ("image_size", "map_size", "features"), [(8, 2, 16), (16, 5, 16), (32, 10, 64), (64, 21, 400)]
)
def test_head_pool_for_other_image_sizes(image_size: int, map_size: int, features: int) -> None:
    """k = min(4, s), p = ⌊s/k⌋: small maps are pooled globally, larger ones in 4×4 windows."""
    model = create_model("scaled_convnet", depth=2, image_size=image_size, in_channels=1)
    assert model.map_size == map_size
    _, p = head_pool(map_size)
    assert 16 * p * p == features == model.head[-1].in_features
    assert model(torch.rand(2, 1, image_size, image_size)).shape == (2, 10)


@pytest.mark.parametrize("name", ["cifar10-paper-a", "cifar100-paper-a", "cifar10-table1"])
def test_paper_presets_train_in_float32_on_cuda(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    cuda = torch.device("cuda")  # constructing a device needs no GPU
    assert engine.amp_dtype(presets.get_preset(name), cuda) is None
    # the same recipe with amp left at "auto" would autocast in bf16 on this (fake) GPU
    assert engine.amp_dtype(presets.get_preset(name, amp="auto"), cuda) is torch.bfloat16
