"""S trained-alike networks (one per seed) as ONE network on the channel axis.

Seed s's input occupies channels ``[s·C, (s+1)·C)`` of a stacked batch ``X ∈ R^{N×S·C×H×W}``
and every layer keeps the seeds apart:

* conv (C_in → C_out, g groups)  →  conv (S·C_in → S·C_out, S·g groups), weight
  ``W = stack_s W_s`` viewed as ``(S·C_out, C_in/g, k, k)``: output block s sees only input
  block s and only W_s;
* BatchNorm(C) → BatchNorm(S·C): statistics per channel, so per seed exactly (train mode:
  the batch statistics of seed s's own images; eval mode: seed s's running statistics);
* damping λ of a block: one value (or C values) per seed, expanded to seed s's C channels;
* Linear(F → K)  →  S linear maps of the seeds' features: the output is ``(N, S, K)``;
* ReLU, pooling, flatten and the identity act per channel (flatten keeps the seed-major order).

Every stacked tensor (parameter or buffer) is ``torch.stack`` of the per-seed tensors, so
``tensor[s]`` is seed s's tensor of the ordinary model under the same name
(:meth:`SeedStack.unstack`), and the SGD state of a stacked parameter sliced at s is the state
a single run of seed s would hold (momentum and weight decay are elementwise).

Which models: any :class:`~resode.nn.base.ResidualClassifier` built from the modules above
(every ``preact_resnet`` family model, so ResNet / In-ResNet / λ-In-ResNet of every depth, the
generic ``preact_resnet`` with any damping, and the ResNeXts). Anything else (e.g. paper B's
``scaled_convnet``) is refused with a :class:`~resode.errors.ResodeError` naming the module.

:class:`SeedMajor` wraps a stack as an ordinary classifier on seed-major batches
(rows ``[s·B, (s+1)·B)`` are seed s's), so code written for one model runs all seeds at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resode.errors import ResodeError
from resode.nn.base import ResidualClassifier
from resode.nn.blocks import DampedBlock
from resode.nn.damping import Damping
from resode.nn.normalize import Normalize

#: modules that act on every channel alike and hold no state: reused as they are
_PER_CHANNEL = (
    nn.ReLU,
    nn.GELU,
    nn.Tanh,
    nn.Softplus,
    nn.Identity,
    nn.AdaptiveAvgPool2d,
    nn.AvgPool2d,
    nn.Flatten,
)


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.detach().clone() for t in tensors])


class StackedConv2d(nn.Module):
    """S convolutions as one grouped convolution: ``weight`` is (S, C_out, C_in/g, k, k)."""

    def __init__(self, convs: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        c = convs[0]
        if c.padding_mode != "zeros" or isinstance(c.padding, str):
            raise ResodeError("seed stacking supports zero-padded convolutions with int padding")
        self.num_seeds = len(convs)
        self.stride, self.padding, self.dilation = c.stride, c.padding, c.dilation
        self.groups = c.groups
        self.weight = nn.Parameter(_stack([m.weight for m in convs]))
        self.bias = nn.Parameter(_stack([m.bias for m in convs])) if c.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.reshape(-1, *self.weight.shape[2:])
        b = None if self.bias is None else self.bias.reshape(-1)
        return F.conv2d(
            x, w, b, self.stride, self.padding, self.dilation, self.groups * self.num_seeds
        )


class StackedBatchNorm2d(nn.Module):
    """S BatchNorms as one over S·C channels; every tensor (S, C), ``num_batches_tracked`` (S,)."""

    def __init__(self, bns: Sequence[nn.BatchNorm2d]) -> None:
        super().__init__()
        b = bns[0]
        if not (b.affine and b.track_running_stats):
            raise ResodeError("seed stacking supports affine BatchNorm with running statistics")
        self.eps, self.momentum = b.eps, b.momentum
        self.weight = nn.Parameter(_stack([m.weight for m in bns]))
        self.bias = nn.Parameter(_stack([m.bias for m in bns]))
        self.register_buffer("running_mean", _stack([m.running_mean for m in bns]))
        self.register_buffer("running_var", _stack([m.running_var for m in bns]))
        self.register_buffer("num_batches_tracked", _stack([m.num_batches_tracked for m in bns]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as nn.BatchNorm2d
                factor = 1.0 / float(self.num_batches_tracked[0])
        return F.batch_norm(
            x,
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            self.training,
            factor,
            self.eps,
        )


class StackedLinear(nn.Module):
    """S linear maps: (N, S·F) → (N, S, K); ``weight`` (S, K, F), ``bias`` (S, K)."""

    def __init__(self, linears: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.num_seeds = len(linears)
        self.weight = nn.Parameter(_stack([m.weight for m in linears]))
        lin = linears[0]
        self.bias = (
            nn.Parameter(_stack([m.bias for m in linears])) if lin.bias is not None else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = x.reshape(x.shape[0], self.num_seeds, -1)
        # one F.linear per seed: the very op (addmm) and shapes of the seed's own model
        outs = [
            F.linear(xs[:, s], self.weight[s], None if self.bias is None else self.bias[s])
            for s in range(self.num_seeds)
        ]
        return torch.stack(outs, dim=1)  # (N, S, K)


class StackedNormalize(nn.Module):
    """``(x − mean_s)/std_s`` on seed s's channels; ``mean``/``std`` (S, 1, C, 1, 1)."""

    def __init__(self, norms: Sequence[Normalize]) -> None:
        super().__init__()
        self.register_buffer("mean", _stack([m.mean for m in norms]))
        self.register_buffer("std", _stack([m.std for m in norms]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.reshape(1, -1, 1, 1)) / self.std.reshape(1, -1, 1, 1)


class StackedDamping(nn.Module):
    """The λ of S damped blocks: the per-seed parameter (``k``, or the buffer ``lam``) stacked.

    ``value()`` applies the seed models' own (elementwise) parametrisation to the stacked
    tensor: (S,) for one λ per block, (S, C) per channel.
    """

    def __init__(self, dampings: Sequence[Damping]) -> None:
        super().__init__()
        proto = dampings[0]
        names = [n for n, _ in proto.named_parameters()] + [n for n, _ in proto.named_buffers()]
        if names not in (["k"], ["lam"]) or any(type(d) is not type(proto) for d in dampings):
            raise ResodeError(f"seed stacking does not support the damping {type(proto).__name__}")
        self._value: Callable[[Any], torch.Tensor] = type(proto).value
        self.form, self.channels = proto.form, proto.channels
        if names == ["k"]:
            self.k = nn.Parameter(_stack([d.k for d in dampings]))
        else:
            self.register_buffer("lam", _stack([d.lam for d in dampings]))

    def value(self) -> torch.Tensor:
        return self._value(self)  # relu(1 − k), relu(k), sigmoid(k) or lam: elementwise


class StackedDampedBlock(nn.Module):
    """``g(x) = f(x) + s(x)``, ``f + (1 − λ)s`` or ``(1 + λ)f + (1 − λ)s`` with λ per seed."""

    def __init__(self, blocks: Sequence[DampedBlock], num_seeds: int) -> None:
        super().__init__()
        self.num_seeds = num_seeds
        self.branch = stack_modules([b.branch for b in blocks])
        self.shortcut = stack_modules([b.shortcut for b in blocks])
        ds = [b.damping for b in blocks]
        if any((d is None) != (ds[0] is None) for d in ds):
            raise ResodeError("seed stacking needs the same damped blocks in every seed's model")
        self.damping = None if ds[0] is None else StackedDamping(ds)  # type: ignore[arg-type]

    def channel_lambda(self, channels: int) -> torch.Tensor:
        """λ of every stacked channel, shape (1, S·C, 1, 1) (C = ``channels // S``)."""
        assert self.damping is not None
        lam = self.damping.value()
        s = self.num_seeds
        if lam.dim() == 1:  # one λ per seed
            lam = lam[:, None].expand(s, channels // s)
        return lam.reshape(1, channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.branch(x)
        sc = self.shortcut(x)
        if self.damping is None:
            return f + sc
        lam = self.channel_lambda(f.shape[1])
        if self.damping.form == "in":
            return f + (1 - lam) * sc
        return (1 + lam) * f + (1 - lam) * sc


def stack_modules(mods: Sequence[nn.Module]) -> nn.Module:
    """The stacked version of S modules of one architecture (see the module docstring)."""
    proto = mods[0]
    if any(type(m) is not type(proto) for m in mods):
        raise ResodeError("seed stacking needs models of one architecture")
    if isinstance(proto, nn.Sequential) and type(proto).forward is nn.Sequential.forward:
        out = nn.Sequential()
        for name, _ in proto.named_children():
            out.add_module(name, stack_modules([getattr(m, name) for m in mods]))
        return out
    if type(proto) is nn.ModuleList:
        return nn.ModuleList(
            stack_modules([m[i] for m in mods])  # type: ignore[index]
            for i in range(len(proto))  # type: ignore[arg-type]
        )
    if type(proto) is nn.Conv2d:
        return StackedConv2d(mods)  # type: ignore[arg-type]
    if type(proto) is nn.BatchNorm2d:
        return StackedBatchNorm2d(mods)  # type: ignore[arg-type]
    if type(proto) is nn.Linear:
        return StackedLinear(mods)  # type: ignore[arg-type]
    if type(proto) is Normalize:
        return StackedNormalize(mods)  # type: ignore[arg-type]
    if isinstance(proto, DampedBlock) and type(proto).forward is DampedBlock.forward:
        return StackedDampedBlock(mods, len(mods))  # type: ignore[arg-type]
    if type(proto) in _PER_CHANNEL:
        return copy.deepcopy(proto)
    raise ResodeError(
        f"seed stacking does not support the module {type(proto).__name__}; seed_batch works "
        "for the pre-activation ResNet family (resnet*, inresnet*, lambda_inresnet*, "
        "preact_resnet, resnext*); use seed_batch = 1 for this model"
    )


class SeedStack(nn.Module):
    """S models of one architecture as one: ``forward`` maps (N, S·C, H, W) → (N, S, K).

    Built from per-seed models (each exactly as its seed builds it); :meth:`unstack` gives them
    back as ordinary models holding the stacked state's slices.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        if not models:
            raise ResodeError("seed stacking needs at least one model")
        proto = models[0]
        if not isinstance(proto, ResidualClassifier) or (
            type(proto).forward is not ResidualClassifier.forward
        ):
            stack_modules([proto])  # names the unsupported module when there is one
            raise ResodeError(
                f"seed stacking does not support {type(proto).__name__}; use seed_batch = 1"
            )
        specs = [getattr(m, "resode_spec", None) for m in models]
        if any(s != specs[0] for s in specs):
            raise ResodeError("seed stacking needs one architecture (the same model spec)")
        self.num_seeds = len(models)
        self.normalize = stack_modules([m.normalize for m in models])
        self.stem = stack_modules([m.stem for m in models])
        self.blocks = stack_modules([m.blocks for m in models])
        self.head = stack_modules([m.head for m in models])
        names = [k for k, _ in self.named_parameters()]
        if names != [k for k, _ in proto.named_parameters()] or set(self.state_dict()) != set(
            proto.state_dict()
        ):  # the stack's names are the model's names: seed s's state is tensor[s]
            raise ResodeError(f"seed stacking could not mirror {type(proto).__name__}'s state")
        template = copy.deepcopy(proto)
        object.__setattr__(self, "_template", template)  # not a submodule: no stacked state

    # ------------------------------------------------------------------ layouts
    def stack_inputs(self, xs: torch.Tensor) -> torch.Tensor:
        """(S, N, C, H, W) per-seed batches → the stacked (N, S·C, H, W)."""
        s, n = xs.shape[:2]
        return xs.transpose(0, 1).reshape(n, s * xs.shape[2], *xs.shape[3:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(self.normalize(x))
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    # ------------------------------------------------------------------ per-seed models
    def seed_state_dict(self, s: int) -> dict[str, torch.Tensor]:
        """Seed s's state dict under the ordinary model's names (clones of the slices)."""
        if not 0 <= s < self.num_seeds:
            raise IndexError(f"seed index {s} outside 0..{self.num_seeds - 1}")
        return {k: v[s].detach().clone() for k, v in self.state_dict().items()}

    def unstack(self, s: int) -> nn.Module:
        """Seed s's model: a copy of the architecture holding its slice of the stacked state."""
        model = copy.deepcopy(self._template)
        model.load_state_dict(self.seed_state_dict(s))
        model.train(self.training)
        return model.to(next(self.parameters()).device)


class SeedMajor(nn.Module):
    """The stack as an ordinary classifier on seed-major batches.

    ``x`` of shape (S·B, C, H, W), rows ``[s·B, (s+1)·B)`` for seed s → logits (S·B, K) in the
    same order: row r's logits are seed ``r // B``'s model applied to row r alone (in eval mode
    every row is independent of the others).
    """

    def __init__(self, stack: SeedStack) -> None:
        super().__init__()
        self.stack = stack

    @property
    def num_seeds(self) -> int:
        return self.stack.num_seeds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stack.num_seeds
        if x.shape[0] % s:
            raise ResodeError(f"a seed-major batch needs a multiple of {s} rows, got {x.shape[0]}")
        xs = x.reshape(s, x.shape[0] // s, *x.shape[1:])
        out = self.stack(self.stack.stack_inputs(xs))  # (B, S, K)
        return out.transpose(0, 1).reshape(x.shape[0], -1)


__all__ = [
    "SeedMajor",
    "SeedStack",
    "StackedBatchNorm2d",
    "StackedConv2d",
    "StackedDampedBlock",
    "StackedDamping",
    "StackedLinear",
    "StackedNormalize",
    "stack_modules",
]
