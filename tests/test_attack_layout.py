"""Channels-last computation inside the attacks: same result, model storage restored exactly."""

from __future__ import annotations

import torch
from torch import nn

from resode.attacks import FGSM, PGD, frozen_eval


def conv_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(8, 5),
    ).double()


def data(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(
        0, 5, (n,), generator=g
    )


def test_frozen_eval_channels_last_restores_the_same_storage() -> None:
    model = conv_model().train()
    model[0].weight.requires_grad_(False)
    before = [(t, t.data_ptr(), t.stride()) for t in (*model.parameters(), *model.buffers())]
    flags = [p.requires_grad for p in model.parameters()]
    with frozen_eval(model, channels_last=True):
        assert not model.training
        assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert not model[0].weight.is_contiguous()
        assert not any(p.requires_grad for p in model.parameters())
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    for t, ptr, stride in before:
        assert t.data_ptr() == ptr and t.stride() == stride


def test_pgd_same_result_in_both_layouts_and_model_untouched() -> None:
    model = conv_model().eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ptrs = [p.data_ptr() for p in model.parameters()]
    x, y = data()
    runs = []
    for cl in (False, True):
        attack = PGD(model, eps=8 / 255, steps=5, alpha=2 / 255, channels_last=cl)
        runs.append((attack(x, y), attack.gradient_evaluations))
    (a, ga), (b, gb) = runs
    assert ga == gb  # early stopping took the same decisions
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    assert b.is_contiguous()  # NCHW in, NCHW out
    assert [p.data_ptr() for p in model.parameters()] == ptrs
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_result_follows_the_input_layout() -> None:
    model = conv_model()
    x, y = data(4)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out = FGSM(model, eps=4 / 255)(x_cl, y)
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    torch.testing.assert_close(out, FGSM(model, eps=4 / 255, channels_last=False)(x, y))
