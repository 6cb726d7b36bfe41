"""AutoAttack, standard version (Croce & Hein 2020), through the optional ``pyautoattack``.

Standard AutoAttack runs APGD-CE, APGD-T (targeted DLR, 9 target classes), FAB-T and Square
(5000 queries) one after the other, each only on the samples still classified correctly, and
returns per sample the first successful adversarial example (or the clean input). It is today's
credibility bar for an adversarial-robustness claim (``papers.md`` A.4).

Install the optional dependency with ``pip install 'resode[autoattack]'`` (the package
``pyautoattack``, a maintained packaging of the reference implementation; it needs nothing but
torch and numpy). Models with fewer than 10 classes use ``num_classes − 1`` target classes;
with fewer than 4 classes (the targeted DLR loss needs 4) APGD-CE, untargeted FAB and Square run.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from resode.attacks.base import Attack
from resode.attacks.registry import register_attack
from resode.errors import ResodeError

INSTALL_HINT = (
    "AutoAttack needs the optional dependency 'pyautoattack'; install it with "
    "pip install 'resode[autoattack]' (or pip install pyautoattack)"
)


def load_pyautoattack() -> Any:
    """The ``pyautoattack`` module, or a ResodeError telling how to install it."""
    try:
        import pyautoattack
    except ImportError as exc:
        raise ResodeError(INSTALL_HINT) from exc
    return pyautoattack


def autoattack_available() -> bool:
    try:
        load_pyautoattack()
    except ResodeError:
        return False
    return True


def _options(config: Any) -> dict[str, Any]:
    return {"batch_size": config.batch_size}


@register_attack(
    "autoattack", iterative=True, strength=80, early_stop=False, options=_options, aliases=("aa",)
)
class AutoAttack(Attack):
    """``AutoAttack(model, eps=8/255, norm="Linf", version="standard", seed=0)``."""

    name = "autoattack"

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float = 8 / 255,
        norm: str = "Linf",
        version: str = "standard",
        batch_size: int = 250,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("targeted"):
            raise ResodeError("AutoAttack is untargeted (APGD-T and FAB-T choose their targets)")
        if kwargs.get("early_stop") is False:
            raise ResodeError("AutoAttack always stops early on already-misclassified samples")
        kwargs.pop("early_stop", None)
        super().__init__(model, eps=eps, norm=norm, early_stop=True, **kwargs)
        if version not in ("standard", "plus"):
            raise ResodeError(f"AutoAttack version must be 'standard' or 'plus', got {version!r}")
        self.version = version
        self.batch_size = int(batch_size)
        self._module = load_pyautoattack()
        logging.getLogger("auto-attack").setLevel(logging.WARNING)

    def _perturb(
        self,
        x0: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        if x0.ndim != 4:
            raise ResodeError(f"AutoAttack needs images (N, C, H, W), got shape {tuple(x0.shape)}")
        logits = self.logits(x0[:1])
        self._check_classes(logits, y)
        n_classes = int(logits.shape[1])
        if n_classes < 2:
            raise ResodeError("AutoAttack needs a classifier with at least 2 classes")
        seed = self.seed if self.seed is not None else 0
        if generator is not None:  # one seed per batch, reproducible from the generator
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
        aa = self._module.AutoAttack(
            self.model,
            eps=self.eps,
            norm=self.norm,
            version=self.version,
            seed=seed,
            device=self.device,
        )
        aa.verbose = False
        targets = min(9, n_classes - 1)
        aa.apgd_targeted.n_target_classes = targets
        aa.fab.n_target_classes = targets
        if n_classes < 4:  # the targeted DLR loss needs 4 classes: untargeted FAB instead
            aa.attacks_to_run = ["apgd-ce", "fab", "square"]
        x_adv, _ = aa.run_standard_evaluation(x0, y, batch_size=self.batch_size)
        return self.project(x_adv.to(x0.device, x0.dtype), x0)
