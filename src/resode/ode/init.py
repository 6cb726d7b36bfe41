"""Initialisations of the stacked residual weights Z_k = (V_k, W_k), k = 1..L (paper B, §B.2).

* ``tied`` (the paper's "smooth" init): one N(0, 1) draw W, W_k = W for all k (V likewise, or 0);
* ``iid``: independent N(0, 1) entries per layer — successive weights differ by O(1);
* ``gp``: every entry a Gaussian process in s = k/L with covariance exp(−(s−s')²/(2ℓ²)),
  sampled exactly on the L grid points by a Cholesky factor of the kernel matrix (+ jitter);
* ``function``: Z_k = Z_init(k/L) for a user function s ↦ (V(s), W(s)).

``zero_v=True`` (the paper's main scheme) sets V_k = 0. A and B keep the (I; 0), (0, I) embedding.
With several seeds (``model.n_seeds``) every seed gets its own generator ``seed + i``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from resode.errors import ResodeError
from resode.ode.scaled_resnet import ScaledResidualMLP

INIT_SCHEMES: tuple[str, ...] = ("tied", "iid", "gp", "function")
ZInit = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def depth_grid(depth: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """s_k = k/L for k = 1..L (layer k holds Z_k = Z(s_k))."""
    return torch.arange(1, depth + 1, dtype=dtype) / depth


@functools.lru_cache(maxsize=4)
def _gp_cholesky_grid(depth: int, length_scale: float) -> torch.Tensor:
    return gp_cholesky(depth_grid(depth), length_scale)


def gp_cholesky(
    s: torch.Tensor, length_scale: float, *, jitter: float = 1e-10, max_tries: int = 8
) -> torch.Tensor:
    """Lower Cholesky factor of K_ij = exp(−(s_i−s_j)²/(2ℓ²)) + εI (ε grown ×10 until it works)."""
    if length_scale <= 0:
        raise ResodeError(f"GP length scale must be > 0, got {length_scale}")
    s = s.to(torch.float64)
    K = torch.exp(-((s[:, None] - s[None, :]) ** 2) / (2.0 * length_scale**2))
    eye = torch.eye(len(s), dtype=torch.float64)
    eps = jitter
    for _ in range(max_tries):
        chol, info = torch.linalg.cholesky_ex(K + eps * eye)
        if int(info) == 0:
            return chol
        eps *= 10.0
    raise ResodeError(
        f"GP kernel with length scale {length_scale} is not positive definite even with jitter "
        f"{eps:g}; use a smaller length scale or fewer layers"
    )


def sample_gp(
    depth: int,
    shape: tuple[int, ...],
    length_scale: float,
    generator: torch.Generator,
    *,
    chol: torch.Tensor | None = None,
) -> torch.Tensor:
    """(L, *shape) with every entry an independent unit-variance GP sampled at s = k/L."""
    if chol is None:
        chol = gp_cholesky(depth_grid(depth), length_scale)
    n = 1
    for v in shape:
        n *= v
    xi = torch.randn((depth, n), generator=generator, dtype=torch.float64)
    return (chol @ xi).reshape(depth, *shape)


def _per_seed(model: ScaledResidualMLP) -> int:
    return 1 if model.n_seeds is None else model.n_seeds


@torch.no_grad()
def initialize(
    model: ScaledResidualMLP,
    scheme: str = "tied",
    *,
    seed: int = 0,
    zero_v: bool = True,
    length_scale: float = 0.1,
    std: float = 1.0,
    z_init: ZInit | None = None,
    gp_grid: int | None = None,
) -> ScaledResidualMLP:
    """Fill ``model.V``/``model.W`` in place following ``scheme`` and return the model.

    Entries are N(0, std²) (tied, iid) or std·GP (gp); ``z_init(s)`` with s the (L,) grid must
    return V (L, q, m) and W (L, m, q) for ``scheme="function"``. ``gp_grid`` (a multiple of L):
    sample the GP on that finer grid and keep the points s = k/L, so that networks of different
    depths with the same seed discretise the *same* random function.
    """
    if scheme not in INIT_SCHEMES:
        raise ResodeError(f"unknown init {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    L, q, m = model.depth, model.hidden_dim, model.width
    dtype = model.V.dtype
    grid = L if gp_grid is None else int(gp_grid)
    if grid % L != 0:
        raise ResodeError(f"gp_grid = {grid} must be a multiple of the depth {L}")
    stride = grid // L
    chol = _gp_cholesky_grid(grid, float(length_scale)) if scheme == "gp" else None
    Vs, Ws = [], []
    for i in range(_per_seed(model)):
        g = torch.Generator().manual_seed(int(seed) + i)
        if scheme == "function":
            if z_init is None:
                raise ResodeError("init 'function' needs z_init(s) -> (V, W); pass z_init=...")
            V, W = z_init(depth_grid(L, dtype))
            V, W = torch.as_tensor(V, dtype=dtype), torch.as_tensor(W, dtype=dtype)
            if V.shape != (L, q, m) or W.shape != (L, m, q):
                raise ResodeError(
                    f"z_init must return V of shape {(L, q, m)} and W of shape {(L, m, q)}, "
                    f"got {tuple(V.shape)} and {tuple(W.shape)}"
                )
        else:
            if scheme == "tied":
                W = torch.randn((m, q), generator=g, dtype=torch.float64).expand(L, m, q)
                V = torch.randn((q, m), generator=g, dtype=torch.float64).expand(L, q, m)
            elif scheme == "iid":
                W = torch.randn((L, m, q), generator=g, dtype=torch.float64)
                V = torch.randn((L, q, m), generator=g, dtype=torch.float64)
            else:
                W = sample_gp(grid, (m, q), length_scale, g, chol=chol)[stride - 1 :: stride]
                V = sample_gp(grid, (q, m), length_scale, g, chol=chol)[stride - 1 :: stride]
            W, V = std * W, std * V
            if zero_v:
                V = torch.zeros_like(V)
        Vs.append(V.to(dtype))
        Ws.append(W.to(dtype))
    if model.n_seeds is None:
        model.V.copy_(Vs[0])
        model.W.copy_(Ws[0])
    else:
        model.V.copy_(torch.stack(Vs))
        model.W.copy_(torch.stack(Ws))
    return model
