"""Square attack (Andriushchenko et al. 2020), L∞: a gradient-free random search.

Start from vertical stripes x⁰ = Π(x + ε·s), s ∈ {−1, 1} per column and channel. At iteration k a
square of side h_k = round(√(p_k·H·W)) (p_k halves on AutoAttack's schedule) at a random place gets
a new random ±ε per channel; the candidate is kept when it lowers the margin loss

    ℓ(x') = f_y(x') − max_{j≠y} f_j(x')           (fooled ⇔ ℓ < 0).

Only forward passes are used, so masked or obfuscated gradients cannot protect a model from it:
a model far more robust to PGD than to Square is masking its gradients.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from resode.attacks.base import Attack
from resode.attacks.registry import register_attack
from resode.errors import ResodeError

# (iteration bound on the 10 000 scale, divisor of p_init): halve the area at each bound
_P_SCHEDULE = (
    (10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
    (8000, 256),
)  # fmt: skip


def _p_schedule(p_init: float, it: int, n_iters: int) -> float:
    """AutoAttack's schedule of the square's area fraction (rescaled to ``n_iters`` = 10 000)."""
    i = int(it / n_iters * 10000)
    for bound, div in _P_SCHEDULE:
        if i <= bound:
            return p_init / div
    return p_init / 512


@register_attack("square", gradient_free=True, iterative=True, strength=60, fallback=True)
class Square(Attack):
    """``Square(model, eps=8/255, queries=200, p_init=0.8)`` (L∞ only, untargeted)."""

    name = "square"

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float = 8 / 255,
        queries: int = 200,
        p_init: float = 0.8,
        norm: str = "Linf",
        **kwargs: object,
    ) -> None:
        super().__init__(model, eps=eps, norm=norm, **kwargs)  # type: ignore[arg-type]
        if norm != "Linf":
            raise ResodeError("the Square attack is implemented for norm = Linf only")
        if self.targeted:
            raise ResodeError("the Square attack is untargeted; drop targeted=True")
        if isinstance(queries, bool) or not isinstance(queries, int) or queries < 0:
            raise ResodeError(f"queries must be an integer ≥ 0, got {queries!r}")
        if not 0 < p_init <= 1:
            raise ResodeError(f"p_init must be in (0, 1], got {p_init!r}")
        self.queries = queries
        self.p_init = float(p_init)

    def _margin(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        self._check_classes(logits, y)
        true = logits.gather(1, y[:, None]).squeeze(1)
        other = logits.clone()
        other.scatter_(1, y[:, None], -math.inf)
        return true - other.amax(dim=1)

    def _perturb(
        self,
        x0: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        if x0.ndim != 4:
            raise ResodeError("the Square attack needs image batches (N, C, H, W)")
        n, c, h, w = x0.shape
        gdev = generator.device if generator is not None else x0.device

        def rand_sign(*shape: int) -> torch.Tensor:
            r = torch.randint(0, 2, shape, generator=generator, device=gdev)
            return (2 * r - 1).to(x0.device, x0.dtype)

        x_best = self.project(x0 + self.eps * rand_sign(n, c, 1, w), x0)
        margin = self._margin(x_best, y)
        if self.early_stop:  # a sample the model already gets wrong stays clean
            clean = self._margin(x0, y) < 0
            x_best[clean] = x0[clean]
            margin[clean] = -1.0
        for k in range(self.queries):
            side = max(
                1,
                min(
                    h,
                    w,
                    round(math.sqrt(_p_schedule(self.p_init, k, max(self.queries, 1)) * h * w)),
                ),
            )
            rows = torch.randint(0, h - side + 1, (n,), generator=generator, device=gdev)
            cols = torch.randint(0, w - side + 1, (n,), generator=generator, device=gdev)
            signs = rand_sign(n, c, 1, 1)
            active = (margin >= 0).nonzero().squeeze(1) if self.early_stop else torch.arange(n)
            if active.numel() == 0:
                continue
            active = active.to(x0.device)
            cand = x_best[active].clone()
            for j, i in enumerate(active.tolist()):
                r, q = int(rows[i]), int(cols[i])
                cand[j, :, r : r + side, q : q + side] = (
                    x0[i, :, r : r + side, q : q + side] + self.eps * signs[i]
                )
            cand = self.project(cand, x0[active])
            m_new = self._margin(cand, y[active])
            better = m_new < margin[active]
            idx = active[better]
            x_best[idx] = cand[better]
            margin[idx] = m_new[better]
        return x_best
