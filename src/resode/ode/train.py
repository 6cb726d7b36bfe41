"""Full-batch gradient descent on the scaled residual MLP with the depth-scaled rate (paper B §B.3).

Discrete gradient flow dZ_k/dt = −L·∂ℓ/∂Z_k: residual weights move with rate L^e × lr, A and B
(when trainable) with lr. For the residual factor L^{−α} of the model the consistent exponent is
e = 2α − 1 (the default): ∂ℓ/∂Z_k scales like L^{−α} and a step moves F by ~L·L^{−α}·L^e·L^{−α}·lr,
which is O(lr) only for e = 2α − 1 (α = 1: rate L·lr; α = 1/2: rate lr). Loss: MSE averaged over
n·d' (the official code) or (1/n)Σ_i‖F(x_i) − y_i‖² (``loss_reduction="sample"``). Gradients come
from the hand-written adjoint of :mod:`resode.ode.scaled_resnet` over stacked weights, all seeds
in one batched matmul, or from the optional compiled backend :mod:`resode.ode.numba_backend`.

Per iteration t = 0..T (state before the t-th update) and per seed the history holds:
``loss``, ``max_dz`` = max_k‖Z_{k+1}−Z_k‖_F, ``L_max_dz`` = L·max_dz, ``mean_dz``, ``pl_ratio``
= (‖∇_A ℓ‖² + L Σ_k‖∇_{Z_k} ℓ‖² + ‖∇_B ℓ‖²)/ℓ (Def. 1, all of A, Z, B whether trained or not),
``grad_norm``, ``norm_v``, ``norm_w`` (‖V‖_F, ‖W‖_F over all layers) and ``max_norm_z``
(max_k‖Z_k‖_F).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from resode.errors import NumericalError, ResodeError
from resode.ode.scaled_resnet import (
    ScaledResidualMLP,
    layer_major,
    residual_backward,
    residual_forward,
)
from resode.runtime import torch_threads

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
GD_BACKENDS: tuple[str, ...] = ("auto", "torch", "numba")


@dataclass
class GDResult:
    """History arrays of shape (T+1, S) keyed by :data:`HISTORY_KEYS`, and weight snapshots."""

    model: ScaledResidualMLP
    history: dict[str, np.ndarray]
    snapshots: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = "torch"

    def running_max_dz(self) -> np.ndarray:
        """max_{k, t' ≤ t} ‖Z_{k+1}(t') − Z_k(t')‖_F: (T+1, S)."""
        return np.maximum.accumulate(self.history["max_dz"], axis=0)


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


def resolve_backend(
    backend: str | None, dtype: torch.dtype, activation: str, device: torch.device
) -> str:
    """The GD backend to use: "torch" (pure PyTorch, the default) or "numba" (optional extra).

    ``None`` reads ``RESODE_GD_BACKEND`` (default "auto"); "auto" takes "numba" when numba is
    installed and the model is float32, GELU, on the CPU, else "torch".
    """
    name = backend if backend is not None else os.environ.get("RESODE_GD_BACKEND", "auto")
    if name not in GD_BACKENDS:
        raise ResodeError(f"unknown GD backend {name!r}; choose one of {', '.join(GD_BACKENDS)}")
    if name == "torch":
        return name
    from resode.ode import numba_backend

    ok = numba_backend.supports(dtype, activation, device)
    if name == "numba" and not ok:
        raise ResodeError(
            "the numba GD backend needs numba (pip install 'resode[numba]') and a float32 GELU "
            f"model on the CPU (got {dtype}, {activation}, {device}); use backend='torch'"
        )
    return "numba" if ok else "torch"


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
    backend: str = "torch",
) -> LossGrads:
    """Loss and gradients for seed-batched A, B and layer-major Vl, Wl (grads layer-major too).

    ℓ = mean over n·d' of (F(x) − y)² ("mean") or (1/n)Σ_i‖F(x_i) − y_i‖² ("sample");
    ∂ℓ/∂F = 2(F − y)/norm, ∂ℓ/∂B = (∂ℓ/∂F)ᵀ h_L, ∂ℓ/∂h_L = (∂ℓ/∂F) B, ∂ℓ/∂A = (∂ℓ/∂h_0)ᵀ x.
    ``backend``: "torch" or "numba" (a resolved name, see :func:`resolve_backend`).
    """
    n, d_out = ys.shape[1], ys.shape[2]
    if loss_reduction == "mean":
        norm = n * d_out
    elif loss_reduction == "sample":
        norm = n
    else:
        raise ResodeError(f"unknown loss_reduction {loss_reduction!r}; use 'mean' or 'sample'")
    if backend == "numba":
        from resode.ode import numba_backend

        ws = workspace if workspace is not None else {}
        S, m = xs.shape[0], Vl.shape[3]
        if S * n * m <= numba_backend.FUSED_MAX_LAYER_SIZE:
            out = numba_backend.fused_loss_and_grads(
                A, Vl, Wl, B, xs, ys, c=c, r=r, norm=norm, workspace=ws
            )
            return LossGrads(*out)
        h0 = torch.bmm(xs, A.transpose(1, 2))
        hL, cache = numba_backend.hybrid_forward(h0, Vl, Wl, c=c, r=r, workspace=ws)
    else:
        h0 = torch.bmm(xs, A.transpose(1, 2))
        hL, cache = residual_forward(
            h0, Vl, Wl, c=c, r=r, activation=activation, workspace=workspace
        )
    resid = torch.bmm(hL, B.transpose(1, 2)) - ys
    loss = resid.square().sum((1, 2)) / norm
    g_out = resid * (2.0 / norm)
    gB = torch.bmm(g_out.transpose(1, 2), hL)
    gL = torch.bmm(g_out, B)
    g0, gV, gW = residual_backward(cache, gL)
    gA = torch.bmm(g0.transpose(1, 2), xs)
    return LossGrads(loss, gA, gV, gW, gB)


