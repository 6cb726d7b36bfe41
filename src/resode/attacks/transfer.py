"""Transfer (black-box) attack: adversarial examples crafted on a surrogate, tested on the target.

    x' = A_surrogate(x, y)        (e.g. PGD on an independently trained surrogate model)

The target's gradients are never used, so a defence that only masks or obfuscates its own
gradients is not protected: if a model's white-box robust accuracy is *higher* than its accuracy
under a transfer attack from a comparable model, the white-box attack was failing (gradient
masking), not the model being robust. The surrogate attack runs without early stopping (its goal
is a strong example, not fooling the surrogate); with early stopping, samples the target already
misclassifies are returned unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from resode.attacks.base import Attack
from resode.attacks.registry import register_attack
from resode.errors import ResodeError


@register_attack("transfer", strength=70)
class TransferAttack(Attack):
    """``TransferAttack(target, surrogate, attack="pgd", eps=8/255, **attack_kwargs)``."""

    name = "transfer"
    masks_inactive = True

    def __init__(
        self,
        model: nn.Module,
        surrogate: nn.Module,
        *,
        attack: str = "pgd",
        eps: float = 8 / 255,
        norm: str = "Linf",
        early_stop: bool = True,
        seed: int | None = 0,
        device: torch.device | str | None = None,
        **attack_kwargs: Any,
    ) -> None:
        from resode.attacks import make_attack

        super().__init__(model, eps=eps, norm=norm, early_stop=early_stop, seed=seed, device=device)
        if attack_kwargs.pop("targeted", False):
            raise ResodeError("the transfer attack is untargeted; drop targeted=True")
        if attack in ("transfer", "autoattack"):
            raise ResodeError(f"a transfer attack cannot use {attack!r} on the surrogate")
        self.surrogate = surrogate
        self.surrogate_attack = make_attack(
            attack,
            surrogate,
            eps=eps,
            norm=norm,
            early_stop=False,
            seed=seed,
            device=device,
            **attack_kwargs,
        )

    def _perturb(
        self,
        x0: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        act = self._active  # the cascade: the surrogate attack draws for the whole batch too
        adv = self.surrogate_attack(x0, y, generator=generator, active=act).to(x0.device)
        adv = self.project(adv, x0)
        if act is not None:
            adv[~act] = x0[~act]
        elif self.early_stop:
            logits = self.logits(x0)
            self._check_classes(logits, y)
            f = self.fooled(logits, y, t)
            adv[f] = x0[f]
        return adv
