"""Loss landscapes in input space and in parameter space (paper A, A.4; Li et al. 2018).

**Input space.** L(a, b) = CE(model(clip(x + a·d_adv + b·d_rand)), y), the mean cross-entropy
over a fixed batch, with d_adv = sign(∇ₓ L(x)) (the FGSM direction of the whole batch, one sign
per pixel) and d_rand a random ±1 vector of the same shape (Rademacher). a, b ∈ [−r, r] with
r = 16/255 by default, so a = ε is exactly an FGSM step of size ε. The perturbed images are
clipped to [0, 1] by default (``clip=True``): the model's input domain is [0, 1] and the attacks
of :mod:`resode.attacks` clip too, so the surface shows what an attacker can reach; pixels
already at 0 or 1 saturate, which flattens the surface a little far from the origin. With
``clip=False`` the raw line x + a·d is used. At the origin clip(x) = x for valid images, so
L(0, 0) is the model's loss on the batch exactly.

**Parameter space.** L(α, β) = CE(model_{θ + α·d₁ + β·d₂}(x), y) with filter-normalised random
directions (Li et al. 2018): d = Gaussian, then every filter d_i (slice along the output dimension
of a weight with ≥ 2 dims: a conv output channel, a row of a linear layer) is rescaled to
‖d_i‖ = ‖θ_i‖. Parameters with ≤ 1 dimension — biases, batch-norm γ and β, and the scalar
damping parameters k_n from which λ_n is computed — get a zero direction (Li et al.'s
``ignore='biasbn'``), and buffers (batch-norm running statistics) are never changed: the scan
shows the landscape of the convolution/linear weights at the learned normalisation and the
learned damping λ_n. Coefficients α, β ∈ [−1, 1] by default (a step of 1 moves every filter by its
own norm). The model is scanned in eval mode under ``torch.no_grad`` and its full state dict is
restored afterwards (bit-identical, also on error), as is its train/eval mode.

Grid coordinates are ``radius·(2i/(n−1) − 1)``, so for odd n the middle point is exactly 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resode.config import Config, option
from resode.errors import ResodeError
from resode.report import write_json


@dataclass
class LandscapeConfig(Config):
    """Settings of the loss-landscape scans (shared by ``resode landscape``)."""

    n_samples: int = option(128, "number of test images in the fixed batch", min=1)
    batch_size: int = option(256, "images per forward pass", min=1)
    grid: int = option(21, "grid points per axis (odd puts the origin on the grid)", min=2)
    input_radius: float = option(
        16 / 255,
        "input-space half-width r, e.g. 16/255: a, b ∈ [−r, r] (pixels in [0, 1])",
        min=0.0,
        pixels=True,
    )
    param_radius: float = option(1.0, "parameter-space half-width: α, β ∈ [−R, R]", min=0.0)
    clip: bool = option(True, "clip perturbed images to [0, 1]")
    ignore_1d: bool = option(
        True, "zero direction for biases, batch-norm and damping parameters (Li et al. biasbn)"
    )
    seed: int = option(0, "seed of the random directions")


def grid_coordinates(radius: float, n: int) -> torch.Tensor:
    """``radius·(2i/(n−1) − 1)`` for i = 0..n−1 (float64; exactly 0 in the middle for odd n)."""
    if n < 2:
        return torch.zeros(1, dtype=torch.float64)
    i = torch.arange(n, dtype=torch.float64)
    return radius * (2 * i / (n - 1) - 1)


def batch_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on (x, y); one forward pass when ``batch_size``
    is None or ≥ N (then the loss equals ``F.cross_entropy(model(x), y)`` exactly)."""
    n = x.shape[0]
    with torch.no_grad():
        if batch_size is None or batch_size >= n:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            return float(loss), float((logits.argmax(1) == y).double().mean())
        total, correct = 0.0, 0
        for s in range(0, n, batch_size):
            logits = model(x[s : s + batch_size])
            total += float(F.cross_entropy(logits, y[s : s + batch_size], reduction="sum"))
            correct += int((logits.argmax(1) == y[s : s + batch_size]).sum())
        return total / n, correct / n


# ----------------------------------------------------------------------------------------------
# input space


