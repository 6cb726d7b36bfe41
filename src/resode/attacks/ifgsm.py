"""Iterative FGSM / basic iterative method (Kurakin et al. 2017).

    x^0 = x,   x^{k+1} = Π_{B_ε(x) ∩ [0,1]^d}( x^k + α·sign(∇ₓ L(x^k)) ),   k < steps

The paper's protocol (``papers.md`` A.4): 20 steps of α = 1/255, projection onto the L∞ ε-ball
around the clean image and clipping to [0, 1]. It is :class:`~resode.attacks.pgd.PGD` without a
random start and with a single run; L2 (normalised-gradient steps) is available too.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resode.attacks.pgd import PGD
from resode.attacks.registry import register_attack


def _options(config: Any) -> dict[str, Any]:
    return {"steps": config.steps}


@register_attack(
    "ifgsm",
    white_box=True,
    iterative=True,
    strength=20,
    default=True,
    paper=True,
    step_size=True,
    options=_options,
    aliases=("bim", "i-fgsm"),
)
class IFGSM(PGD):
    """``IFGSM(model, eps=8/255, steps=20, alpha=1/255, norm="Linf")`` (BIM)."""

    name = "ifgsm"

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float = 8 / 255,
        steps: int = 20,
        alpha: float | None = None,
        norm: str = "Linf",
        **kwargs: object,
    ) -> None:
        super().__init__(
            model,
            eps=eps,
            steps=steps,
            alpha=alpha,
            restarts=1,
            random_start=False,
            norm=norm,
            **kwargs,
        )


BIM = IFGSM
