"""Projected gradient descent (Madry et al. 2018) in L∞ or L2, with random start and restarts.

For r = 1..restarts (each from a fresh random start x⁰ uniform in the ε-ball around the clean x):

    x^{k+1} = Π_{B_ε(x) ∩ [0,1]^d}( x^k + α·s(∇ₓ L(x^k)) ),   s(g) = sign(g) (L∞) or g/‖g‖₂ (L2)

The projection is always around the *clean* input x, so ‖x^k − x‖ ≤ ε at every step. (The
official code of the In-ResNet paper projects around the random start instead, which lets the
perturbation reach 2ε; that is not reproduced here.) Per sample the worst case over restarts is
kept: a fooling example if any restart finds one, else the example of highest loss. Defaults follow
the paper's protocol (``papers.md`` A.4): 20 steps, α = 1/255 in L∞; in L2, α = 2.5·ε/steps.
See :mod:`resode.attacks.base` for early stopping.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from resode.attacks.base import Attack
from resode.attacks.registry import register_attack
from resode.errors import ResodeError


def _options(config: Any) -> dict[str, Any]:
    return {"steps": config.steps, "restarts": config.restarts}


@register_attack(
    "pgd",
    white_box=True,
    iterative=True,
    strength=30,
    default=True,
    paper=True,
    fallback=True,
    step_size=True,
    options=_options,
)
class PGD(Attack):
    """PGD in L∞ or L2: ``PGD(model, eps=8/255, steps=20, alpha=None, restarts=1)``."""

    name = "pgd"
    masks_inactive = True

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float = 8 / 255,
        steps: int = 20,
        alpha: float | None = None,
        restarts: int = 1,
        random_start: bool = True,
        norm: str = "Linf",
        **kwargs: object,
    ) -> None:
        super().__init__(model, eps=eps, norm=norm, **kwargs)  # type: ignore[arg-type]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ResodeError(f"steps must be an integer ≥ 0, got {steps!r}")
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
            raise ResodeError(f"restarts must be an integer ≥ 1, got {restarts!r}")
        if alpha is None:
            alpha = 1 / 255 if norm == "Linf" else 2.5 * self.eps / max(steps, 1)
        if not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha < 0:
            raise ResodeError(f"alpha (step size) must be a finite number ≥ 0, got {alpha!r}")
        self.steps = steps
        self.alpha = float(alpha)
        self.restarts = restarts
        self.random_start_enabled = bool(random_start)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(eps={self.eps:.5g}, norm={self.norm}, steps={self.steps}, "
            f"alpha={self.alpha:.5g}, restarts={self.restarts}, "
            f"random_start={self.random_start_enabled}, targeted={self.targeted}, "
            f"early_stop={self.early_stop})"
        )

    def _perturb(
        self,
        x0: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        n = x0.shape[0]
        result = x0.clone()
        done = torch.zeros(n, dtype=torch.bool, device=x0.device)  # early stop: fooled, final
        best_fooled = torch.zeros(n, dtype=torch.bool, device=x0.device)
        best_loss = torch.full((n,), -math.inf, dtype=x0.dtype, device=x0.device)
        if n == 0:
            return result
        # iterate 0 of the trajectory (the clean input), or the caller's active mask
        done = self.initial_done(x0, y, t)
        for _ in range(self.restarts):
            # Every restart's start is drawn for the whole batch, even once early stopping has
            # finished every sample: active samples see the same noise as in a full run, and the
            # generator advances by the same amount for every model (paired models evaluated
            # batch after batch with one generator see the same starts in every batch).
            start = self.random_start(x0, generator) if self.random_start_enabled else x0
            idx = (~done).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            x_r, loss_r, fooled_r = self._run(
                x0[idx], start[idx], y[idx], None if t is None else t[idx]
            )
            if self.early_stop:
                hit = idx[fooled_r]
                result[hit] = x_r[fooled_r]
                done[hit] = True
                better = ~fooled_r & (loss_r > best_loss[idx])
            else:
                old_fooled = best_fooled[idx]
                better = (fooled_r & ~old_fooled) | (
                    (fooled_r == old_fooled) & (loss_r > best_loss[idx])
                )
            upd = idx[better]
            result[upd] = x_r[better]
            best_loss[upd] = loss_r[better]
            best_fooled[upd] = fooled_r[better]
        return result

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
        out_loss = torch.empty(m, dtype=x0.dtype, device=x0.device)
        out_fooled = torch.zeros(m, dtype=torch.bool, device=x0.device)
        ids = torch.arange(m, device=x0.device)
        xa = x
        for k in range(self.steps + 1):
            if k == self.steps:  # the final iterate
                logits = self.logits(xa)
                self._check_classes(logits, y)
                loss = self.objective(logits, y, t)
                out[ids] = xa
                out_loss[ids] = loss
                out_fooled[ids] = self.fooled(logits, y, t)
                break
            loss, logits, grad = self.loss_and_grad(xa, y, t)
            if self.early_stop:
                f = self.fooled(logits, y, t)
                if bool(f.any()):
                    out[ids[f]] = xa[f]
                    out_loss[ids[f]] = loss[f]
                    out_fooled[ids[f]] = True
                    keep = ~f
                    ids, xa, x0, y, grad = ids[keep], xa[keep], x0[keep], y[keep], grad[keep]
                    t = None if t is None else t[keep]
                    if ids.numel() == 0:
                        break
            xa = self.project(self.step(xa, grad, self.alpha), x0)
        return out, out_loss, out_fooled
