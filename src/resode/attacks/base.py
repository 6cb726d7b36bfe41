"""Common machinery of the adversarial attacks (torchattacks-style callables).

An attack is built once, ``attack = PGD(model, eps=8/255)``, and called on batches,
``x_adv = attack(images, labels)``. Images are pixels in [0, 1] (the model normalises inside), so
every returned image satisfies ``0 ≤ x_adv ≤ 1`` and ``‖x_adv − x‖_p ≤ ε`` around the *clean*
input ``x`` (p = ∞ or 2).

What an attack guarantees about the model
-----------------------------------------
During the call the model is put in eval mode and its parameters get ``requires_grad=False`` (so
no parameter gradient is ever computed or accumulated: the backward pass only produces ∂L/∂x).
Afterwards the ``training`` flag of *every* submodule and the ``requires_grad`` flag of every
parameter are restored exactly; parameter values and existing ``.grad`` tensors are never
touched. Gradient computations run under ``torch.enable_grad()`` and outside inference mode, so an
attack may be called from inside ``torch.no_grad()`` or ``torch.inference_mode()``.

Objective and success
---------------------
Untargeted attacks ascend the cross-entropy ``CE(f(x'), y)``; targeted ones ascend
``−CE(f(x'), t)``. A sample is *fooled* when ``argmax f(x') ≠ y`` (untargeted) or
``argmax f(x') = t`` (targeted).

Early stopping (``early_stop=True``, the default, as in AutoAttack)
--------------------------------------------------------------------
The attack is run exactly as without early stopping, sample by sample, except that a sample stops
at the first point of its trajectory at which it is fooled and that point is returned. The
trajectory starts with the clean input (a sample the model already gets wrong is returned
unchanged), then each iterate of each restart in order. Random numbers (random starts) are drawn
for the whole batch and for every restart whether or not a sample is still active (so a generator
shared across batches advances by the same amount for every model), and in eval mode every
sample's computation is independent of the others, so an active sample follows the very same
iterates as in a run with ``early_stop=False``. Consequence (tested): a sample counted robust
with early stopping was never fooled at any iterate, hence is also robust for the full run;
accuracy under early stopping is ≤ accuracy of the full run, and never weaker, while skipping the
work on samples that are already misclassified. The returned image of a fooled sample is the
first fooling iterate rather than the final (highest-loss) one; use ``early_stop=False`` when the
adversarial images themselves (not the accuracy) are what you need.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from resode.errors import ResodeError

NORMS = ("Linf", "L2")


@contextmanager
def frozen_eval(model: nn.Module, *, channels_last: bool = False) -> Iterator[nn.Module]:
    """Eval mode and ``requires_grad=False`` inside the block; every flag restored afterwards.

    ``channels_last=True`` also lays every 4-D parameter and buffer out in the channels-last
    memory format inside the block (same values, different strides: the CPU convolution kernels
    are faster on it) and puts the original tensors back afterwards, so the model leaves the
    block with the very same storage it came in with.
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    relaid: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        if channels_last:
            for t in (*model.parameters(), *model.buffers()):
                if t.dim() == 4 and not t.is_contiguous(memory_format=torch.channels_last):
                    relaid.append((t, t.data))
                    t.data = t.data.contiguous(memory_format=torch.channels_last)
        yield model
    finally:
        for t, original in relaid:
            t.data = original
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


def wants_channels_last(model: nn.Module, x: torch.Tensor) -> bool:
    """Automatic layout choice: channels-last for image batches on the CPU with a conv model.

    Measured on a ResNet-20 (``benchmarks/bench_attacks.py``): a forward+backward pass with
    respect to the input is faster in channels-last on the CPU; on GPUs the choice is left
    to the user (fp32 cuDNN gains little).
    """
    return x.ndim == 4 and x.device.type == "cpu" and any(p.dim() == 4 for p in model.parameters())


