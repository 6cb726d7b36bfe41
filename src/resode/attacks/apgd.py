"""Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks", ICML 2020): APGD-CE and APGD-DLR, L∞ or L2.

From x⁰ = Π(x + ε·r/‖r‖) (r ~ U[−1, 1]^d for L∞, N(0, I) for L2; AutoAttack's start) and the
step size η⁰ = 2ε, for k = 0 … N−1 (momentum α = 0.75, α = 1 at k = 0):

    z^{k+1} = Π_S( x^k + η^k·s(∇ₓL(x^k)) ),   s = sign (L∞) or g/‖g‖₂ (L2)
    x^{k+1} = Π_S( x^k + α·(z^{k+1} − x^k) + (1 − α)·(x^k − x^{k−1}) )

with S = B_ε(x) ∩ [0, 1]^d around the *clean* x. At the checkpoints w_j (first after
⌈0.22·N⌉ iterations, then every max(w_j − w_{j−1} − 0.03·N, 0.06·N)), per sample, η is halved
and the iteration restarts from the best point x_max (with its gradient) when

  1. Σ_{i=w_{j−1}}^{w_j−1} 1[L(x^{i+1}) > L(x^i)] ≤ ρ·(w_j − w_{j−1}), ρ = 0.75 (oscillation), or
  2. η was not halved at w_{j−1} and L_max did not increase since w_{j−1}.

Losses (per sample, logits z, π the classes sorted by decreasing z):

* ``ce``: cross-entropy CE(z, y) (targeted: −CE(z, t));
* ``dlr``: DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 10⁻¹²), invariant to z ↦ a·z + b
  (a > 0), so a model cannot hide behind rescaled logits; needs ≥ 3 classes. Targeted:
  −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²) (AutoAttack's APGD-T loss), ≥ 4 classes.

A sample is fooled when argmax z ≠ y (untargeted) or = t (targeted); every iterate, the start
included, is checked. Early stopping (:mod:`resode.attacks.base`) returns the first fooling iterate
and stops the sample there; without it a fooling iterate (the last one found) is returned if
any, else x_max. Restarts run only on the samples still not fooled, each from a fresh start drawn
for the whole batch. Every per-sample quantity (η, the checks, x_max) depends on that sample's
own trajectory and the checkpoint schedule only, so a sample follows the same iterates whatever
else is in the batch (what lets the robustness cascade skip samples exactly).

Why an own APGD next to AutoAttack (:mod:`resode.attacks.autoattack`): it fits the attack
contract (early stopping, ``active`` masks of the cascade, the paired generators of
:mod:`resode.robustness.evaluate`, any device, targeted or not), so it runs in every robustness
claim at a fraction of standard AutoAttack's cost; AutoAttack itself stays available
(``autoattack: true``) and is compared with this implementation in ``tests/test_apgd.py``.

Arguments: ``APGD(model, eps=8/255, norm="Linf", loss="ce"|"dlr", steps=100, restarts=1,
rho=0.75, momentum=0.75, targeted=False, early_stop=True, seed=0)``; images (N, …) in [0, 1],
labels (N,) int64; returns images of the same shape. ``APGDCE``/``APGDDLR`` fix the loss.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from resode.attacks.base import per_sample_norm
from resode.attacks.pgd import PGD
from resode.attacks.registry import register_attack
from resode.errors import ResodeError

LOSSES = ("ce", "dlr")
_TINY = 1e-12


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Untargeted DLR per sample: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 10⁻¹²)."""
    z_sorted = logits.sort(dim=1).values
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], -math.inf).amax(dim=1)
    return -(z_y - other) / (z_sorted[:, -1] - z_sorted[:, -3] + _TINY)


