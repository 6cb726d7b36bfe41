"""Measurements of paper B: is the trained ResNet a discretised neural ODE?

* :func:`fit_loglog_slope` + :func:`judge_slope`: fit log max_k‖Z_{k+1} − Z_k‖_F against log L
  with a confidence interval (t-based or bootstrap) and judge a claim about the slope through
  :mod:`resode.verdicts`. Prop. 3/Thm 4 predict slope −1 (‖ΔZ‖ ≤ K/L, "ODE-like"); an i.i.d.
  init keeps ‖ΔZ‖ = O(1) (slope 0, "not smooth"); :func:`slope_label` only describes.
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
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from resode.errors import ResodeError
from resode.ode.scaled_resnet import ScaledResidualMLP, activation_fn

if TYPE_CHECKING:
    from resode.verdicts import Claim, Judgement


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


# (reference slope, description) for max_k‖ΔZ‖ against L: descriptive labels only; whether a
# claim holds is judged by :func:`judge_slope` through :mod:`resode.verdicts`
DEPTH_LABELS: tuple[tuple[float, str], ...] = (
    (-1.5, "smoother than ODE-like (slope −3/2): a tied init under 1/√L scaling, ΔZ ∝ L^(α−2)"),
    (-1.0, "ODE-like (slope −1): max‖ΔZ‖ = O(1/L)"),
    (-0.5, "rough, SDE-like (slope −1/2): max‖ΔZ‖ = O(1/√L)"),
    (0.0, "not smooth (slope 0): max‖ΔZ‖ = O(1)"),
)
# (reference slope, description) for D(lag) against lag in one network
LAG_LABELS: tuple[tuple[float, str], ...] = (
    (1.0, "smooth (slope 1): ‖Z_{k+ℓ} − Z_k‖ ∝ ℓ, Lipschitz in s = k/L"),
    (0.5, "rough, Brownian-like (slope 1/2)"),
    (0.0, "not smooth (slope 0): neighbouring layers differ by O(1)"),
)


def slope_label(fit: SlopeFit, labels: tuple[tuple[float, str], ...] = DEPTH_LABELS) -> str:
    """A description, not a verdict: "closest to <label>" for the reference slope nearest to the
    fitted one, with the fit and its CI."""
    _ref, text = min(labels, key=lambda rl: abs(fit.slope - rl[0]))
    return (
        f"closest to {text}; slope {fit.slope:.2f}, "
        f"{round(100 * fit.confidence)} % CI [{fit.ci_low:.2f}, {fit.ci_high:.2f}]"
    )


def judge_slope(claim: Claim, fit: SlopeFit) -> Judgement:
    """Judge a claim about a fitted slope with :func:`resode.verdicts.judge_interval`.

    The interval is slope ± t_{df}·SE (df = N − 2) at the level the claim needs: the two-sided
    ``claim.confidence`` interval for "greater"/"less", the (1 − 2α) interval for "equivalent"
    (TOST). A bootstrap fit passes its own percentile interval.
    """
    from resode.verdicts import judge_interval

    df = fit.n_points - 2
    if fit.method == "t" and df > 0 and math.isfinite(fit.stderr):
        half = _t_quantile(0.5 + claim.level / 2.0, df) * fit.stderr
        lo, hi = fit.slope - half, fit.slope + half
        test = f"least-squares log-log slope over {fit.n_points} points, t interval (df {df})"
    else:
        lo, hi = fit.ci_low, fit.ci_high
        test = f"log-log slope over {fit.n_points} points, {fit.method} interval"
    return judge_interval(
        claim,
        fit.slope,
        lo,
        hi,
        n=fit.n_points,
        test=test,
        se=fit.stderr if math.isfinite(fit.stderr) else None,
        df=float(df) if df > 0 else None,
    )


def flatten_z(V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Z_k = (V_k, W_k) as one vector per layer: (…, L, q·m + m·q)."""
    return torch.cat([V.flatten(-2), W.flatten(-2)], dim=-1)


def l2_in_s_distance(Za: torch.Tensor, Zb: torch.Tensor) -> torch.Tensor:
    """sqrt(∫₀¹ ‖Z^a(s) − Z^b(s)‖² ds) for piecewise-constant Z^L(s) = Z_k on ((k−1)/L, k/L].

    Za: (…, L_a, P), Zb: (…, L_b, P) (leading dims broadcast, e.g. seeds); exact: the integral is
    a sum over the merged breakpoints {i/L_a} ∪ {j/L_b}, computed in float64.
    """
    widths, ia, ib = _merged_segments(Za.shape[-2], Zb.shape[-2])
    diff = Za.to(torch.float64).index_select(-2, ia) - Zb.to(torch.float64).index_select(-2, ib)
    return (diff.square().sum(-1) * widths).sum(-1).sqrt()


