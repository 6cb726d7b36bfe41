"""Synthetic regression data for paper B (Marion et al. 2024, section 5).

x_i ~ N(0, I_d) (optionally rescaled to ‖x_i‖ = √q, the paper's assumption for the PL result)
and y_i ~ N(0, I_{d'}), drawn from a seeded generator.
"""

from __future__ import annotations

import math

import torch

from resode.data.datasets import RegressionData


def make_regression(
    n: int = 100,
    d: int = 16,
    d_out: int | None = None,
    *,
    seed: int = 0,
    unit_sphere: bool = False,
    q: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> RegressionData:
    """n Gaussian samples x ∈ R^d and targets y ∈ R^{d_out}; ``unit_sphere`` sets ‖x‖ = √q."""
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be positive, got n={n}, d={d}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, d_out or d, generator=g, dtype=torch.float64)
    if unit_sphere:
        x = x / x.norm(dim=1, keepdim=True) * math.sqrt(q or d)
    return RegressionData(x=x.to(dtype), y=y.to(dtype), seed=seed)
