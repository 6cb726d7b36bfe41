"""Measurements of paper B: is the trained ResNet a discretised neural ODE?

* :func:`fit_loglog_slope` + :func:`smoothness_verdict`: fit log max_k‖Z_{k+1} − Z_k‖_F against
  log L with a confidence interval (t-based or bootstrap). Prop. 3/Thm 4 predict slope −1
  (‖ΔZ‖ ≤ K/L, "ODE-like"); an i.i.d. init keeps ‖ΔZ‖ = O(1) (slope ≈ 0, "not smooth").
* :func:`lag_smoothness`: the same question for one network: D(ℓ) = mean_k‖Z_{k+ℓ} − Z_k‖_F grows
  like ℓ for Lipschitz weights (slope 1 in log-log) and is flat for rough ones (slope 0).
* :func:`l2_in_s_distance`: ‖Z^{L_a} − Z^{L_b}‖_{L²(0,1)} of the piecewise-constant functions
  Z^L(s) = Z_k for s ∈ ((k−1)/L, k/L], computed exactly on the merged breakpoints.
* :func:`neural_ode_output`: interpolate trained weights in s, solve the limit neural ODE
  dH/ds = L·c·V(s) σ(r W(s) H) with torchdiffeq (adaptive dopri5 by default); compare with the
  network (:func:`ode_discrepancy`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from resode.errors import ResodeError
from resode.ode.scaled_resnet import ScaledResidualMLP, activation_fn


@dataclass
class SlopeFit:
    """Least-squares fit log y = intercept + slope·log x with a ``confidence`` interval."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n_points: int
    r2: float
    confidence: float
    method: str

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def _t_quantile(p: float, df: int) -> float:
    try:
        from scipy.stats import t

        return float(t.ppf(p, df))
    except ImportError:  # pragma: no cover - scipy ships with scikit-learn
        from statistics import NormalDist

        return NormalDist().inv_cdf(p)