def targeted_dlr_loss(logits: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Targeted DLR per sample: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²)."""
    z_sorted = logits.sort(dim=1).values
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    z_t = logits.gather(1, t[:, None]).squeeze(1)
    return -(z_y - z_t) / (z_sorted[:, -1] - 0.5 * (z_sorted[:, -3] + z_sorted[:, -4]) + _TINY)


def checkpoint_lengths(steps: int) -> list[int]:
    """Iterations between successive checkpoints: ⌊0.22N⌋, then shrinking by ⌊0.03N⌋ down to
    ⌊0.06N⌋ (each at least 1), as in the reference implementation."""
    k, k_min, dec = max(int(0.22 * steps), 1), max(int(0.06 * steps), 1), max(int(0.03 * steps), 1)
    out, total = [], 0
    while total + k <= steps:
        out.append(k)
        total += k
        k = max(k - dec, k_min)
    return out


class APGD(PGD):
    """``APGD(model, eps=8/255, loss="ce", steps=100, restarts=1, norm="Linf")``."""

    name = "apgd"

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float = 8 / 255,
        loss: str = "ce",
        steps: int = 100,
        restarts: int = 1,
        rho: float = 0.75,
        momentum: float = 0.75,
        norm: str = "Linf",
        **kwargs: object,
    ) -> None:
        if "alpha" in kwargs:
            raise ResodeError("APGD chooses its own step size (2ε, halved at checkpoints)")
        super().__init__(model, eps=eps, steps=steps, restarts=restarts, norm=norm, **kwargs)  # type: ignore[arg-type]
        if loss not in LOSSES:
            raise ResodeError(f"APGD loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if not 0 < rho <= 1 or not 0 < momentum <= 1:
            raise ResodeError("APGD needs 0 < rho ≤ 1 and 0 < momentum ≤ 1")
        self.loss = loss
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.name = f"apgd-{loss}"

    def __repr__(self) -> str:
        return (
            f"APGD(loss={self.loss}, eps={self.eps:.5g}, norm={self.norm}, steps={self.steps}, "
            f"restarts={self.restarts}, targeted={self.targeted}, early_stop={self.early_stop})"
        )

    def objective(
        self, logits: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        if self.loss == "ce":
            return super().objective(logits, y, t)
        need = 3 if t is None else 4
        if logits.shape[1] < need:
            raise ResodeError(
                f"the {'targeted ' if t is not None else ''}DLR loss needs at least {need} classes"
                f", the model has {logits.shape[1]}; use loss='ce'"
            )
        return dlr_loss(logits, y) if t is None else targeted_dlr_loss(logits, y, t)

    def random_start(self, x0: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """AutoAttack's start x + ε·r/‖r‖ (on the sphere), drawn for the whole batch."""
        gdev = generator.device if generator is not None else x0.device
        if self.norm == "Linf":
            r = 2 * torch.rand(x0.shape, generator=generator, device=gdev, dtype=x0.dtype) - 1
        else:
            r = torch.randn(x0.shape, generator=generator, device=gdev, dtype=x0.dtype)
        r = r.to(x0.device)
        n = per_sample_norm(r, self.norm).view(-1, *([1] * (x0.ndim - 1))) + _TINY
        return self.project(x0 + self.eps * r / n, x0)

    def _run(
        self,
        x0: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One restart from ``x``: (returned iterate, its loss, fooled) per sample."""
        m = x0.shape[0]
        out = x.clone()
        out_loss = torch.full((m,), -math.inf, dtype=x0.dtype, device=x0.device)
        out_fooled = torch.zeros(m, dtype=torch.bool, device=x0.device)
        shape = (-1, *([1] * (x0.ndim - 1)))
        # per-sample state, indexed together when early stopping drops fooled samples
        s: dict[str, torch.Tensor] = {"ids": torch.arange(m, device=x0.device), "x0": x0, "y": y}
        if t is not None:
            s["t"] = t
        loss, logits, grad = self.loss_and_grad(x, y, t)
        s.update(
            x=x,
            prev=x,
            grad=grad,
            loss=loss,
            best_x=x.clone(),
            best_grad=grad,
            best_loss=loss,
            eta=torch.full((m,), 2 * self.eps, dtype=x0.dtype, device=x0.device),
            ups=torch.zeros(m, dtype=torch.long, device=x0.device),
            halved=torch.ones(m, dtype=torch.bool, device=x0.device),
            best_at_check=loss,
        )
        checks = checkpoint_lengths(self.steps)
        next_check, ci = (checks[0] if checks else self.steps + 1), 0
        since = 0

        def record(f: torch.Tensor) -> None:
            """Keep the fooling iterates ``f`` (a mask over the active samples)."""
            ids = s["ids"][f]
            out[ids] = s["x"][f]
            out_loss[ids] = s["loss"][f]
            out_fooled[ids] = True

        def drop(keep: torch.Tensor) -> None:
            for key in s:
                s[key] = s[key][keep]

        f = self.fooled(logits, y, t)
        if bool(f.any()):
            record(f)
            if self.early_stop:
                drop(~f)
        for k in range(self.steps):
            if s["ids"].numel() == 0:
                break
            a = 1.0 if k == 0 else self.momentum
            xk, x0k = s["x"], s["x0"]
            z = self.project(self._step_eta(xk, s["grad"], s["eta"], shape), x0k)
            x_new = self.project(xk + a * (z - xk) + (1 - a) * (xk - s["prev"]), x0k)
            tk = s.get("t")
            loss, logits, grad = self.loss_and_grad(x_new, s["y"], tk)
            s["ups"] = s["ups"] + (loss > s["loss"]).long()
            s["prev"], s["x"], s["grad"], s["loss"] = xk, x_new, grad, loss
            better = loss > s["best_loss"]
            s["best_x"] = torch.where(better.view(shape), x_new, s["best_x"])
            s["best_grad"] = torch.where(better.view(shape), grad, s["best_grad"])
            s["best_loss"] = torch.where(better, loss, s["best_loss"])
            since += 1
            if since == next_check:  # checkpoint: halve η and go back to x_max where needed
                oscillating = s["ups"] <= self.rho * since
                stalled = ~s["halved"] & (s["best_at_check"] >= s["best_loss"])
                reduce = oscillating | stalled
                s["eta"] = torch.where(reduce, s["eta"] / 2, s["eta"])
                s["x"] = torch.where(reduce.view(shape), s["best_x"], s["x"])
                s["grad"] = torch.where(reduce.view(shape), s["best_grad"], s["grad"])
                s["halved"], s["best_at_check"] = reduce, s["best_loss"]
                s["ups"] = torch.zeros_like(s["ups"])
                since, ci = 0, ci + 1
                next_check = checks[ci] if ci < len(checks) else self.steps + 1
            f = self.fooled(logits, s["y"], tk)
            if bool(f.any()):
                # the fooling iterate is x_new (s["x"] may have been reset to x_max just now)
                ids = s["ids"][f]
                out[ids] = x_new[f]
                out_loss[ids] = loss[f]
                out_fooled[ids] = True
                if self.early_stop:
                    drop(~f)
        # samples never fooled: the point of highest loss
        if s["ids"].numel():
            rest = ~out_fooled[s["ids"]]
            ids = s["ids"][rest]
            out[ids] = s["best_x"][rest]
            out_loss[ids] = s["best_loss"][rest]
        return out, out_loss, out_fooled

    def _step_eta(
        self, x: torch.Tensor, grad: torch.Tensor, eta: torch.Tensor, shape: tuple[int, ...]
    ) -> torch.Tensor:
        """x + η_i·s(g_i) with a per-sample step size η."""
        if self.norm == "Linf":
            return x + eta.view(shape) * grad.sign()
        n = per_sample_norm(grad, "L2").clamp_min(_TINY)
        return x + (eta / n).view(shape) * grad


def _options(config: Any) -> dict[str, Any]:
    return {"steps": config.apgd_steps}


@register_attack(
    "apgd-ce",
    white_box=True,
    iterative=True,
    strength=40,
    default=True,
    options=_options,
    aliases=("apgd", "apgd_ce"),
)
class APGDCE(APGD):
    """APGD on the cross-entropy loss (AutoAttack's first attack)."""

    def __init__(self, model: nn.Module, **kwargs: object) -> None:
        if kwargs.pop("loss", "ce") != "ce":
            raise ResodeError("APGDCE uses the cross-entropy loss; use APGD(loss=...)")
        super().__init__(model, loss="ce", **kwargs)  # type: ignore[arg-type]


@register_attack(
    "apgd-dlr",
    white_box=True,
    iterative=True,
    strength=50,
    default=True,
    options=_options,
    aliases=("apgd_dlr",),
)
class APGDDLR(APGD):
    """APGD on the DLR loss (shift- and scale-invariant in the logits)."""

    def __init__(self, model: nn.Module, **kwargs: object) -> None:
        if kwargs.pop("loss", "dlr") != "dlr":
            raise ResodeError("APGDDLR uses the DLR loss; use APGD(loss=...)")
        super().__init__(model, loss="dlr", **kwargs)  # type: ignore[arg-type]


__all__ = ["APGD", "APGDCE", "APGDDLR", "checkpoint_lengths", "dlr_loss", "targeted_dlr_loss"]
