"""Fast gradient sign method (Goodfellow et al. 2015) and its L2 version (fast gradient method).

    L∞:  x' = clip(x + ε·sign(∇ₓ L(x)), 0, 1)
    L2:  x' = clip(x + ε·∇ₓ L(x)/‖∇ₓ L(x)‖₂, 0, 1)

with L = CE(f(x), y) (untargeted) or −CE(f(x), t) (targeted). For a linear model f(x) = Wx + b,
∇ₓ CE = Wᵀ(softmax(f(x)) − e_y) = Σ_k p_k (w_k − w_y). With early stopping a sample the model
already misclassifies is returned unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from resode.attacks.base import Attack
from resode.attacks.registry import register_attack


@register_attack("fgsm", white_box=True, strength=10, default=True, paper=True, fallback=True)
class FGSM(Attack):
    """``FGSM(model, eps=8/255, norm="Linf")``: one gradient step of size ε."""

    name = "fgsm"
    masks_inactive = True

    def __init__(
        self, model: nn.Module, *, eps: float = 8 / 255, norm: str = "Linf", **kwargs: object
    ) -> None:
        super().__init__(model, eps=eps, norm=norm, **kwargs)  # type: ignore[arg-type]

    def _perturb(
        self,
        x0: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        if self._active is not None:  # the cascade: only the active samples (no randomness)
            idx = self._active.nonzero().squeeze(1)
            adv = x0.clone()
            if idx.numel():
                adv[idx] = self._attack(x0[idx], y[idx], None if t is None else t[idx])
            return adv
        return self._attack(x0, y, t)

    def _attack(self, x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        _, logits, grad = self.loss_and_grad(x0, y, t)
        adv = self.project(self.step(x0, grad, self.eps), x0)
        if self.early_stop:
            f = self.fooled(logits, y, t)
            adv[f] = x0[f]
        return adv
