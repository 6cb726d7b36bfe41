"""Frozen copy of the GD loop as it was before the speed work (commit 01d22fe): the baseline of
``bench_gd.py``. Do not optimise this file: it is what the speedups are measured against.

Copied verbatim from ``src/resode/ode/scaled_resnet.py`` (forward, adjoint, activation) and
``src/resode/ode/train.py`` (``stacked_loss_and_grads``, ``train_gd`` and its per-iteration
record), except that ``train_gd`` returns a plain ``SimpleNamespace`` (history, seconds).
"""

# ruff: noqa

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from resode.errors import NumericalError, ResodeError

ACTIVATIONS = ("gelu", "tanh", "softplus", "relu", "identity")

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# Stored forms: the forward evaluates the activation at z = s_in·x and keeps a = σ(x)/s_a and
# D = σ'(x)/s_d; the constants are folded into the weights and matmul factors (fewer ops per layer).
# GELU with z = x/√2: σ(x) = z(1 + erf z)/√2 and σ'(x) = (1 + erf z + 2z e^{−z²}/√π)/2.
_ACT_SCALES: dict[str, tuple[float, float, float]] = {
    "gelu": (_INV_SQRT_2, _INV_SQRT_2, 0.5),
    "tanh": (1.0, 1.0, 1.0),
    "softplus": (1.0, 1.0, 1.0),
    "relu": (1.0, 1.0, 1.0),
    "identity": (1.0, 1.0, 1.0),
}
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def activation_and_derivative(
    name: str, z: torch.Tensor, out_a: torch.Tensor, out_d: torch.Tensor
) -> None:
    """Write the stored forms σ(x)/s_a into ``out_a`` and σ'(x)/s_d into ``out_d``, z = s_in·x.

    (s_in, s_a, s_d) = ``_ACT_SCALES[name]``; all 1 except GELU: z = x/√2,
    out_a = z(1 + erf z) = √2·xΦ(x), out_d = 1 + erf z + 2z e^{−z²}/√π = 2(Φ(x) + xφ(x)).
    """
    if name == "gelu":
        e = torch.erf(z)
        torch.addcmul(z, z, e, out=out_a)
        p = torch.square(z)
        p.neg_().exp_()
        e.add_(1.0)
        torch.addcmul(e, z, p, value=_TWO_OVER_SQRT_PI, out=out_d)
    elif name == "tanh":
        torch.tanh(z, out=out_a)
        torch.mul(out_a, out_a, out=out_d)
        out_d.neg_().add_(1.0)
    elif name == "softplus":
        out_a.copy_(torch.nn.functional.softplus(z))
        torch.sigmoid(z, out=out_d)
    elif name == "relu":
        torch.clamp(z, min=0.0, out=out_a)
        out_d.copy_(z > 0)
    elif name == "identity":
        out_a.copy_(z)
        out_d.fill_(1.0)
    else:
        raise ResodeError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


@dataclass
class ForwardCache:
    """What the adjoint needs, all layer-major: hidden states hs (L+1, S, n, q), stored
    activations σ(pre_k)/s_a and derivatives σ'(pre_k)/s_d (L, S, n, m), V (L, S, q, m) and
    W (L, S, m, q), the factors c, r and the activation's scales."""

    hs: torch.Tensor
    act: torch.Tensor
    dsig: torch.Tensor
    V: torch.Tensor
    W: torch.Tensor
    c: float
    r: float
    scales: tuple[float, float, float]
    workspace: dict[str, Any] | None = None


def layer_major(t: torch.Tensor) -> torch.Tensor:
    """(S, L, a, b) → contiguous (L, S, a, b) and back (may return a view when S or L is 1)."""
    return t.transpose(0, 1).contiguous()


def _buffer(
    ws: dict[str, Any] | None, key: str, shape: tuple[int, ...], like: torch.Tensor
) -> torch.Tensor:
    """A reusable buffer from the workspace ``ws`` (allocated once per shape and dtype)."""
    if ws is None:
        return like.new_empty(shape)
    buf = ws.get(key)
    if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
        buf = like.new_empty(shape)
        ws[key] = buf
    return buf