def _merged_segments(La: int, Lb: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Segments of (0, 1] between the breakpoints {i/L_a} ∪ {j/L_b}: (widths, index in the L_a
    grid, index in the L_b grid), widths in float64."""
    edges = np.union1d(np.arange(La + 1) / La, np.arange(Lb + 1) / Lb)
    edges = np.unique(np.round(edges, 15))
    mids = 0.5 * (edges[1:] + edges[:-1])
    widths = torch.as_tensor(np.diff(edges), dtype=torch.float64)
    ia = torch.as_tensor(np.minimum(np.floor(mids * La), La - 1).astype(np.int64))
    ib = torch.as_tensor(np.minimum(np.floor(mids * Lb), Lb - 1).astype(np.int64))
    return widths, ia, ib


def block_projection(Zref: torch.Tensor, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Project a piecewise-constant Z^ref (…, L_r, P) onto the blocks I_k = ((k−1)/L, k/L].

    Returns the block means m_k = L·∫_{I_k} Z^ref(s) ds, (…, L, P), and the spread
    r = Σ_k ∫_{I_k} ‖Z^ref(s) − m_k‖² ds, (…,), both float64, so that for any Z^L of depth L
    ‖Z^L − Z^ref‖²_{L²(0,1)} = (1/L)·Σ_k‖Z_k − m_k‖² + r exactly (see
    :func:`l2_distance_to_projection`): a reference network can be trained apart from the
    networks it is compared with and keep only these numbers.
    """
    widths, ia, ib = _merged_segments(depth, Zref.shape[-2])
    Z = Zref.to(torch.float64).index_select(-2, ib)
    shape = (*Z.shape[:-2], depth, Z.shape[-1])
    means = torch.zeros(shape, dtype=torch.float64).index_add_(-2, ia, Z * widths[:, None])
    means.mul_(depth)
    spread = ((Z - means.index_select(-2, ia)).square().sum(-1) * widths).sum(-1)
    return means, spread


def l2_distance_to_projection(
    Z: torch.Tensor, means: torch.Tensor, spread: torch.Tensor
) -> torch.Tensor:
    """‖Z^L − Z^ref‖_{L²(0,1)} from :func:`block_projection` of Z^ref onto depth L = Z.shape[-2]:
    sqrt((1/L)·Σ_k‖Z_k − m_k‖² + r)."""
    L = Z.shape[-2]
    sq = (Z.to(torch.float64) - means).square().sum((-1, -2)) / L
    return (sq + spread).clamp_min(0.0).sqrt()


def conv_smoothness(model: torch.nn.Module) -> dict[str, Any]:
    """Smoothness of the trained conv-block weights Z_k = (W_k, V_k) = (conv1, conv2) of one net.

    Returns the layer averages mean_k‖W_{k+1} − W_k‖_F (``mean_dw``: the paper's appendix number),
    mean_k‖V_{k+1} − V_k‖_F (``mean_dv``), mean_k‖Z_{k+1} − Z_k‖_F (``mean_dz``), max_k and
    L·max_k‖ΔZ‖, mean_k‖Z_k‖_F, the relative roughness ρ = L·mean‖ΔZ‖/mean‖Z‖ (a description:
    ≈ √2·L for i.i.d. layers, O(1) for a Lipschitz function of s) and :func:`lag_smoothness`.
    Whether tied weights are smoother than i.i.d. ones is judged across seeds by the Table 1
    experiment, not here.
    """
    Z = model.block_weights().to(torch.float64)
    L = Z.shape[0]
    p_w = model.blocks[0].conv1.weight.numel()
    dz = (Z[1:] - Z[:-1]).norm(dim=1)
    dw = (Z[1:, :p_w] - Z[:-1, :p_w]).norm(dim=1)
    dv = (Z[1:, p_w:] - Z[:-1, p_w:]).norm(dim=1)
    mean_norm = float(Z.norm(dim=1).mean())
    return {
        "mean_dw": float(dw.mean()),
        "mean_dv": float(dv.mean()),
        "mean_dz": float(dz.mean()),
        "max_dz": float(dz.max()),
        "L_max_dz": float(L * dz.max()),
        "mean_norm_z": mean_norm,
        "relative_roughness": float(L * dz.mean() / mean_norm) if mean_norm > 0 else 0.0,
        "lag": lag_smoothness(Z).to_dict(),
    }


@dataclass
class LagSmoothness:
    """D(ℓ) = mean_k‖Z_{k+ℓ} − Z_k‖_F over lags ℓ, its log-log slope and a description.

    ``constant``: every layer holds exactly the same weights (D ≡ 0, perfectly smooth); then no
    slope can be fitted and ``fit`` is None.
    """

    lags: list[int]
    mean_diff: list[float]
    fit: SlopeFit | None
    label: str
    roughness_ratio: float
    constant: bool = False

    def to_dict(self) -> dict:
        return {
            "lags": self.lags,
            "mean_diff": self.mean_diff,
            "fit": None if self.fit is None else self.fit.to_dict(),
            "label": self.label,
            "roughness_ratio": self.roughness_ratio,
            "constant": self.constant,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LagSmoothness:
        fit = data.get("fit")
        return cls(
            list(data["lags"]),
            list(data["mean_diff"]),
            None if fit is None else SlopeFit(**fit),
            data["label"],
            float(data["roughness_ratio"]),
            bool(data.get("constant", False)),
        )


def lag_smoothness(
    Z: torch.Tensor, *, max_lag_fraction: float = 0.125, confidence: float = 0.95
) -> LagSmoothness:
    """Smoothness of one network's weights Z (L, P) (layers × flattened parameters).

    Lags ℓ = 1, 2, 4, … ≤ max(2, L·max_lag_fraction); slope of log D(ℓ) vs log ℓ with a t-CI
    and a description (:data:`LAG_LABELS`). ``roughness_ratio`` = D(1) / mean‖Z_i − Z_j‖ over
    all pairs: ≈ 1 for i.i.d. layers, ≈ 3/L for a Lipschitz function of s, 0 for constant weights
    (which are reported as ``constant``, perfectly smooth, not fitted).
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
    if max(D) == 0.0:  # Z_k identical for all k: D(ℓ) ≡ 0
        return LagSmoothness(lags, D, None, "constant in k (perfectly smooth)", 0.0, True)
    # D(1) = 0 forces Z_k constant, so every D(ℓ) > 0 here
    fit = fit_loglog_slope(lags, D, confidence=confidence)
    pair = torch.cdist(Z, Z)
    mean_pair = float(pair.sum() / (L * (L - 1)))
    return LagSmoothness(lags, D, fit, slope_label(fit, LAG_LABELS), D[0] / mean_pair)


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
