"""Optional numba backend of the GD loop (``pip install "resode[numba]"``): GELU, float32, CPU.

Why: on one core the eager PyTorch loop is bound by per-op cost — 3–4 tensor ops per layer and
direction at ~5–10 µs each (a 50×16×64 matmul ~5 µs, an exact erf on 3 200 values ~8 µs), and
torch's erf/exp cost ~1.5 ns per value. Measured against the former loop on the long-time
workload (n = 50, m = 64, L = 64, one core): the leaner eager step of the default path
1.2–1.6×, ``torch.compile`` of the unrolled step 1.7× after 203 s of compilation, JAX
``lax.scan`` ~2× (6.1 ms/iteration, measured in issue 12); this backend 3.9–4.4× (three runs on
2026-11-28; the old loop's own time varies with the shared machine, so ratios move between runs;
``benchmarks/bench_gd.py``, the README table holds the committed run). Here:

* **fused** (small layers, S·n·m ≤ :data:`FUSED_MAX_LAYER_SIZE`): the whole sequential part —
  forward, GELU, loss head, adjoint recursion G_k = G_{k+1} + c r u_k W_k — is one compiled
  loop without per-op dispatch; the two gradient contractions ∂ℓ/∂V_k = c G_{k+1}ᵀ a_k,
  ∂ℓ/∂W_k = c r u_kᵀ h_k stay one batched torch matmul each.
* **hybrid** (large layers): torch's batched matmuls per layer, GELU and σ' in one compiled
  pass per layer (instead of ~8 torch ops).

GELU uses the same erf formula as torch's vectorised CPU kernel (Abramowitz–Stegun 7.1.26,
|error| ≤ 1.5e-7) with one shared e^{−z²} (Cody–Waite reduction and a degree-6 polynomial, the
Cephes ``expf`` coefficients), so results agree with the torch path to float32 rounding.
Kernels are compiled on first use (tens of seconds) and cached on disk (``cache=True``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from resode.ode.scaled_resnet import ForwardCache, _buffer, _layers, _matmuls

try:  # optional dependency
    import numba
    from llvmlite import ir as _llvm_ir
    from numba.core import types as _nb_types
    from numba.extending import intrinsic as _intrinsic
except ImportError:  # pragma: no cover - exercised when numba is absent
    numba = None

AVAILABLE: bool = numba is not None
SUPPORTED_ACTIVATIONS: tuple[str, ...] = ("gelu",)
# Per-layer size S·n·m up to which the fused kernel is used. Measured loss-and-gradient times,
# one core (2026-11-27): S·n·m = 3 200 (long-time run) fused 1.5 ms, hybrid 2.3 ms, eager torch
# 3.4 ms; 25 600 (depth sweep) fused 243 ms, hybrid 187 ms, eager 308 ms (rechecked after the
# 11-28 kernel changes: fused 241, hybrid 188 ms): numba's own matmul loops run at ~20–25
# GFLOP/s, MKL's batched ones at up to ~50 on the larger layers.
FUSED_MAX_LAYER_SIZE = 8192

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def supports(dtype: torch.dtype, activation: str, device: torch.device) -> bool:
    """Whether this backend can run a model: numba installed, float32, GELU, CPU."""
    return (
        AVAILABLE
        and dtype == torch.float32
        and activation in SUPPORTED_ACTIVATIONS
        and device.type == "cpu"
    )


if AVAILABLE:
    _JIT = dict(fastmath={"reassoc", "contract", "nsz"}, boundscheck=False, cache=True)
    # error_model="numpy": no ZeroDivisionError branch, so the divisions vectorise
    _JIT["error_model"] = "numpy"

    @_intrinsic
    def _as_float32(typingctx, x):  # type: ignore[no-untyped-def]
        """Reinterpret the bits of an int32 as a float32 (builds 2^n for the exponential)."""
        sig = _nb_types.float32(_nb_types.int32)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return builder.bitcast(args[0], _llvm_ir.FloatType())

        return sig, codegen

    @numba.njit(inline="always", **_JIT)
    def _gelu_row(z, a, d, sa, sd):  # type: ignore[no-untyped-def]
        """a = sa·z(1 + erf z), d = sd·(1 + erf z + (2/√π) z e^{−z²}) for a row z = x/√2."""
        f32 = np.float32
        for j in range(z.shape[0]):
            x = z[j]
            x2 = x * x
            w = -(x2 if x2 < f32(87.0) else f32(87.0))  # e^{−87} ≈ 1.6e−38: still normal
            nf = np.floor(w * f32(1.4426950408889634) + f32(0.5))
            f = w - nf * f32(0.693359375) - nf * f32(-2.12194440e-4)
            p = f32(1.9875691500e-4)
            p = p * f + f32(1.3981999507e-3)
            p = p * f + f32(8.3334519073e-3)
            p = p * f + f32(4.1665795894e-2)
            p = p * f + f32(1.6666665459e-1)
            p = p * f + f32(5.0000001201e-1)
            two_n = _as_float32((np.int32(nf) + np.int32(127)) << np.int32(23))
            ex = (p * (f * f) + f + f32(1.0)) * two_n
            t = f32(1.0) / (f32(0.3275911) * abs(x) + f32(1.0))
            r = f32(1.061405429)
            r = r * t + f32(-1.453152027)
            r = r * t + f32(1.421413741)
            r = r * t + f32(-0.284496736)
            r = r * t + f32(0.254829592)
            er = f32(1.0) - r * t * ex
            er = er if x >= 0 else -er
            a[j] = sa * (x + x * er)
            d[j] = sd * (f32(1.0) + er + f32(_TWO_OVER_SQRT_PI) * x * ex)

    @numba.njit(**_JIT)
    def _gelu_layer(P, scale, A, D):  # type: ignore[no-untyped-def]
        """Stored GELU forms of one layer from P (S, n, m): z = scale·P = x/√2 (see _gelu_row),
        one pass over the flattened (contiguous) layer."""
        z = P.ravel()
        for j in range(z.shape[0]):
            z[j] *= scale
        _gelu_row(z, A.ravel(), D.ravel(), np.float32(1.0), np.float32(1.0))

    @numba.njit(inline="always", **_JIT)
    def _axpy_rows(out, h, W):  # type: ignore[no-untyped-def]
        """out = Σ_l h[l] W[l] for W (K, m): 8 rows per pass (one load/store of out per 8 FMAs)."""
        K, m = W.shape
        for j in range(m):
            out[j] = 0.0
        t = 0
        while t + 8 <= K:
            a0, a1, a2, a3 = h[t], h[t + 1], h[t + 2], h[t + 3]
            a4, a5, a6, a7 = h[t + 4], h[t + 5], h[t + 6], h[t + 7]
            w0, w1, w2, w3 = W[t], W[t + 1], W[t + 2], W[t + 3]
            w4, w5, w6, w7 = W[t + 4], W[t + 5], W[t + 6], W[t + 7]
            for j in range(m):
                out[j] += ((a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j])) + (
                    (a4 * w4[j] + a5 * w5[j]) + (a6 * w6[j] + a7 * w7[j])
                )
            t += 8
        while t < K:
            a0, w0 = h[t], W[t]
            for j in range(m):
                out[j] += a0 * w0[j]
            t += 1

    @numba.njit(inline="always", **_JIT)
    def _dot_rows(out, a, V, base, scale):  # type: ignore[no-untyped-def]
        """out[l] = base[l] + scale·⟨a, V[l]⟩ for V (K, m): 8 dot products per pass over a."""
        K, m = V.shape
        f0 = np.float32(0.0)
        t = 0
        while t + 8 <= K:
            v0, v1, v2, v3 = V[t], V[t + 1], V[t + 2], V[t + 3]
            v4, v5, v6, v7 = V[t + 4], V[t + 5], V[t + 6], V[t + 7]
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = f0
            for j in range(m):
                x = a[j]
                s0 += x * v0[j]
                s1 += x * v1[j]
                s2 += x * v2[j]
                s3 += x * v3[j]
                s4 += x * v4[j]
                s5 += x * v5[j]
                s6 += x * v6[j]
                s7 += x * v7[j]
            for i, acc in enumerate((s0, s1, s2, s3, s4, s5, s6, s7)):
                out[t + i] = base[t + i] + scale * acc
            t += 8
        while t < K:
            acc, v0 = f0, V[t]
            for j in range(m):
                acc += a[j] * v0[j]
            out[t] = base[t] + scale * acc
            t += 1

    @numba.njit(**_JIT)
    def _forward_rows(h, Wk, Vk, hn, Ak, Dk, pre, alpha, beta):  # type: ignore[no-untyped-def]
        """One layer, one seed: pre = h W_kᵀ (Wk = rs·W_kᵀ, (q, m)) for all n rows into the
        (n·m,) scratch, GELU over the block (Ak = α a, Dk = β σ'/s_d), then hn = h + Ak V_kᵀ."""
        n, m = h.shape[0], Wk.shape[1]
        for i in range(n):
            _axpy_rows(pre[i * m : (i + 1) * m], h[i], Wk)
        _gelu_row(pre[: n * m], Ak.ravel(), Dk.ravel(), alpha, beta)
        for i in range(n):
            _dot_rows(hn[i], Ak[i], Vk, h[i], np.float32(1.0))

    @numba.njit(**_JIT)
    def _head(hL, B, y, norm, GL, gB):  # type: ignore[no-untyped-def]
        """MSE head of one seed: returns ℓ; GL = ∂ℓ/∂h_L, gB = ∂ℓ/∂B (res = h_L Bᵀ − y)."""
        n, q = hL.shape
        dout = B.shape[0]
        res = np.empty(dout, np.float32)
        two = np.float32(2.0 / norm)
        total = 0.0
        gB[:, :] = 0.0
        for i in range(n):
            for o in range(dout):
                acc = np.float32(0.0)
                for l in range(q):
                    acc += hL[i, l] * B[o, l]
                res[o] = acc - y[i, o]
                total += float(res[o]) * float(res[o])
                res[o] *= two
            for l in range(q):
                acc = np.float32(0.0)
                for o in range(dout):
                    acc += res[o] * B[o, l]
                GL[i, l] = acc
            for o in range(dout):
                for l in range(q):
                    gB[o, l] += res[o] * hL[i, l]
        return total / norm

    @numba.njit(**_JIT)
    def _backward_rows(Gn, Vk, Wk, Uk, Go, tmp, scale):  # type: ignore[no-untyped-def]
        """One layer, one seed: u = (G_{k+1} V_k) ⊙ D (in Uk), G_k = G_{k+1} + scale·u W_k."""
        for i in range(Gn.shape[0]):
            _axpy_rows(tmp, Gn[i], Vk)
            u = Uk[i]
            for j in range(u.shape[0]):
                u[j] *= tmp[j]
            _dot_rows(Go[i], u, Wk, Gn[i], scale)

    @numba.njit(**_JIT)
    def _fused(h0, V, W, B, y, c, r, norm, hs, act, U, Gs, loss, gB):  # type: ignore[no-untyped-def]
        """Forward, head and adjoint recursion for all seeds; layer-major V (L, S, q, m),
        W (L, S, m, q), hs, Gs (L+1, S, n, q), act = α a, U = β σ'/s_d then β u (L, S, n, m)
        (α = c/√2, β = c r/2: the factors of ∂ℓ/∂V_k, ∂ℓ/∂W_k); loss (S,), gB (S, d', q).
        rs W_kᵀ (rs = r/√2) is formed per seed in a scratch (rows contiguous)."""
        L, S, q, m = V.shape
        rs = np.float32(r * _INV_SQRT_2)
        alpha, beta = np.float32(c * _INV_SQRT_2), np.float32(c * r * 0.5)
        inv_rs = np.float32(1.0) / rs  # G_k = G_{k+1} + (β u) W_k = G_{k+1} + (β u)(rs W_k)/rs
        n = hs.shape[2]
        pre = np.empty(n * m, np.float32)
        Wt = np.empty((L, q, m), np.float32)
        for s in range(S):
            for k in range(L):
                Wk, Wtk = W[k, s], Wt[k]
                for j in range(m):
                    for l in range(q):
                        Wtk[l, j] = rs * Wk[j, l]
            hs[0, s] = h0[s]
            for k in range(L):
                hk, hn = hs[k, s], hs[k + 1, s]
                _forward_rows(hk, Wt[k], V[k, s], hn, act[k, s], U[k, s], pre, alpha, beta)
            loss[s] = _head(hs[L, s], B[s], y[s], norm, Gs[L, s], gB[s])
            for k in range(L - 1, -1, -1):
                _backward_rows(Gs[k + 1, s], V[k, s], Wt[k], U[k, s], Gs[k, s], pre, inv_rs)

    @numba.njit(**_JIT)
    def _layer_sums(V, W, diff, out):  # type: ignore[no-untyped-def]
        """out[0, k, s] = ‖V_k‖², out[1, k, s] = ‖W_k‖², out[2, k, s] = ‖Z_{k+1} − Z_k‖²
        (k < L−1, when ``diff``) for layer-major V, W (L, S, ·, ·); float64 sums."""
        L, S = V.shape[0], V.shape[1]
        for k in range(L):
            for s in range(S):
                v, w = V[k, s].ravel(), W[k, s].ravel()
                sv, sw, sd = 0.0, 0.0, 0.0
                for i in range(v.shape[0]):
                    sv += float(v[i]) * float(v[i])
                for i in range(w.shape[0]):
                    sw += float(w[i]) * float(w[i])
                if diff and k + 1 < L:
                    v1, w1 = V[k + 1, s].ravel(), W[k + 1, s].ravel()
                    for i in range(v.shape[0]):
                        e = float(v1[i]) - float(v[i])
                        sd += e * e
                    for i in range(w.shape[0]):
                        e = float(w1[i]) - float(w[i])
                        sd += e * e
                out[0, k, s], out[1, k, s], out[2, k, s] = sv, sw, sd

    @numba.njit(**_JIT)
    def _sq_seed(t, s):  # type: ignore[no-untyped-def]
        """Σ t[s]² of a (S, a, b) array in float64."""
        v, acc = t[s].ravel(), 0.0
        for i in range(v.shape[0]):
            acc += float(v[i]) * float(v[i])
        return acc

    @numba.njit(**_JIT)
    def _record(V, W, gV, gW, gA, gB, loss, rate, lr, embed, sums, row, gl2):  # type: ignore[no-untyped-def]
        """One history row (9, S) as :func:`resode.ode.train._history_row` from layer-major V, W,
        their gradients, ∇A, ∇B and ℓ; gl2[k, s] = ‖∇V_k‖² + ‖∇W_k‖²; sums: (6, L, S) scratch."""
        L, S = V.shape[0], V.shape[1]
        _layer_sums(V, W, True, sums)
        _layer_sums(gV, gW, False, sums[3:])
        for s in range(S):
            gab2 = _sq_seed(gA, s) + _sq_seed(gB, s)
            nv2, nw2, gz2, zmax, dmax, dsum = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            for k in range(L):
                nv2 += sums[0, k, s]
                nw2 += sums[1, k, s]
                zmax = max(zmax, sums[0, k, s] + sums[1, k, s])
                gl2[k, s] = sums[3, k, s] + sums[4, k, s]
                gz2 += gl2[k, s]
                if k + 1 < L:
                    dz = math.sqrt(sums[2, k, s])
                    dmax, dsum = max(dmax, dz), dsum + dz
            ls = float(loss[s])
            step_sq = rate * rate * gz2 + (lr * lr * gab2 if embed else 0.0)
            row[0, s], row[1, s], row[2, s] = ls, dmax, L * dmax
            row[3, s] = dsum / (L - 1) if L > 1 else 0.0
            row[4, s], row[5, s] = (gab2 + L * gz2) / ls, math.sqrt(step_sq) / rate
            row[6, s], row[7, s], row[8, s] = math.sqrt(nv2), math.sqrt(nw2), math.sqrt(zmax)


def record_row(
    V: torch.Tensor, W: torch.Tensor, g: Any, *, rate: float, lr: float, embed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(history row (9, S), per-layer ‖∇Z_k‖² (L, S)) in one compiled pass over layer-major
    V, W and the gradients ``g`` (a LossGrads); the values of ``train._history_row``."""
    L, S = V.shape[0], V.shape[1]
    row, gl2, sums = np.empty((9, S)), np.empty((L, S)), np.zeros((6, L, S))
    ts = (V, W, g.V, g.W, g.A, g.B, g.loss)
    _record(*(_np(t.contiguous()) for t in ts), rate, lr, embed, sums, row, gl2)
    return row, gl2


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def hybrid_forward(
    h0: torch.Tensor,
    Vl: torch.Tensor,
    Wl: torch.Tensor,
    *,
    c: float,
    r: float,
    workspace: dict[str, Any],
) -> tuple[torch.Tensor, ForwardCache]:
    """:func:`~resode.ode.scaled_resnet.residual_forward` for GELU with the activation and its
    derivative in one compiled pass per layer (torch matmuls); same cache, same backward."""
    S, n, q = h0.shape
    L, m = Vl.shape[0], Vl.shape[3]
    mm, addmm, sq = _matmuls(S)
    ws = workspace
    hs = _buffer(ws, "hs", (L + 1, S, n, q), h0)
    act = _buffer(ws, "act", (L, S, n, m), h0)
    dsig = _buffer(ws, "dsig", (L, S, n, m), h0)
    pre = _buffer(ws, "pre", (S, n, m), h0)
    Wt = _layers(ws, "Wt_nb", Wl, lambda t: sq(t).transpose(-1, -2))
    Vt = _layers(ws, "Vt", Vl, lambda t: sq(t).transpose(-1, -2))
    H = _layers(ws, "H", hs, sq)
    A = _layers(ws, "A", act, sq)
    views = ws.get("nb_views")
    if views is None or views[0] is not act or views[1] is not dsig:
        views = (act, dsig, [_np(a) for a in act.unbind(0)], [_np(d) for d in dsig.unbind(0)])
        ws["nb_views"] = views
    An, Dn, pre_np, P = views[2], views[3], _np(pre), sq(pre)
    hs[0].copy_(h0)
    alpha, scale = c * _INV_SQRT_2, np.float32(r * _INV_SQRT_2)
    for k in range(L):
        mm(H[k], Wt[k], out=P)
        _gelu_layer(pre_np, scale, An[k], Dn[k])
        addmm(H[k], A[k], Vt[k], alpha=alpha, out=H[k + 1])
    return hs[L], ForwardCache(hs, act, dsig, Vl, Wl, c, r, (_INV_SQRT_2, _INV_SQRT_2, 0.5), ws)


def fused_loss_and_grads(
    A: torch.Tensor,
    Vl: torch.Tensor,
    Wl: torch.Tensor,
    B: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    *,
    c: float,
    r: float,
    norm: float,
    workspace: dict[str, Any],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ℓ, ∂ℓ/∂A, ∂ℓ/∂V, ∂ℓ/∂W, ∂ℓ/∂B) for GELU with the sequential part in one compiled loop;
    the same equations as :func:`resode.ode.train.stacked_loss_and_grads`."""
    plan = _fused_plan(workspace, A, Vl, Wl, B, xs, ys)
    inputs, outputs, h0, views, grads = plan
    torch.bmm(xs, A.transpose(1, 2), out=h0)
    if inputs is None:  # some input not contiguous: fresh contiguous copies
        inputs = [_np(h0)] + [_np(t.contiguous()) for t in (Vl, Wl, B, ys)]
    _fused(*inputs, c, r, float(norm), *outputs)
    Gt, act, Ut, h, G0t = views  # ∂ℓ/∂V_k = G_{k+1}ᵀ (c/√2 a_k), ∂ℓ/∂W_k = (c r/2 u_k)ᵀ h_k
    loss, gA, gV, gW, gB = grads
    torch.bmm(Gt, act, out=gV.view(Gt.shape[0], *gV.shape[2:]))
    torch.bmm(Ut, h, out=gW.view(Ut.shape[0], *gW.shape[2:]))
    torch.bmm(G0t, xs, out=gA)
    return loss, gA, gV, gW, gB


def _fused_plan(
    ws: dict[str, Any], *tensors: torch.Tensor
) -> tuple[list[np.ndarray] | None, list[np.ndarray], torch.Tensor, tuple, tuple]:
    """Buffers of :func:`fused_loss_and_grads` and their numpy and matmul views, cached in the
    workspace while the inputs (A, Vl, Wl, B, xs, ys) are the same tensor objects: (kernel inputs
    (None when one is not contiguous), kernel outputs, h0, matmul views, gradient buffers)."""
    plan = ws.get("nb_plan")
    if plan is not None and all(a is b for a, b in zip(plan[0], tensors)):
        return plan[1]
    _, Vl, Wl, B, xs, ys = tensors
    (S, n, d), (L, _, q, m), LS = xs.shape, Vl.shape, Vl.shape[0] * Vl.shape[1]
    hs = _buffer(ws, "hs", (L + 1, S, n, q), Vl)
    Gs = _buffer(ws, "Gs", (L + 1, S, n, q), Vl)
    act = _buffer(ws, "act", (L, S, n, m), Vl)
    U = _buffer(ws, "dsig", (L, S, n, m), Vl)
    h0 = _buffer(ws, "h0_nb", (S, n, q), Vl)
    grads = tuple(
        _buffer(ws, key, shape, Vl)
        for key, shape in (
            ("loss_nb", (S,)),
            ("gA_nb", (S, q, d)),
            ("gV", (L, S, q, m)),
            ("gW", (L, S, m, q)),
            ("gB_nb", (S, ys.shape[2], q)),
        )
    )
    rest = (Vl, Wl, B, ys)
    inputs = [_np(t) for t in (h0, *rest)] if all(t.is_contiguous() for t in rest) else None
    outputs = [_np(t) for t in (hs, act, U, Gs, grads[0], grads[4])]
    views = (
        Gs[1:].view(LS, n, q).transpose(1, 2),
        act.view(LS, n, m),
        U.view(LS, n, m).transpose(1, 2),
        hs[:-1].view(LS, n, q),
        Gs[0].transpose(1, 2),
    )
    plan = (inputs, outputs, h0, views, grads)
    ws["nb_plan"] = (tensors, plan)
    return plan