def _layers(ws: dict[str, Any] | None, key: str, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``t.unbind(0)``, cached in the workspace while ``t`` is the same tensor object."""
    if ws is None:
        return t.unbind(0)
    entry = ws.get(key)
    if entry is not None and entry[0] is t:
        return entry[1]
    views = t.unbind(0)
    ws[key] = (t, views)
    return views


def residual_forward(
    h0: torch.Tensor,
    Vl: torch.Tensor,
    Wl: torch.Tensor,
    *,
    c: float,
    r: float,
    activation: str,
    workspace: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, ForwardCache]:
    """h_L from h_0 (S, n, q) with *layer-major* Vl (L, S, q, m), Wl (L, S, m, q); no autograd.

    h_{k+1} = h_k + c · σ(r · h_k W_kᵀ) V_kᵀ, one batched matmul over the S seeds per product.
    ``workspace``: a dict reused across calls so the large buffers are allocated only once
    (pass the same, in-place updated, Vl and Wl tensors to reuse their per-layer views too).
    Use :func:`layer_major` to turn the model's (S, L, ·, ·) weights into this layout.
    """
    if activation not in _ACT_SCALES:
        raise ResodeError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
    S, n, q = h0.shape
    L, m = Vl.shape[0], Vl.shape[3]
    Vl, Wl = Vl.contiguous(), Wl.contiguous()
    s_in, s_a, s_d = _ACT_SCALES[activation]
    hs = _buffer(workspace, "hs", (L + 1, S, n, q), h0)
    act = _buffer(workspace, "act", (L, S, n, m), h0)
    dsig = _buffer(workspace, "dsig", (L, S, n, m), h0)
    pre = _buffer(workspace, "pre", (S, n, m), h0)
    Weff = Wl
    if r * s_in != 1.0:
        Weff = _buffer(workspace, "Weff", tuple(Wl.shape), Wl)
        torch.mul(Wl, r * s_in, out=Weff)
    Wt = _layers(workspace, "Wt", Weff)
    Vt = _layers(workspace, "Vt", Vl)
    H, Act, Ds = (
        _layers(workspace, "H", hs),
        _layers(workspace, "A", act),
        _layers(workspace, "D", dsig),
    )
    H[0].copy_(h0)
    alpha = c * s_a
    for k in range(L):
        torch.bmm(H[k], Wt[k].transpose(1, 2), out=pre)
        activation_and_derivative(activation, pre, Act[k], Ds[k])
        torch.baddbmm(H[k], Act[k], Vt[k].transpose(1, 2), alpha=alpha, out=H[k + 1])
    return hs[L], ForwardCache(hs, act, dsig, Vl, Wl, c, r, (s_in, s_a, s_d), workspace)


def residual_backward(
    cache: ForwardCache, grad_hL: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Adjoint of :func:`residual_forward`: (∂ℓ/∂h_0, ∂ℓ/∂V, ∂ℓ/∂W) from G_L = ∂ℓ/∂h_L.

    With u_k = (G_{k+1} V_k) ⊙ σ'(pre_k):  G_k = G_{k+1} + c r · u_k W_k,
    ∂ℓ/∂V_k = c · G_{k+1}ᵀ σ(pre_k),  ∂ℓ/∂W_k = c r · u_kᵀ h_k (all layers in one batched matmul),
    returned layer-major like the weights: (L, S, q, m) and (L, S, m, q).
    The σ' buffer of the cache is overwritten by u (the cache serves one backward).
    """
    hs, act, U, Vl, Wl = cache.hs, cache.act, cache.dsig, cache.V, cache.W
    L, S, n, m = act.shape
    q = hs.shape[-1]
    c, r = cache.c, cache.r
    _, s_a, s_d = cache.scales
    ws = cache.workspace
    Gs = _buffer(ws, "Gs", (L + 1, S, n, q), hs)
    tmp = _buffer(ws, "tmp", (S, n, m), hs)
    G, Us = _layers(ws, "G", Gs), _layers(ws, "U", U)
    Vk, Wk = _layers(ws, "Vk", Vl), _layers(ws, "Wk", Wl)
    G[L].copy_(grad_hL)
    beta = c * r * s_d
    for k in range(L - 1, -1, -1):
        torch.bmm(G[k + 1], Vk[k], out=tmp)
        Us[k].mul_(tmp)
        torch.baddbmm(G[k + 1], Us[k], Wk[k], alpha=beta, out=G[k])
    gV = _buffer(ws, "gV", (L * S, q, m), hs)
    gW = _buffer(ws, "gW", (L * S, m, q), hs)
    torch.bmm(Gs[1:].reshape(L * S, n, q).transpose(1, 2), act.reshape(L * S, n, m), out=gV)
    torch.bmm(U.reshape(L * S, n, m).transpose(1, 2), hs[:-1].reshape(L * S, n, q), out=gW)
    gV.mul_(c * s_a)
    gW.mul_(beta)
    return Gs[0], gV.view(L, S, q, m), gW.view(L, S, m, q)


HISTORY_KEYS: tuple[str, ...] = (
    "loss",
    "max_dz",
    "L_max_dz",
    "mean_dz",
    "pl_ratio",
    "grad_norm",
    "norm_v",
    "norm_w",
    "max_norm_z",
)


@dataclass
class LossGrads:
    """Per-seed loss (S,) and gradients with a seed dim: A (S, q, d), V (S, L, q, m) or
    layer-major (L, S, q, m) where stated, W likewise, B (S, d', q)."""

    loss: torch.Tensor
    A: torch.Tensor
    V: torch.Tensor
    W: torch.Tensor
    B: torch.Tensor


def _seed_batch(t: torch.Tensor, S: int) -> torch.Tensor:
    return t if t.dim() == 3 else t.unsqueeze(0).expand(S, -1, -1)


def stacked_loss_and_grads(
    A: torch.Tensor,
    Vl: torch.Tensor,
    Wl: torch.Tensor,
    B: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    c: float,
    r: float,
    activation: str,
    loss_reduction: str = "mean",
    workspace: dict[str, Any] | None = None,
) -> LossGrads:
    """Loss and gradients for seed-batched A, B and layer-major Vl, Wl (grads layer-major too).

    ℓ = mean over n·d' of (F(x) − y)² ("mean") or (1/n)Σ_i‖F(x_i) − y_i‖² ("sample");
    ∂ℓ/∂F = 2(F − y)/norm, ∂ℓ/∂B = (∂ℓ/∂F)ᵀ h_L, ∂ℓ/∂h_L = (∂ℓ/∂F) B, ∂ℓ/∂A = (∂ℓ/∂h_0)ᵀ x.
    """
    n, d_out = ys.shape[1], ys.shape[2]
    if loss_reduction == "mean":
        norm = n * d_out
    elif loss_reduction == "sample":
        norm = n
    else:
        raise ResodeError(f"unknown loss_reduction {loss_reduction!r}; use 'mean' or 'sample'")
    h0 = torch.bmm(xs, A.transpose(1, 2))
    hL, cache = residual_forward(h0, Vl, Wl, c=c, r=r, activation=activation, workspace=workspace)
    resid = torch.bmm(hL, B.transpose(1, 2)) - ys
    loss = resid.square().sum((1, 2)) / norm
    g_out = resid * (2.0 / norm)
    gB = torch.bmm(g_out.transpose(1, 2), hL)
    gL = torch.bmm(g_out, B)
    g0, gV, gW = residual_backward(cache, gL)
    gA = torch.bmm(g0.transpose(1, 2), xs)
    return LossGrads(loss, gA, gV, gW, gB)


def _layer_sq(t: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of every layer and seed of a layer-major (L, S, a, b) tensor."""
    return torch.linalg.vector_norm(t, dim=(2, 3)).square_()


def _dz(Vl: torch.Tensor, Wl: torch.Tensor, ws: dict[str, torch.Tensor]) -> torch.Tensor:
    """‖Z_{k+1} − Z_k‖_F for layer-major weights: (L−1, S) (difference buffers reused)."""
    if "dV" not in ws:
        ws["dV"], ws["dW"] = torch.empty_like(Vl[1:]), torch.empty_like(Wl[1:])
    dv = _layer_sq(torch.sub(Vl[1:], Vl[:-1], out=ws["dV"]))
    dw = _layer_sq(torch.sub(Wl[1:], Wl[:-1], out=ws["dW"]))
    return dv.add_(dw).sqrt_()


def train_gd(
    model: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    iterations: int,
    lr: float,
    lr_depth_exponent: float = 1.0,
    clip: float | None = None,
    loss_reduction: str = "mean",
    snapshot_at: Iterable[int] = (),
    on_snapshot: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
    progress: bool = False,
    desc: str | None = None,
    threads: int | None = 1,
):
    """Full-batch GD for ``iterations`` steps; residual rate L^e·lr, embedding rate lr.

    ``clip``: per seed, rescale the whole update direction (∇A, L^e-weighted ∇Z, ∇B) so that its
    norm is at most ``clip`` (the bounded-gradient flow of the theory). ``snapshot_at``: iterations
    at which (V, W) with a seed dim, (S, L, q, m) and (S, L, m, q), are copied into
    ``result.snapshots`` (and passed to ``on_snapshot``). x: (n, d) shared or (S, n, d);
    y: (n, d') or (S, n, d'); the model's dtype is used. The model is updated in place.
    ``threads``: torch intra-op threads during training (restored afterwards; None: unchanged).
    The per-layer matmuls are tiny, so threads gain nothing, and on a busy machine OpenMP
    synchronisation made 2 threads 27× slower than 1 (measured: 2.4 s vs 88 ms per iteration).
    """
    import time

    from tqdm.auto import tqdm

    if iterations < 0:
        raise ResodeError(f"iterations must be >= 0, got {iterations}")
    if lr <= 0:
        raise ResodeError(f"learning rate must be > 0, got {lr}")
    if clip is not None and clip <= 0:
        raise ResodeError(f"gradient clip must be > 0 or None, got {clip}")
    dtype = model.V.dtype
    if x.shape[-1] != model.in_dim or y.shape[-1] != model.out_dim or x.shape[-2] != y.shape[-2]:
        raise ResodeError(
            f"data of shape x {tuple(x.shape)}, y {tuple(y.shape)} does not fit the model "
            f"(d = {model.in_dim}, d' = {model.out_dim}) or x and y differ in sample count"
        )
    L = model.depth
    rate = lr * float(L) ** lr_depth_exponent
    snaps = set(int(t) for t in snapshot_at)
    hist: dict[str, list[np.ndarray]] = {k: [] for k in HISTORY_KEYS}
    result = SimpleNamespace(model=model, history={}, snapshots={}, seconds=0.0)
    A, V, W, B = (t.detach() for t in model.stacked())
    S = V.shape[0]
    xs, ys = _seed_batch(x.to(dtype), S), _seed_batch(y.to(dtype), S)
    Vl, Wl = layer_major(V).clone(), layer_major(W).clone()  # working copies, written back
    workspace: dict[str, Any] = {}
    diff_ws: dict[str, torch.Tensor] = {}
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    bar = tqdm(range(iterations + 1), desc=desc or f"GD L={L}", disable=not progress, leave=False)
    try:
        with torch.no_grad():
            for t in bar:
                g = stacked_loss_and_grads(
                    A,
                    Vl,
                    Wl,
                    B,
                    xs,
                    ys,
                    c=model.c,
                    r=model.r,
                    activation=model.activation,
                    loss_reduction=loss_reduction,
                    workspace=workspace,
                )
                if not torch.isfinite(g.loss).all():
                    raise NumericalError(
                        f"loss became {g.loss.tolist()} at iteration {t} (L={L}); lower the "
                        "learning rate or enable gradient clipping"
                    )
                dz = _dz(Vl, Wl, diff_ws) if L > 1 else Vl.new_zeros((1, S))
                gz2 = (_layer_sq(g.V) + _layer_sq(g.W)).sum(0)
                gab2 = g.A.square().sum((1, 2)) + g.B.square().sum((1, 2))
                nz2 = _layer_sq(Vl), _layer_sq(Wl)
                step_sq = rate**2 * gz2 + (lr**2 * gab2 if model.train_embeddings else 0.0)
                step_norm = step_sq.sqrt()
                max_dz = dz.max(0).values
                rows = {
                    "loss": g.loss,
                    "max_dz": max_dz,
                    "L_max_dz": L * max_dz,
                    "mean_dz": dz.mean(0),
                    "pl_ratio": (gab2 + L * gz2) / g.loss,
                    "grad_norm": step_norm / rate,
                    "norm_v": nz2[0].sum(0).sqrt(),
                    "norm_w": nz2[1].sum(0).sqrt(),
                    "max_norm_z": (nz2[0] + nz2[1]).max(0).values.sqrt(),
                }
                for k, v in rows.items():
                    hist[k].append(v.cpu().numpy().astype(np.float64))
                if t in snaps:
                    vs, ws = layer_major(Vl).cpu().clone(), layer_major(Wl).cpu().clone()
                    result.snapshots[t] = (vs, ws)
                    if on_snapshot is not None:
                        on_snapshot(t, vs, ws)
                if t == iterations:
                    break
                if clip is None:
                    Vl.sub_(g.V, alpha=rate)
                    Wl.sub_(g.W, alpha=rate)
                    if model.train_embeddings:
                        A.sub_(g.A, alpha=lr)
                        B.sub_(g.B, alpha=lr)
                else:
                    factor = torch.clamp(clip / step_norm.clamp_min(1e-300), max=1.0)
                    Vl.sub_(g.V * factor.view(1, -1, 1, 1), alpha=rate)
                    Wl.sub_(g.W * factor.view(1, -1, 1, 1), alpha=rate)
                    if model.train_embeddings:
                        A.sub_(g.A * factor.view(-1, 1, 1), alpha=lr)
                        B.sub_(g.B * factor.view(-1, 1, 1), alpha=lr)
                if progress and t % 50 == 0:
                    bar.set_postfix(loss=f"{float(g.loss.mean()):.3g}")
    finally:
        torch.set_num_threads(old_threads)
        with torch.no_grad():
            V.copy_(layer_major(Vl))
            W.copy_(layer_major(Wl))
    result.history = {k: np.stack(v) for k, v in hist.items()}
    result.seconds = time.perf_counter() - start
    return result