def input_directions(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(d_adv, d_rand): d_adv = sign(∇ₓ mean CE(model(x), y)), d_rand a random ±1 tensor."""
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(model(xg), y)
        (grad,) = torch.autograd.grad(loss, xg)
    d_adv = grad.sign()
    bits = torch.randint(0, 2, x.shape, generator=generator, device="cpu")
    d_rand = (2 * bits - 1).to(dtype=x.dtype, device=x.device)
    return d_adv.detach(), d_rand


def _perturb(
    x: torch.Tensor, a: float, d1: torch.Tensor, b: float, d2: torch.Tensor | None, clip: bool
) -> torch.Tensor:
    xp = x + a * d1 if d2 is None else x + a * d1 + b * d2
    return xp.clamp(0.0, 1.0) if clip else xp


def input_landscape_1d(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    direction: torch.Tensor,
    coords: Sequence[float] | torch.Tensor,
    *,
    clip: bool = True,
    batch_size: int | None = None,
) -> tuple[list[float], list[float]]:
    """(losses, accuracies) of L(x + a·d) for every a in ``coords``."""
    losses, accs = [], []
    with eval_mode(model):
        for a in _floats(coords):
            loss, acc = batch_loss(model, _perturb(x, a, direction, 0.0, None, clip), y, batch_size)
            losses.append(loss)
            accs.append(acc)
    return losses, accs


def input_landscape_2d(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    coords1: Sequence[float] | torch.Tensor,
    coords2: Sequence[float] | torch.Tensor,
    *,
    clip: bool = True,
    batch_size: int | None = None,
    progress: bool = False,
) -> tuple[list[list[float]], list[list[float]]]:
    """Grids loss[i][j], acc[i][j] of L(x + a_i·d1 + b_j·d2)."""
    from tqdm import tqdm

    loss_grid, acc_grid = [], []
    with eval_mode(model):
        for a in tqdm(_floats(coords1), desc="input 2D", disable=not progress, leave=False):
            row_l, row_a = [], []
            for b in _floats(coords2):
                loss, acc = batch_loss(model, _perturb(x, a, d1, b, d2, clip), y, batch_size)
                row_l.append(loss)
                row_a.append(acc)
            loss_grid.append(row_l)
            acc_grid.append(row_a)
    return loss_grid, acc_grid


# ----------------------------------------------------------------------------------------------
# parameter space


def filter_normalized_direction(
    model: nn.Module, generator: torch.Generator | None = None, *, ignore_1d: bool = True
) -> dict[str, torch.Tensor]:
    """A random direction {name: d} over ``model.named_parameters()`` (Li et al. 2018).

    For a parameter θ with ≥ 2 dims, d ~ N(0, I) and every filter is rescaled,
    d_i ← d_i·‖θ_i‖/‖d_i‖ (i indexes dim 0). Parameters with ≤ 1 dims get d = 0 when
    ``ignore_1d`` (biases, batch-norm, damping k_n), else a Gaussian rescaled to ‖θ‖.
    """
    out: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        w = p.detach()
        if w.dim() <= 1:
            if ignore_1d:
                out[name] = torch.zeros_like(w)
            else:
                d = torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)
                out[name] = d * (w.norm() / d.norm().clamp_min(1e-12))
            continue
        d = torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)
        wn = w.flatten(1).norm(dim=1)
        dn = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        out[name] = d * (wn / dn).view(-1, *([1] * (w.dim() - 1)))
    return out


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block, the previous train/eval mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Restore every state-dict entry of ``model`` bit-identically on exit (also on error)."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training
    try:
        yield model
    finally:
        with torch.no_grad():
            model.load_state_dict(saved, strict=True)
        model.train(was_training)


def parameter_landscape(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    d1: dict[str, torch.Tensor],
    coords1: Sequence[float] | torch.Tensor,
    d2: dict[str, torch.Tensor] | None = None,
    coords2: Sequence[float] | torch.Tensor | None = None,
    *,
    batch_size: int | None = None,
    progress: bool = False,
) -> tuple[list[list[float]], list[list[float]]]:
    """Grids loss[i][j], acc[i][j] of L(θ + α_i·d1 + β_j·d2) (one column when ``d2`` is None).

    Weights are set to θ + α·d1 + β·d2 in place (θ a saved copy, so no drift accumulates)
    and restored exactly afterwards.
    """
    from tqdm import tqdm

    params = dict(model.named_parameters())
    missing = [k for k in params if k not in d1 or (d2 is not None and k not in d2)]
    if missing:
        raise ResodeError(
            f"direction misses parameters {missing[:3]}; build it with "
            "filter_normalized_direction(model)"
        )
    b_coords = [0.0] if d2 is None else _floats(coords2 if coords2 is not None else coords1)
    loss_grid, acc_grid = [], []
    with preserved_state(model):
        model.eval()
        theta = {k: p.detach().clone() for k, p in params.items()}
        with torch.no_grad():
            for a in tqdm(_floats(coords1), desc="param scan", disable=not progress, leave=False):
                row_l, row_a = [], []
                for b in b_coords:
                    for k, p in params.items():
                        if d2 is None:
                            p.copy_(theta[k] + a * d1[k])
                        else:
                            p.copy_(theta[k] + a * d1[k] + b * d2[k])
                    loss, acc = batch_loss(model, x, y, batch_size)
                    row_l.append(loss)
                    row_a.append(acc)
                loss_grid.append(row_l)
                acc_grid.append(row_a)
    return loss_grid, acc_grid


# ----------------------------------------------------------------------------------------------
# result and driver


@dataclass
class LandscapeResult:
    """Landscape scans of one model. ``curves``: 1D name → {"coords", "loss", "acc"};
    ``surfaces``: 2D name → {"coords1", "coords2", "loss", "acc", "axes"}."""

    model: str
    clean_loss: float
    clean_acc: float
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    surfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_samples: int = 0
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LandscapeResult:
        return cls(**data)

    def to_json(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    def rows(self) -> list[dict[str, Any]]:
        """One CSV row per point of every 1D curve."""
        out = []
        for cname, c in self.curves.items():
            for t, loss, acc in zip(c["coords"], c["loss"], c["acc"]):
                out.append({"model": self.model, "curve": cname, "t": t, "loss": loss, "acc": acc})
        return out


def analyze_landscape(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: LandscapeConfig | None = None,
    *,
    space: str = "both",
    name: str = "model",
    progress: bool = False,
) -> LandscapeResult:
    """1D curves and 2D grids in input space ('input'), parameter space ('parameter') or both.

    Curves: ``input/adv``, ``input/rand`` (along d_adv, d_rand), ``parameter/d1``,
    ``parameter/d2``; surfaces ``input`` (a along d_adv, b along d_rand) and ``parameter``.
    """
    if space not in ("input", "parameter", "both"):
        raise ResodeError(f"unknown landscape space {space!r}; use input, parameter or both")
    cfg = config or LandscapeConfig()
    n = min(cfg.n_samples, images.shape[0])
    dev = next(iter(model.parameters())).device
    x, y = images[:n].to(dev), labels[:n].to(dev)
    gen = torch.Generator().manual_seed(cfg.seed)
    bs = cfg.batch_size
    with eval_mode(model):
        clean_loss, clean_acc = batch_loss(model, x, y, bs)
        result = LandscapeResult(
            model=name,
            clean_loss=clean_loss,
            clean_acc=clean_acc,
            n_samples=n,
            config={**cfg.to_dict(), "space": space},
        )
        if space in ("input", "both"):
            coords = grid_coordinates(cfg.input_radius, cfg.grid)
            d_adv, d_rand = input_directions(model, x, y, gen)
            for key, d in (("adv", d_adv), ("rand", d_rand)):
                loss, acc = input_landscape_1d(model, x, y, d, coords, clip=cfg.clip, batch_size=bs)
                result.curves[f"input/{key}"] = {
                    "coords": coords.tolist(),
                    "loss": loss,
                    "acc": acc,
                }
            lg, ag = input_landscape_2d(
                model,
                x,
                y,
                d_adv,
                d_rand,
                coords,
                coords,
                clip=cfg.clip,
                batch_size=bs,
                progress=progress,
            )
            result.surfaces["input"] = {
                "coords1": coords.tolist(),
                "coords2": coords.tolist(),
                "loss": lg,
                "acc": ag,
                "axes": ["a (d_adv = sign ∇ₓL)", "b (d_rand, random sign)"],
            }
        if space in ("parameter", "both"):
            coords = grid_coordinates(cfg.param_radius, cfg.grid)
            d1 = filter_normalized_direction(model, gen, ignore_1d=cfg.ignore_1d)
            d2 = filter_normalized_direction(model, gen, ignore_1d=cfg.ignore_1d)
            for key, d in (("d1", d1), ("d2", d2)):
                lg1, ag1 = parameter_landscape(model, x, y, d, coords, batch_size=bs)
                result.curves[f"parameter/{key}"] = {
                    "coords": coords.tolist(),
                    "loss": [r[0] for r in lg1],
                    "acc": [r[0] for r in ag1],
                }
            lg, ag = parameter_landscape(
                model, x, y, d1, coords, d2, coords, batch_size=bs, progress=progress
            )
            result.surfaces["parameter"] = {
                "coords1": coords.tolist(),
                "coords2": coords.tolist(),
                "loss": lg,
                "acc": ag,
                "axes": ["α (filter-normalised d1)", "β (filter-normalised d2)"],
            }
    return result


def _floats(coords: Sequence[float] | torch.Tensor) -> list[float]:
    if isinstance(coords, torch.Tensor):
        return [float(c) for c in coords.tolist()]
    return [float(c) for c in coords]