def loss_and_grads(
    model: ScaledResidualMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_reduction: str = "mean",
) -> LossGrads:
    """MSE loss per seed (S,) and its exact gradients, seed-major (S, L, ·, ·), no autograd graph.

    ℓ = mean over n·d' of (F(x) − y)² ("mean") or (1/n)Σ_i‖F(x_i) − y_i‖² ("sample").
    """
    with torch.no_grad():
        A, V, W, B = (t.detach() for t in model.stacked())
        S = V.shape[0]
        dtype = V.dtype
        g = stacked_loss_and_grads(
            A,
            layer_major(V),
            layer_major(W),
            B,
            _seed_batch(x.to(dtype), S),
            _seed_batch(y.to(dtype), S),
            c=model.c,
            r=model.r,
            activation=model.activation,
            loss_reduction=loss_reduction,
        )
    return LossGrads(g.loss, g.A, layer_major(g.V), layer_major(g.W), g.B)


def _layer_sq(t: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of every layer and seed of a layer-major (L, S, a, b) tensor."""
    return torch.linalg.vector_norm(t, dim=(2, 3)).square_()


def _working_copy(t: torch.Tensor) -> torch.Tensor:
    """A layer-major copy (L, S, ·, ·) of seed-major weights, made with a single copy."""
    out = layer_major(t)
    return out.clone() if out.data_ptr() == t.data_ptr() else out


def _layer_sums(V: torch.Tensor, W: torch.Tensor, diff: bool, ws: dict[str, Any]) -> np.ndarray:
    """(3, L, S) float64: ‖V_k‖², ‖W_k‖² and ‖Z_{k+1} − Z_k‖² (0 at k = L−1 or without ``diff``)
    of layer-major V (L, S, q, m), W (L, S, m, q), batched over layers and seeds."""
    L, S = V.shape[0], V.shape[1]
    rows = [_layer_sq(V), _layer_sq(W), V.new_zeros((L, S))]
    if diff and L > 1:
        if "dV" not in ws:
            ws["dV"], ws["dW"] = torch.empty_like(V[1:]), torch.empty_like(W[1:])
        dv = _layer_sq(torch.sub(V[1:], V[:-1], out=ws["dV"]))
        rows[2][:-1] = dv.add_(_layer_sq(torch.sub(W[1:], W[:-1], out=ws["dW"])))
    return torch.stack(rows).numpy().astype(np.float64)


def _record(
    g: LossGrads, V: torch.Tensor, W: torch.Tensor, backend: str, ws: dict[str, Any], **step: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(history row (len(keys), S), per-layer ‖∇V_k‖² + ‖∇W_k‖² (L, S)) of layer-major V, W and
    their gradients (numba: one compiled pass; torch: :func:`_layer_sums`, :func:`_history_row`).
    ``step``: rate, lr, embed."""
    if backend == "numba":
        from resode.ode import numba_backend

        return numba_backend.record_row(V, W, g, **step)
    sums, gsums = _layer_sums(V, W, True, ws), _layer_sums(g.V, g.W, False, ws)
    return _history_row(g, sums, gsums, **step), gsums[0] + gsums[1]


def _history_row(
    g: LossGrads, sums: np.ndarray, gsums: np.ndarray, *, rate: float, lr: float, embed: bool
) -> np.ndarray:
    """The :data:`HISTORY_KEYS` values of one iteration, (len(keys), S), from the per-layer
    squared norms of the weights and differences (``sums``) and of the gradients (``gsums``),
    see :func:`_layer_sums`."""
    L = sums.shape[1]
    loss = g.loss.numpy().astype(np.float64)
    gab2 = sum(np.square(t.numpy(), dtype=np.float64).sum((1, 2)) for t in (g.A, g.B))
    nv2, nw2 = sums[0], sums[1]
    dz = np.sqrt(sums[2, :-1]) if L > 1 else np.zeros_like(sums[2])
    gz2 = gsums[0].sum(0) + gsums[1].sum(0)
    step_sq = rate**2 * gz2 + (lr**2 * gab2 if embed else 0.0)
    max_dz = dz.max(0)
    return np.stack(
        (
            loss,
            max_dz,
            L * max_dz,
            dz.mean(0),
            (gab2 + L * gz2) / loss,
            np.sqrt(step_sq) / rate,
            np.sqrt(nv2.sum(0)),
            np.sqrt(nw2.sum(0)),
            np.sqrt((nv2 + nw2).max(0)),
        )
    )


def _clip_factor(sq_norm: torch.Tensor, scale: float, clip: float | None) -> torch.Tensor | None:
    """min(1, clip/(scale·‖g‖)) elementwise from ‖g‖² (None without clipping)."""
    if clip is None:
        return None
    return torch.clamp(clip / (scale * sq_norm.sqrt()).clamp_min(1e-300), max=1.0)


def _gd_update(
    g: LossGrads,
    A: torch.Tensor,
    Vl: torch.Tensor,
    Wl: torch.Tensor,
    B: torch.Tensor,
    gl2: torch.Tensor | None,
    *,
    rate: float,
    lr: float,
    depth_factor: float,
    clip: float | None,
    train_embeddings: bool,
) -> None:
    """Z_k ← Z_k − lr·π(L^e ∇_{Z_k} ℓ), A ← A − lr·π(∇_A ℓ), B likewise, π(g) = g·min(1, clip/‖g‖)
    per seed and per layer (π = identity without ``clip``); rate = L^e·lr = lr·depth_factor."""
    f = None if gl2 is None else _clip_factor(gl2, depth_factor, clip)
    if f is None:
        Vl.sub_(g.V, alpha=rate)
        Wl.sub_(g.W, alpha=rate)
    else:
        f4 = f.view(*f.shape, 1, 1)
        Vl.addcmul_(g.V, f4, value=-rate)
        Wl.addcmul_(g.W, f4, value=-rate)
    if train_embeddings:
        for P, gP in ((A, g.A), (B, g.B)):
            fP = _clip_factor(gP.square().sum((1, 2)), 1.0, clip)
            if fP is None:
                P.sub_(gP, alpha=lr)
            else:
                P.addcmul_(gP, fP.view(-1, 1, 1), value=-lr)


# train_gd is about 108 lines, 33 of them its signature and docstring: the loop (validate, pick the
# backend, step, snapshot, record) reads best in one place.
def train_gd(
    model: ScaledResidualMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    iterations: int,
    lr: float,
    lr_depth_exponent: float | None = None,
    clip: float | None = None,
    loss_reduction: str = "mean",
    snapshot_at: Iterable[int] = (),
    on_snapshot: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
    progress: bool = False,
    desc: str | None = None,
    threads: int | None = 1,
    backend: str | None = None,
) -> GDResult:
    """Full-batch GD for ``iterations`` steps; residual rate L^e·lr, embedding rate lr.

    ``lr_depth_exponent`` e: None = 2α − 1 for the model's ``scaling_exponent`` α (1 for the
    1/L scaling, 0 for 1/√L; see the module docstring). ``clip``: the theory's bounded π acting
    on each layer's depth-scaled gradient, per seed:
    Z_k ← Z_k − lr·π(L^e ∇_{Z_k}ℓ), π(g) = g·min(1, clip/‖g‖_F) (A, B: π(∇_A ℓ), π(∇_B ℓ)),
    so every layer moves by at most lr·clip whatever the depth. ``snapshot_at``: iterations at
    which (V, W) with a seed dim, (S, L, q, m) and (S, L, m, q), are copied into
    ``result.snapshots`` (and passed to ``on_snapshot``). x: (n, d) shared or (S, n, d);
    y: (n, d') or (S, n, d'); the model's dtype is used. The model is updated in place.
    ``threads``: torch intra-op threads during training (restored afterwards; None: unchanged).
    The per-layer matmuls are tiny, so threads gain nothing, and on a busy machine OpenMP
    synchronisation made 2 threads 27× slower than 1 (measured: 2.4 s vs 88 ms per iteration).
    ``backend``: "torch", "numba" or "auto" (see :func:`resolve_backend`; None reads
    ``RESODE_GD_BACKEND``, default "auto"); the one used is ``result.backend``.
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
    exponent = (
        2.0 * model.scaling_exponent - 1.0 if lr_depth_exponent is None else lr_depth_exponent
    )
    depth_factor = float(L) ** exponent
    rate = lr * depth_factor
    name = resolve_backend(backend, dtype, model.activation, model.V.device)
    snaps = set(int(t) for t in snapshot_at)
    result = GDResult(model, {}, backend=name)
    A, V, W, B = (t.detach() for t in model.stacked())
    S = V.shape[0]
    xs, ys = (_seed_batch(t.to(dtype), S).contiguous() for t in (x, y))
    Vl, Wl = _working_copy(V), _working_copy(W)  # layer-major, written back at the end
    record = np.empty((iterations + 1, len(HISTORY_KEYS), S))
    grad_kw: dict[str, Any] = dict(
        c=model.c,
        r=model.r,
        activation=model.activation,
        loss_reduction=loss_reduction,
        workspace={},
        backend=name,
    )
    diff_ws: dict[str, torch.Tensor] = {}
    step = dict(rate=rate, lr=lr, embed=model.train_embeddings)
    upd = dict(rate=rate, lr=lr, train_embeddings=model.train_embeddings)
    # None: keep the caller's count (a grid task's); runtime.torch_threads restores it after
    threads_set = contextlib.nullcontext() if threads is None else torch_threads(threads)
    start = time.perf_counter()
    bar = tqdm(range(iterations + 1), desc=desc or f"GD L={L}", disable=not progress, leave=False)
    try:
        with threads_set, torch.no_grad():
            for t in bar:
                g = stacked_loss_and_grads(A, Vl, Wl, B, xs, ys, **grad_kw)
                record[t], gz2 = _record(g, Vl, Wl, name, diff_ws, **step)
                if not np.isfinite(record[t, 0]).all():
                    raise NumericalError(
                        f"loss became {record[t, 0].tolist()} at iteration {t} (L={L}); lower "
                        "the learning rate or enable gradient clipping"
                    )
                if t in snaps:
                    vs, ws = layer_major(Vl).cpu().clone(), layer_major(Wl).cpu().clone()
                    result.snapshots[t] = (vs, ws)
                    if on_snapshot is not None:
                        on_snapshot(t, vs, ws)
                if t == iterations:
                    break
                gl2 = None if clip is None else torch.from_numpy(gz2).to(dtype)
                _gd_update(g, A, Vl, Wl, B, gl2, depth_factor=depth_factor, clip=clip, **upd)
                if progress and t % 50 == 0:
                    bar.set_postfix(loss=f"{float(record[t, 0].mean()):.3g}")
    finally:
        with torch.no_grad():
            V.copy_(Vl.transpose(0, 1))
            W.copy_(Wl.transpose(0, 1))
    result.history = {k: np.ascontiguousarray(record[:, i]) for i, k in enumerate(HISTORY_KEYS)}
    result.seconds = time.perf_counter() - start
    return result