def model_device(model: nn.Module) -> torch.device:
    """Device of the first parameter (or buffer) of ``model``; CPU for a stateless model."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def check_eps(eps: float, norm: str) -> float:
    """ε must be a finite number ≥ 0; for L∞ in pixel space it must also be ≤ 1."""
    if norm not in NORMS:
        raise ResodeError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps):
        raise ResodeError(f"eps must be a finite number, got {eps!r}")
    eps = float(eps)
    if eps < 0 or (norm == "Linf" and eps > 1):
        raise ResodeError(
            f"eps = {eps:g} is outside [0, 1]: L∞ perturbations are in [0, 1] pixel units "
            f"(write 8/255 ≈ {8 / 255:.4f}, not 8)"
            if eps > 1
            else f"eps = {eps:g} must be ≥ 0"
        )
    return eps


def per_sample_norm(x: torch.Tensor, norm: str) -> torch.Tensor:
    """‖x_i‖_∞ or ‖x_i‖_2 of each sample (first dimension)."""
    flat = x.reshape(x.shape[0], -1)
    if norm == "Linf":
        return flat.abs().amax(dim=1) if flat.shape[1] else flat.new_zeros(x.shape[0])
    return flat.norm(dim=1)


class Attack:
    """Base class: validation, device, model freezing, objective, early stopping helpers.

    Subclasses implement :meth:`_perturb` on tensors already on :attr:`device`.
    """

    name = "attack"

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float,
        norm: str = "Linf",
        targeted: bool = False,
        early_stop: bool = True,
        seed: int | None = 0,
        device: torch.device | str | None = None,
        channels_last: bool | None = None,
    ) -> None:
        self.model = model
        #: memory format of the computation (not of the result): ``None`` = automatic
        #: (:func:`wants_channels_last`), ``True``/``False`` force it
        self.channels_last = None if channels_last is None else bool(channels_last)
        self.norm = norm
        self.eps = check_eps(eps, norm)
        self.targeted = bool(targeted)
        self.early_stop = bool(early_stop)
        self.seed = seed
        self.device = torch.device(device) if device is not None else model_device(model)
        #: samples × forward+backward passes and samples × forward-only passes since construction
        #: (a machine-independent measure of the work early stopping saves)
        self.gradient_evaluations = 0
        self.forward_evaluations = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(eps={self.eps:.5g}, norm={self.norm}, "
            f"targeted={self.targeted}, early_stop={self.early_stop})"
        )

    # ------------------------------------------------------------------ public entry point
    def __call__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        target_labels: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        active: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Adversarial versions of ``images`` (same shape, dtype and device as ``images``).

        ``target_labels`` (targeted attacks): the classes to reach; if omitted the least likely
        class of the clean prediction is used. ``generator`` drives the random starts; when
        ``None`` a generator seeded with ``seed`` is used (``seed=None``: the global RNG).

        ``active`` (bool, one per image; the robustness cascade): only these samples are
        attacked, the others are returned unchanged (the caller already knows them fooled). The
        caller vouches that the active samples are classified correctly on the clean input (its
        own clean pass), so the attack skips its early-stopping clean pass. Attacks with
        ``masks_inactive`` (FGSM, IFGSM, PGD, APGD, transfer) still draw their random numbers
        for the whole batch, so an active sample gets the result it gets without ``active`` (up
        to the rounding of kernels run on a different batch size); the others run on the
        subset.
        """
        if generator is None and self.seed is not None:
            generator = torch.Generator().manual_seed(int(self.seed))
        with torch.inference_mode(False):
            x, y = self._check_inputs(images, labels)
            act = self._check_active(active, x)
            cl = self.channels_last
            if cl is None:
                cl = wants_channels_last(self.model, x)
            if cl and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with frozen_eval(self.model, channels_last=bool(cl)):
                t = None
                if self.targeted:
                    t = self._targets(x, target_labels)
                elif target_labels is not None:
                    raise ResodeError(
                        "target_labels given to an untargeted attack; pass targeted=True"
                    )
                # an empty batch has nothing to attack: every attack returns it unchanged
                if x.shape[0] == 0:
                    adv = x.clone()
                elif act is None:
                    adv = self._perturb(x, y, t, generator)
                elif self.masks_inactive:  # draws its random numbers even with nothing active
                    self._active = act
                    try:
                        adv = self._perturb(x, y, t, generator)
                    finally:
                        self._active = None
                elif not bool(act.any()):
                    adv = x.clone()
                else:
                    idx = act.nonzero().squeeze(1)
                    adv = x.clone()
                    adv[idx] = self._perturb(
                        x[idx], y[idx], None if t is None else t[idx], generator
                    )
        fmt = (
            torch.channels_last
            if images.ndim == 4
            and not images.is_contiguous()
            and images.is_contiguous(memory_format=torch.channels_last)
            else torch.contiguous_format
        )
        return adv.detach().to(images.device).contiguous(memory_format=fmt)

    #: True when :meth:`_perturb` honours ``active`` itself (random numbers drawn for the batch)
    masks_inactive = False
    _active: torch.Tensor | None = None

    def _check_active(self, active: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
        if active is None:
            return None
        if not torch.is_tensor(active) or active.dtype != torch.bool or active.shape != x.shape[:1]:
            raise ResodeError(f"active must be a boolean tensor of shape ({x.shape[0]},)")
        return active.to(self.device)

    def initial_done(
        self, x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        """Samples finished before the first step: the inactive ones (``active`` given), else,
        with early stopping, those fooled at the clean input (iterate 0); else none."""
        if self._active is not None:
            return ~self._active
        if self.early_stop:
            logits = self.logits(x0)
            self._check_classes(logits, y)
            return self.fooled(logits, y, t)
        return torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)

    def _perturb(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        t: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _check_inputs(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.is_tensor(images) or not images.is_floating_point() or images.ndim < 2:
            raise ResodeError("images must be a floating-point tensor (N, ...) in [0, 1]")
        if not torch.is_tensor(labels) or labels.shape != images.shape[:1]:
            raise ResodeError(
                f"labels must be a tensor of shape ({images.shape[0]},), one class per image"
            )
        x = images.detach().to(self.device).clone()
        y = labels.detach().to(self.device, dtype=torch.long)
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ResodeError(
                "attacks work in pixel space: images must lie in [0, 1] (the model normalises "
                f"inside); got range [{x.min().item():.3g}, {x.max().item():.3g}]"
            )
        if y.numel() and y.min() < 0:
            raise ResodeError("labels must be class indices ≥ 0")
        return x, y

    def _targets(self, x: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        if target_labels is not None:
            if target_labels.shape != x.shape[:1]:
                raise ResodeError(f"target_labels must have shape ({x.shape[0]},)")
            return target_labels.detach().to(self.device, dtype=torch.long)
        return self.logits(x).argmin(dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Forward pass without autograd (for predictions only)."""
        self.forward_evaluations += int(x.shape[0])
        with torch.no_grad():
            return self.model(x)

    def _check_classes(self, logits: torch.Tensor, y: torch.Tensor) -> None:
        if logits.ndim != 2:
            raise ResodeError(f"the model must return logits (N, classes), got {logits.shape}")
        if y.numel() and int(y.max()) >= logits.shape[1]:
            raise ResodeError(
                f"label {int(y.max())} out of range for a model with {logits.shape[1]} classes"
            )

    def objective(
        self, logits: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None
    ) -> torch.Tensor:
        """Per-sample loss the attack ascends: CE(f, y), or −CE(f, t) when targeted."""
        if t is not None:
            return -F.cross_entropy(logits, t, reduction="none")
        return F.cross_entropy(logits, y, reduction="none")

    def fooled(self, logits: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        """Boolean per sample: prediction ≠ y (untargeted) or = t (targeted)."""
        pred = logits.argmax(dim=1)
        return pred == t if t is not None else pred != y

    def loss_and_grad(
        self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(per-sample objective, logits, ∂Σ objective/∂x); no parameter gradients."""
        self.gradient_evaluations += int(x.shape[0])
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            logits = self.model(xg)
            self._check_classes(logits, y)
            loss = self.objective(logits, y, t)
            (grad,) = torch.autograd.grad(loss.sum(), xg)
        return loss.detach(), logits.detach(), grad

    def project(self, x_adv: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Onto {‖x' − x0‖ ≤ ε} around the clean x0, then the box [0, 1] (stays in both)."""
        if self.norm == "Linf":
            x_adv = torch.minimum(torch.maximum(x_adv, x0 - self.eps), x0 + self.eps)
        else:
            delta = x_adv - x0
            n = per_sample_norm(delta, "L2").clamp_min(1e-12)
            factor = (self.eps / n).clamp(max=1.0).view(-1, *([1] * (x0.ndim - 1)))
            x_adv = x0 + delta * factor
        # clipping to [0, 1] moves every coordinate towards x0 ∈ [0, 1]: |δ_i| only shrinks
        return x_adv.clamp(0.0, 1.0)

    def step(self, x: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
        """Steepest ascent step of size α: sign(g) for L∞, g/‖g‖₂ for L2."""
        if self.norm == "Linf":
            return x + alpha * grad.sign()
        n = per_sample_norm(grad, "L2").clamp_min(1e-12)
        return x + alpha * grad / n.view(-1, *([1] * (x.ndim - 1)))

    def random_start(self, x0: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Uniform sample of the ε-ball around x0 (clipped to [0, 1]); drawn for the whole batch.

        L∞: δ ~ U[−ε, ε]^d. L2: δ = ε·u^{1/d}·g/‖g‖ with g ~ N(0, I), u ~ U[0, 1].
        """
        gdev = generator.device if generator is not None else x0.device
        shape = x0.shape
        if self.norm == "Linf":
            u = torch.rand(shape, generator=generator, device=gdev, dtype=x0.dtype)
            delta = (2 * u - 1) * self.eps
        else:
            g = torch.randn(shape, generator=generator, device=gdev, dtype=x0.dtype)
            r = torch.rand(shape[0], generator=generator, device=gdev, dtype=x0.dtype)
            d = max(1, x0[0].numel()) if x0.shape[0] else 1
            radius = self.eps * r.pow(1.0 / d)
            n = per_sample_norm(g, "L2").clamp_min(1e-12)
            delta = g * (radius / n).view(-1, *([1] * (x0.ndim - 1)))
        return self.project(x0 + delta.to(x0.device), x0)
