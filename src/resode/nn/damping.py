"""Parametrisations of the interpolation coefficient λ of a damped residual block (paper A).

A damped block computes x_{n+1} = (1 − λ_n)·s_n(x_n) + f_n(x_n) (:mod:`resode.nn.blocks`).
Each class here owns the raw parameter(s) and exposes ``value()`` → λ, a 0-d tensor (one λ per
block) or a 1-d tensor of length C (one λ per output channel, ``channels=C``):

========================  ===========================  ====================================
class                     λ                            default initialisation
========================  ===========================  ====================================
:class:`FixedDamping`     constant (a buffer)          the given ``lam``
:class:`InDamping`        relu(1 − k)   (In-ResNet)     k ~ U(0.75, 0.80) → λ₀ ∈ [0.20, 0.25]
:class:`LambdaInDamping`  relu(k)       (λ-In-ResNet)   k ~ U(0.20, 0.25) → λ₀ ∈ [0.20, 0.25]
:class:`SigmoidDamping`   sigmoid(k)    (bounded)       k ~ U(logit 0.20, logit 0.25)
========================  ===========================  ====================================

For the 164-layer network the paper's official code uses narrower-damping inits:
In k ~ U(0.8, 0.9), λ-In k ~ U(0.1, 0.2), both λ₀ ∈ [0.1, 0.2]; :func:`default_k_init` returns
these per depth (and the sigmoid analogue k ~ U(logit 0.1, logit 0.2)).

Nothing caps the In-ResNet λ: for k < 0, λ = 1 − k > 1; for k ≥ 1, λ = relu(1 − k) = 0 and the
gradient to k is exactly 0 (torch's relu'(x) = 0 for x ≤ 0). The sigmoid form keeps
λ ∈ (0, 1) always. k is a plain ``nn.Parameter`` named ``k`` so it joins the usual SGD group
(the paper uses no dedicated regulariser; weight decay 1e-4 applies to it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from resode.errors import ResodeError

DAMPING_KINDS: tuple[str, ...] = ("none", "in", "lambda_in", "sigmoid", "fixed")
"""Names accepted by :func:`make_damping` (``"none"`` means a plain ResNet block)."""

FORMS: tuple[str, ...] = ("in", "lambda_in")
"""Block forms: In f(x) + (1 − λ)s(x); λ-In (1 + λ)f(x) + (1 − λ)s(x)."""

_LAM0_DEFAULT = (0.20, 0.25)
_LAM0_DEEP = (0.10, 0.20)  # the 164-layer net in the official code
_DEEP_DEPTH = 164


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def default_k_init(kind: str, depth: int | None = None) -> tuple[float, float]:
    """The paper's U(lo, hi) range for k of damping ``kind`` at network ``depth``.

    In: (0.75, 0.8), λ-In: (0.2, 0.25); for depth ≥ 164: In (0.8, 0.9), λ-In (0.1, 0.2).
    Sigmoid (not in the paper): k = logit(λ₀) with λ₀ in the same range as In/λ-In.
    """
    deep = depth is not None and depth >= _DEEP_DEPTH
    lam_lo, lam_hi = _LAM0_DEEP if deep else _LAM0_DEFAULT
    if kind == "in":
        return (1.0 - lam_hi, 1.0 - lam_lo)
    if kind == "lambda_in":
        return (lam_lo, lam_hi)
    if kind == "sigmoid":
        return (_logit(lam_lo), _logit(lam_hi))
    raise ResodeError(f"damping {kind!r} has no learnable k; valid: 'in', 'lambda_in', 'sigmoid'")


class Damping(nn.Module):
    """Base class: ``value()`` returns λ (0-d, or shape (C,) when per channel).

    ``form`` is the block form this coefficient is meant for (``"in"`` or ``"lambda_in"``);
    ``channels`` is ``None`` for one scalar per block.
    """

    form: str = "in"

    def __init__(self, channels: int | None = None) -> None:
        super().__init__()
        if channels is not None and (not isinstance(channels, int) or channels < 1):
            raise ResodeError(f"channels must be a positive int or None, got {channels!r}")
        self.channels = channels

    def _shape(self) -> tuple[int, ...]:
        return () if self.channels is None else (self.channels,)

    def value(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self) -> torch.Tensor:
        return self.value()


class _LearnableDamping(Damping):
    """λ = φ(k) for a learnable ``k`` initialised k ~ U(lo, hi) (torch's global RNG)."""

    kind = ""

    def __init__(
        self,
        k_init: Sequence[float] | None = None,
        *,
        channels: int | None = None,
        depth: int | None = None,
    ) -> None:
        super().__init__(channels)
        lo, hi = _check_range(k_init if k_init is not None else default_k_init(self.kind, depth))
        self.k_init = (lo, hi)
        self.k = nn.Parameter(torch.empty(self._shape()).uniform_(lo, hi))

    def extra_repr(self) -> str:
        shape = "scalar" if self.channels is None else f"channels={self.channels}"
        return f"{shape}, k_init={self.k_init}"


class InDamping(_LearnableDamping):
    """In-ResNet: λ = relu(1 − k); block f(x) + (1 − λ)·s(x). k > 1 ⇒ λ = 0, ∂λ/∂k = 0."""

    kind = "in"
    form = "in"

    def value(self) -> torch.Tensor:
        return torch.relu(1.0 - self.k)


class LambdaInDamping(_LearnableDamping):
    """λ-In-ResNet: λ = relu(k); block (1 + λ)·f(x) + (1 − λ)·s(x)."""

    kind = "lambda_in"
    form = "lambda_in"

    def value(self) -> torch.Tensor:
        return torch.relu(self.k)


class SigmoidDamping(_LearnableDamping):
    """Bounded: λ = sigmoid(k) ∈ (0, 1) always; block f(x) + (1 − λ)·s(x) by default."""

    kind = "sigmoid"
    form = "in"

    def __init__(
        self,
        k_init: Sequence[float] | None = None,
        *,
        channels: int | None = None,
        depth: int | None = None,
        form: str = "in",
    ) -> None:
        super().__init__(k_init, channels=channels, depth=depth)
        self.form = _check_form(form)

    def value(self) -> torch.Tensor:
        return torch.sigmoid(self.k)


class FixedDamping(Damping):
    """A constant λ (not trained; stored as buffer ``lam``), for λ sweeps such as λ ∈ [0, 1]."""

    lam: torch.Tensor

    def __init__(self, lam: float, *, channels: int | None = None, form: str = "in") -> None:
        super().__init__(channels)
        if not isinstance(lam, (int, float)) or not math.isfinite(lam):
            raise ResodeError(f"fixed damping needs a finite number lam=, got {lam!r}")
        self.form = _check_form(form)
        self.register_buffer("lam", torch.full(self._shape(), float(lam)))

    def value(self) -> torch.Tensor:
        return self.lam

    def extra_repr(self) -> str:
        shape = "scalar" if self.channels is None else f"channels={self.channels}"
        return f"lam={self.lam.flatten()[0].item():g}, {shape}, form={self.form}"


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise ResodeError(f"unknown damping form {form!r}; valid forms: {', '.join(FORMS)}")
    return form


def _check_range(k_init: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in k_init)
    except (TypeError, ValueError) as exc:
        raise ResodeError(
            f"k_init must be a pair (lo, hi) of numbers, got {k_init!r}; e.g. k_init=(0.75, 0.8)"
        ) from exc
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ResodeError(f"k_init must satisfy lo <= hi (finite), got {k_init!r}")
    return lo, hi


def check_damping_args(
    kind: str,
    *,
    lam: float | None = None,
    k_init: Sequence[float] | None = None,
    form: str | None = None,
) -> None:
    """Raise :class:`ResodeError` for a combination :func:`make_damping` would not accept."""
    if kind not in DAMPING_KINDS:
        raise ResodeError(f"unknown damping {kind!r}; valid dampings: {', '.join(DAMPING_KINDS)}")
    if kind != "fixed" and lam is not None:
        raise ResodeError(f"lam= is only used with damping='fixed', not damping={kind!r}")
    if kind == "fixed" and lam is None:
        raise ResodeError("damping='fixed' needs lam=<number>, e.g. lam=0.5")
    if kind in ("none", "fixed") and k_init is not None:
        raise ResodeError(f"k_init= is only used with a learnable damping, not damping={kind!r}")
    if kind in ("in", "lambda_in", "none") and form is not None and form != kind:
        raise ResodeError(f"form= cannot be changed for damping={kind!r}")
    if form is not None:
        _check_form(form)
    if k_init is not None:
        _check_range(k_init)


def make_damping(
    kind: str,
    *,
    channels: int | None = None,
    lam: float | None = None,
    k_init: Sequence[float] | None = None,
    depth: int | None = None,
    form: str | None = None,
) -> Damping | None:
    """Build the coefficient of one damped block; ``None`` for ``kind="none"``.

    ``kind``: one of :data:`DAMPING_KINDS`. ``channels``: per-channel λ of that length (``None``
    for a scalar). ``lam``: the constant for ``"fixed"``. ``k_init``: override of the (lo, hi)
    init range of k. ``depth``: network depth, selects the paper's 164-layer init.
    ``form``: block form for ``"fixed"``/``"sigmoid"`` (default ``"in"``); ``"in"`` and
    ``"lambda_in"`` have their own form fixed.
    """
    check_damping_args(kind, lam=lam, k_init=k_init, form=form)
    if kind == "none":
        return None
    if kind == "fixed":
        assert lam is not None
        return FixedDamping(lam, channels=channels, form=form or "in")
    if kind == "in":
        return InDamping(k_init, channels=channels, depth=depth)
    if kind == "lambda_in":
        return LambdaInDamping(k_init, channels=channels, depth=depth)
    return SigmoidDamping(k_init, channels=channels, depth=depth, form=form or "in")