def fit_loglog_slope(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    method: str = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> SlopeFit:
    """Slope of log y against log x with a CI; ``y`` may be (len(x),) or (len(x), n_seeds).

    All (x, y) points are pooled. ``method="t"``: slope ± t_{(1+c)/2, N−2}·SE. ``"bootstrap"``:
    percentile interval of the slope over ``n_boot`` case resamples of the pooled points.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if ya.ndim == 1:
        ya = ya[:, None]
    if ya.shape[0] != xa.shape[0]:
        raise ResodeError(f"x has {xa.shape[0]} values but y has {ya.shape[0]} rows")
    if np.any(xa <= 0) or np.any(ya <= 0):
        raise ResodeError("log-log slope needs positive x and y values (a ΔZ of exactly 0?)")
    X = np.repeat(np.log(xa), ya.shape[1])
    Y = np.log(ya).reshape(-1)
    N = X.size
    if np.unique(X).size < 2:
        raise ResodeError("the slope fit needs at least two different x values (depths)")

    def fit(Xs: np.ndarray, Ys: np.ndarray) -> tuple[float, float]:
        xm = Xs.mean()
        sxx = ((Xs - xm) ** 2).sum()
        b = ((Xs - xm) * (Ys - Ys.mean())).sum() / sxx
        return float(b), float(Ys.mean() - b * xm)

    slope, intercept = fit(X, Y)
    resid = Y - (intercept + slope * X)
    sst = ((Y - Y.mean()) ** 2).sum()
    r2 = float(1.0 - (resid**2).sum() / sst) if sst > 0 else 1.0
    sxx = ((X - X.mean()) ** 2).sum()
    df = N - 2
    stderr = float(math.sqrt((resid**2).sum() / df / sxx)) if df > 0 else float("inf")
    alpha = 1.0 - confidence
    if method == "t":
        half = _t_quantile(1.0 - alpha / 2.0, df) * stderr if df > 0 else float("inf")
        lo, hi = slope - half, slope + half
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        slopes = []
        for _ in range(n_boot):
            idx = rng.integers(0, N, N)
            if np.unique(X[idx]).size < 2:
                continue
            slopes.append(fit(X[idx], Y[idx])[0])
        lo, hi = np.quantile(slopes, [alpha / 2.0, 1.0 - alpha / 2.0]).tolist()
    else:
        raise ResodeError(f"unknown CI method {method!r}; use 't' or 'bootstrap'")
    return SlopeFit(slope, intercept, float(lo), float(hi), stderr, N, r2, confidence, method)


# (reference slope, verdict) for max_k‖ΔZ‖ against L
DEPTH_VERDICTS: tuple[tuple[float, str], ...] = (
    (-1.0, "ODE-like (slope ≈ −1): max‖ΔZ‖ = O(1/L)"),
    (-0.5, "rough, SDE-like (slope ≈ −1/2): max‖ΔZ‖ = O(1/√L)"),
    (0.0, "not smooth (slope ≈ 0): max‖ΔZ‖ = O(1)"),
)
# (reference slope, verdict) for D(lag) against lag in one network
LAG_VERDICTS: tuple[tuple[float, str], ...] = (
    (1.0, "smooth (slope ≈ 1): ‖Z_{k+ℓ} − Z_k‖ ∝ ℓ, Lipschitz in s = k/L"),
    (0.5, "rough, Brownian-like (slope ≈ 1/2)"),
    (0.0, "not smooth (slope ≈ 0): neighbouring layers differ by O(1)"),
)


def smoothness_verdict(
    fit: SlopeFit,
    *,
    tol: float = 0.15,
    verdicts: tuple[tuple[float, str], ...] = DEPTH_VERDICTS,
) -> str:
    """The verdict whose reference slope is within ``tol`` of the fit and inside its CI ± tol.

    "inconclusive" when the CI is compatible with several references, "intermediate" when with
    none of them.
    """
    hits = [
        text
        for ref, text in verdicts
        if fit.ci_low - tol <= ref <= fit.ci_high + tol and abs(fit.slope - ref) <= max(tol, 0.25)
    ]
    close = [text for ref, text in verdicts if abs(fit.slope - ref) <= tol]
    if len(hits) == 1:
        return hits[0]
    if len(close) == 1 and len(hits) > 1:
        return close[0] + f" (CI [{fit.ci_low:.2f}, {fit.ci_high:.2f}] is wide)"
    if len(hits) > 1:
        return f"inconclusive (slope {fit.slope:.2f}, CI [{fit.ci_low:.2f}, {fit.ci_high:.2f}])"
    return f"intermediate (slope {fit.slope:.2f}, CI [{fit.ci_low:.2f}, {fit.ci_high:.2f}])"


def flatten_z(V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Z_k = (V_k, W_k) as one vector per layer: (…, L, q·m + m·q)."""
    return torch.cat([V.flatten(-2), W.flatten(-2)], dim=-1)


def l2_in_s_distance(Za: torch.Tensor, Zb: torch.Tensor) -> torch.Tensor:
    """sqrt(∫₀¹ ‖Z^a(s) − Z^b(s)‖² ds) for piecewise-constant Z^L(s) = Z_k on ((k−1)/L, k/L].

    Za: (…, L_a, P), Zb: (…, L_b, P) (leading dims broadcast, e.g. seeds); exact: the integral is
    a sum over the merged breakpoints {i/L_a} ∪ {j/L_b}, computed in float64.
    """
    La, Lb = Za.shape[-2], Zb.shape[-2]
    edges = np.union1d(np.arange(La + 1) / La, np.arange(Lb + 1) / Lb)
    edges = np.unique(np.round(edges, 15))
    mids = 0.5 * (edges[1:] + edges[:-1])
    widths = torch.as_tensor(np.diff(edges), dtype=torch.float64)
    ia = torch.as_tensor(np.minimum(np.floor(mids * La), La - 1).astype(np.int64))
    ib = torch.as_tensor(np.minimum(np.floor(mids * Lb), Lb - 1).astype(np.int64))
    diff = Za.to(torch.float64).index_select(-2, ia) - Zb.to(torch.float64).index_select(-2, ib)
    return (diff.square().sum(-1) * widths).sum(-1).sqrt()


@dataclass
class LagSmoothness:
    """D(ℓ) = mean_k‖Z_{k+ℓ} − Z_k‖_F over lags ℓ, its log-log slope and a verdict."""

    lags: list[int]
    mean_diff: list[float]
    fit: SlopeFit
    verdict: str
    roughness_ratio: float

    def to_dict(self) -> dict:
        return {
            "lags": self.lags,
            "mean_diff": self.mean_diff,
            "fit": self.fit.to_dict(),
            "verdict": self.verdict,
            "roughness_ratio": self.roughness_ratio,
        }


def lag_smoothness(
    Z: torch.Tensor, *, max_lag_fraction: float = 0.125, confidence: float = 0.95
) -> LagSmoothness:
    """Smoothness of one network's weights Z (L, P) (layers × flattened parameters).

    Lags ℓ = 1, 2, 4, … ≤ max(2, L·max_lag_fraction); slope of log D(ℓ) vs log ℓ with a t-CI
    and verdict (:data:`LAG_VERDICTS`). ``roughness_ratio`` = D(1) / mean‖Z_i − Z_j‖ over all
    pairs: ≈ 1 for i.i.d. layers, ≈ 3/L for a Lipschitz function of s.
    """
    Z = Z.detach().to(torch.float64).flatten(1)
    L = Z.shape[0]
    if L < 4:
        raise ResodeError(f"lag smoothness needs at least 4 layers, got {L}")
    max_lag = max(2, int(L * max_lag_fraction))
    lags = []
    lag = 1
    while lag <= max_lag and lag < L:
        lags.append(lag)
        lag *= 2
    D = [float((Z[lg:] - Z[:-lg]).norm(dim=1).mean()) for lg in lags]
    if min(D) <= 0:
        tiny = max(max(D), 1.0) * 1e-300
        D = [max(d, tiny) for d in D]
    fit = fit_loglog_slope(lags, D, confidence=confidence)
    pair = torch.cdist(Z, Z)
    mean_pair = float(pair.sum() / (L * (L - 1)))
    ratio = D[0] / mean_pair if mean_pair > 0 else 0.0
    return LagSmoothness(lags, D, fit, smoothness_verdict(fit, verdicts=LAG_VERDICTS), ratio)


def _interp_index(s: float, L: int) -> int:
    return min(max(math.floor(s * L + 1e-9), 0), L - 1)


def neural_ode_output(
    model: ScaledResidualMLP,
    x: torch.Tensor,
    *,
    interpolation: str = "linear",
    method: str = "dopri5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    step_size: float | None = None,
    seed_index: int | None = None,
) -> torch.Tensor:
    """F_ODE(x) = B H(1) with H(0) = A x, dH/ds = L·c·V(s) σ(r W(s) H) (rows: samples).

    L·c is 1 (official) or 1/√m (paper): the limit of eq. (3). Interpolation of the trained
    weights in s: ``"constant"`` (V(s) = V_k on [k/L, (k+1)/L), the field whose Euler solve with
    step 1/L *is* the network) or ``"linear"`` (nodes Z_k at s = k/L, k = 1..L, constant on
    [0, 1/L]). ``seed_index`` picks one seed of a seed-batched model (default: all).
    """
    from torchdiffeq import odeint

    if interpolation not in ("linear", "constant"):
        raise ResodeError(f"unknown interpolation {interpolation!r}; use 'linear' or 'constant'")
    A, V, W, B = (t.detach().to(torch.float64) for t in model.stacked())
    if seed_index is not None:
        A, V, W, B = (t[seed_index : seed_index + 1] for t in (A, V, W, B))
    L = model.depth
    scale = model.c * L
    r, act = model.r, model.activation
    xs = x.to(torch.float64)
    h0 = torch.matmul(xs, A.transpose(-1, -2))

    def weights(s: float) -> tuple[torch.Tensor, torch.Tensor]:
        if interpolation == "constant" or L == 1:
            k = _interp_index(s, L)
            return V[:, k], W[:, k]
        u = s * L - 1.0  # node k (0-based) sits at s = (k+1)/L
        if u <= 0:
            return V[:, 0], W[:, 0]
        k = min(math.floor(u), L - 2)
        w = u - k
        return (1 - w) * V[:, k] + w * V[:, k + 1], (1 - w) * W[:, k] + w * W[:, k + 1]

    def field(s: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        Vs, Ws = weights(float(s))
        a = activation_fn(act, r * torch.matmul(h, Ws.transpose(-1, -2)))
        return scale * torch.matmul(a, Vs.transpose(-1, -2))

    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    fixed = method in ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
    options: dict[str, Any] | None = {"step_size": step_size} if step_size is not None else None
    kwargs: dict[str, Any] = {"method": method, "options": options}
    if not fixed:
        # the interpolated field has kinks (linear) or jumps (constant) at the nodes s = k/L:
        # make the adaptive solver step exactly onto them instead of shrinking its step there
        nodes = torch.arange(1, L, dtype=torch.float64) / L
        key = "step_t" if interpolation == "linear" else "jump_t"
        kwargs.update(rtol=rtol, atol=atol, options={key: nodes})
    H = odeint(field, h0, t, **kwargs)[-1]
    out = torch.matmul(H, B.transpose(-1, -2))
    if model.n_seeds is None:
        out = out.squeeze(0)
    return out.to(model.V.dtype) if x.dtype != torch.float64 else out


def ode_discrepancy(
    model: ScaledResidualMLP, x: torch.Tensor, *, interpolation: str = "linear", **kw
) -> np.ndarray:
    """Relative error ‖F_L(x) − F_ODE(x)‖_F / ‖F_ODE(x)‖_F per seed (a (S,) array)."""
    with torch.no_grad():
        net = model(x.to(model.V.dtype)).to(torch.float64)
        ode = neural_ode_output(model, x.to(torch.float64), interpolation=interpolation, **kw)
        if model.n_seeds is None:
            net, ode = net.unsqueeze(0), ode.unsqueeze(0)
        err = (net - ode).flatten(1).norm(dim=1) / ode.flatten(1).norm(dim=1).clamp_min(1e-300)
    return err.cpu().numpy()
