"""Lyapunov-style stability of a residual classifier, block by block (paper A, A.2).

A damped block is the map g_n(h) = (1 − λ_n)·s_n(h) + f_n(h) with Jacobian
A_n = (1 − λ_n)·I + J_{f_n} (identity shortcut); damping shifts its spectrum by −λ_n. Measured in
eval mode (batch norm is then a fixed affine map, so every sample is processed independently):

* **amplification** a_n(h, δ) = ‖g_n(h + δ) − g_n(h)‖ / ‖δ‖ on real hidden states
  h = h_n(x) from ``model.hidden_states(x)``, for

  - a small *random* δ (Gaussian direction, ‖δ‖ = ``delta_scale``·‖h‖ per sample), and
  - δ along the *attack direction* at that layer: δ ∝ ∇_{h_n} L(head(h_B), y), the gradient of
    the cross-entropy w.r.t. the hidden state h_n (the first-order steepest-ascent direction
    of the loss in feature space, the direction an attacker pushes h_n), with the same relative
    size. Samples whose gradient is exactly zero fall back to the random direction;
* **σ_max(A_n)**, the top singular value of the block Jacobian at h, per sample, by power
  iteration on AᵀA with ``torch.func.jvp`` (A v) and ``torch.func.vjp`` (Aᵀ u), batched over
  samples (the batched Jacobian is block diagonal in eval mode);
* the **cumulative product over depth** ∏_{m ≤ n} of each per-block quantity, reported as the
  product of the per-block *geometric* means over samples, which equals the geometric mean over
  samples of the per-sample products. For the random direction this is *neither a bound nor a
  propagated perturbation*: each factor measures a fresh random δ at block n, not the image of
  the perturbation that reached it, so it can sit far below the growth of a perturbation that
  is actually carried from h_0 to h_B (the attack direction can grow while random δ shrink).
  Only ∏ σ_max(A_n) bounds ‖Δh_B‖/‖δh_0‖ (to first order, sub-multiplicativity of the
  spectral norm); the drifts D_B below are perturbations actually propagated to h_B;
* **feature drift** D_n = ‖h_n(x + η) − h_n(x)‖ / ‖h_n(x)‖ for n = 0..B, η Gaussian noise
  (x + η clipped to [0, 1]) and η adversarial (FGSM or PGD from :mod:`resode.attacks`);
* the **scale-normalised gain** G_n = a_n / ρ_n with ρ_n = ‖h_{n+1}‖/‖h_n‖ per sample: the growth
  of the *relative* perturbation ‖Δh_{n+1}‖/‖h_{n+1}‖ ÷ ‖δ‖/‖h_n‖. The amplification a_n mixes
  how a block stretches perturbations with how it rescales the state (damping shrinks ‖h‖, so a
  smaller ∏ a_n can be a smaller state rather than a more stable map); G_n and the drift D_n are
  invariant to that scale, and ∏_{m≤n} G_m = ∏ a_m / (‖h_{n+1}‖/‖h_0‖) (geometric means).

Per-sample norms are Euclidean norms over all of a sample's features. Block-level measurements
run in float64 by default (a double copy of the model) so the finite-difference quotients are
accurate to ~1e-12 rather than ~1e-4.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from resode.config import Config, option
from resode.errors import ResodeError
from resode.report import write_csv, write_json

Block = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class StabilityConfig(Config):
    """Settings of :func:`analyze_stability` (shared by ``resode stability``)."""

    n_samples: int = option(64, "number of test images analysed", min=1)
    batch_size: int = option(64, "images per forward/backward pass", min=1)
    delta_scale: float = option(
        1e-3, "probe size ‖δ‖ relative to ‖h_n‖ per sample", min=0.0, min_exclusive=True
    )
    power_iters: int = option(30, "maximum power iterations for σ_max", min=1)
    power_tol: float = option(
        1e-4, "stop power iteration when every σ changed by less than this (relative)", min=0.0
    )
    noise_std: float = option(
        0.08, "σ of the Gaussian input noise η (pixels in [0, 1])", min=0.0, pixels=True
    )
    attack: str = option("fgsm", "adversarial η for the drift", choices=("fgsm", "pgd"))
    eps: float = option(8 / 255, "L∞ radius of the adversarial η, e.g. 8/255", min=0.0, pixels=True)
    pgd_steps: int = option(10, "PGD steps (when attack = pgd)", min=1)
    float64: bool = option(True, "run block-level measurements on a float64 copy of the model")
    seed: int = option(0, "seed of the random directions and noise")


# ----------------------------------------------------------------------------------------------
# per-sample helpers


def _norms(t: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of every sample of a batch: ‖t_i‖ over all non-batch dimensions."""
    return t.flatten(1).norm(dim=1)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def scale_to_relative(d: torch.Tensor, h: torch.Tensor, rel: float) -> torch.Tensor:
    """δ_i = rel·‖h_i‖·d_i/‖d_i‖ (per sample; a zero ‖h_i‖ uses ‖δ_i‖ = rel)."""
    hn = _norms(h)
    hn = torch.where(hn > 0, hn, torch.ones_like(hn))
    return d * _bcast(rel * hn / _norms(d), d)


def random_direction(
    h: torch.Tensor, rel: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A Gaussian direction per sample with ‖δ_i‖ = rel·‖h_i‖."""
    d = torch.randn(h.shape, generator=generator, dtype=h.dtype, device="cpu").to(h.device)
    return scale_to_relative(d, h, rel)


def block_amplification(block: Block, h: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """a_i = ‖g(h_i + δ_i) − g(h_i)‖ / ‖δ_i‖ for every sample i (shape (N,))."""
    with torch.no_grad():
        diff = block(h + delta) - block(h)
    return _norms(diff) / _norms(delta)


def block_sigma_max(
    block: Block,
    h: torch.Tensor,
    *,
    iters: int = 50,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Top singular value of the Jacobian of ``block`` at every sample of ``h`` (shape (N,)).

    Power iteration on AᵀA: v ← Aᵀ(A v)/‖Aᵀ(A v)‖, σ = ‖A v‖ with ‖v‖ = 1, A v by
    ``torch.func.jvp`` and Aᵀ u by ``torch.func.vjp``, all samples at once (the map must treat
    samples independently, true for a block in eval mode). Stops after ``iters`` iterations or
    when every σ changed by less than ``tol`` relatively. σ converges from below.
    """
    from torch.func import jvp, vjp

    h = h.detach()
    v = torch.randn(h.shape, generator=generator, dtype=h.dtype, device="cpu").to(h.device)
    v = v / _bcast(_norms(v), v)
    _, vjp_fn = vjp(block, h)
    sigma = torch.zeros(h.shape[0], dtype=h.dtype, device=h.device)
    for _ in range(iters):
        _, u = jvp(block, (h,), (v,))
        new_sigma = _norms(u)
        (w,) = vjp_fn(u)
        wn = _norms(w)
        if bool((wn == 0).any()):  # zero Jacobian for a sample: σ = 0, keep v
            wn = torch.where(wn > 0, wn, torch.ones_like(wn))
        v = w / _bcast(wn, w)
        converged = bool(
            ((new_sigma - sigma).abs() <= tol * new_sigma.abs().clamp_min(1e-300)).all()
        )
        sigma = new_sigma
        if converged:
            break
    return sigma.detach()


def attack_directions(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Hidden states [h_0..h_B] and the loss gradients [∇_{h_0}L, …, ∇_{h_{B−1}}L].

    L = Σ_i CE(head(h_B)_i, y_i) (a sum, so each sample's gradient is its own).
    """
    with torch.enable_grad():
        states = [model.embed(x).detach().requires_grad_(True)]
        for block in model.blocks:
            states.append(block(states[-1]))
        loss = F.cross_entropy(model.head(states[-1]), y, reduction="sum")
        grads = torch.autograd.grad(loss, states[:-1], allow_unused=True)
    grads = tuple(torch.zeros_like(s) if g is None else g for s, g in zip(states, grads))
    return [s.detach() for s in states], [g.detach() for g in grads]


def feature_drift(model: nn.Module, x: torch.Tensor, x_perturbed: torch.Tensor) -> torch.Tensor:
    """D[i, n] = ‖h_n(x'_i) − h_n(x_i)‖ / ‖h_n(x_i)‖ for n = 0..B (shape (N, B + 1))."""
    with torch.no_grad():
        clean = model.hidden_states(x)
        pert = model.hidden_states(x_perturbed)
    cols = []
    for a, b in zip(clean, pert):
        denom = _norms(a)
        denom = torch.where(denom > 0, denom, torch.ones_like(denom))
        cols.append(_norms(b - a) / denom)
    return torch.stack(cols, dim=1)


def _geomean(t: torch.Tensor) -> float:
    """exp(mean(log t)) over samples (0 if any entry is 0)."""
    if bool((t <= 0).any()):
        return 0.0
    return float(torch.exp(torch.log(t).mean()))


# ----------------------------------------------------------------------------------------------
# result


@dataclass
class StabilityResult:
    """Per-block stability numbers of one model (lists indexed by block n = 0..B−1; drift by
    layer n = 0..B). ``*_mean``/``*_std`` are arithmetic over samples, ``*_geomean`` geometric;
    ``cum_*`` are cumulative products of the geometric means."""

    model: str
    blocks: list[str]
    lambdas: list[float | None]
    amp_random_mean: list[float]
    amp_random_std: list[float]
    amp_random_geomean: list[float]
    amp_attack_mean: list[float]
    amp_attack_std: list[float]
    amp_attack_geomean: list[float]
    sigma_max_mean: list[float]
    sigma_max_std: list[float]
    sigma_max_geomean: list[float]
    cum_amp_random: list[float]
    cum_amp_attack: list[float]
    cum_sigma_max: list[float]
    norm_ratio_geomean: list[float]
    gain_random_geomean: list[float]
    gain_attack_geomean: list[float]
    cum_gain_random: list[float]
    cum_gain_attack: list[float]
    drift_noise_mean: list[float]
    drift_noise_std: list[float]
    drift_adv_mean: list[float]
    drift_adv_std: list[float]
    n_samples: int
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StabilityResult:
        return cls(**data)

    def to_json(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    def rows(self) -> list[dict[str, Any]]:
        """One row per layer n = 0..B: block metrics of block n (empty for n = B) and drift."""
        per_block = [
            "amp_random_mean",
            "amp_random_std",
            "amp_attack_mean",
            "amp_attack_std",
            "sigma_max_mean",
            "sigma_max_std",
            "cum_amp_random",
            "cum_amp_attack",
            "cum_sigma_max",
            "norm_ratio_geomean",
            "gain_random_geomean",
            "gain_attack_geomean",
            "cum_gain_random",
            "cum_gain_attack",
        ]
        out = []
        for n in range(len(self.blocks) + 1):
            row: dict[str, Any] = {"model": self.model, "layer": n}
            row["block"] = self.blocks[n] if n < len(self.blocks) else ""
            lam = self.lambdas[n] if n < len(self.blocks) else None
            row["lambda"] = "" if lam is None else lam
            for key in per_block:
                row[key] = getattr(self, key)[n] if n < len(self.blocks) else ""
            for key in ("drift_noise_mean", "drift_noise_std", "drift_adv_mean", "drift_adv_std"):
                row[key] = getattr(self, key)[n]
            out.append(row)
        return out

    def to_csv(self, path: str | Path) -> Path:
        return write_csv(path, self.rows())


# ----------------------------------------------------------------------------------------------
# driver


def block_lambdas(model: nn.Module) -> list[float | None]:
    """Mean λ_n of every block (``None`` for a block without damping)."""
    out: list[float | None] = []
    for block in model.blocks:
        get = getattr(block, "interpolation_coefficient", None)
        lam = get() if get is not None else None
        out.append(None if lam is None else float(lam.detach().float().mean()))
    return out


def make_adversarial(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    kind: Literal["fgsm", "pgd"] | str,
    eps: float,
    *,
    steps: int = 10,
) -> torch.Tensor:
    """Adversarial images from :mod:`resode.attacks` (FGSM, or PGD with α = 2.5·ε/steps).

    Early stopping is off: every sample is perturbed, also those already misclassified, so the
    drift measures the map, not the attack's success."""
    try:
        from resode import attacks
    except ImportError as exc:  # pragma: no cover - attacks land with their own helper
        raise ResodeError(
            "the adversarial feature drift needs resode.attacks, which is not installed in this "
            "checkout; update resode"
        ) from exc
    if kind == "fgsm":
        attack = attacks.FGSM(model, eps=eps, early_stop=False)
    elif kind == "pgd":
        attack = attacks.PGD(model, eps=eps, steps=steps, alpha=2.5 * eps / steps, early_stop=False)
    else:
        raise ResodeError(f"unknown attack {kind!r}; use 'fgsm' or 'pgd'")
    return attack(x, y).detach()


def analyze_stability(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: StabilityConfig | None = None,
    *,
    name: str = "model",
    adversarial: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = False,
) -> StabilityResult:
    """All stability measurements of ``model`` (a ``ResidualClassifier``) on ``images``.

    ``adversarial(model, x, y) -> x_adv`` overrides the attack of ``config`` (FGSM/PGD from
    :mod:`resode.attacks`). The model is put in eval mode and restored to its previous mode.
    """
    from tqdm import tqdm

    cfg = config or StabilityConfig()
    for attr in ("embed", "blocks", "head", "hidden_states"):
        if not hasattr(model, attr):
            raise ResodeError(
                f"stability analysis needs a resode ResidualClassifier (missing .{attr}); "
                "got " + type(model).__name__
            )
    n = min(cfg.n_samples, images.shape[0])
    images, labels = images[:n], labels[:n]
    was_training = model.training
    model.eval()
    acc = _Accumulator(len(model.blocks))
    try:
        ana = copy.deepcopy(model).double() if cfg.float64 else model
        ana.eval()
        gen = torch.Generator().manual_seed(cfg.seed)
        starts = range(0, n, cfg.batch_size)
        for s in tqdm(starts, desc=f"stability {name}", disable=not progress, leave=False):
            x = images[s : s + cfg.batch_size]
            y = labels[s : s + cfg.batch_size]
            _measure_blocks(ana, x, y, cfg, gen, acc)
            _measure_drift(model, x, y, cfg, gen, acc, adversarial)
    finally:
        model.train(was_training)
    return acc.result(name, block_lambdas(model), n, cfg)


@dataclass
class _Accumulator:
    """Per-block, per-sample measurements collected batch by batch."""

    blocks: int
    amp_r: list[list[torch.Tensor]] = field(default_factory=list)
    amp_a: list[list[torch.Tensor]] = field(default_factory=list)
    sig: list[list[torch.Tensor]] = field(default_factory=list)
    ratio: list[list[torch.Tensor]] = field(default_factory=list)
    drift_n: list[torch.Tensor] = field(default_factory=list)
    drift_a: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        for lst in (self.amp_r, self.amp_a, self.sig, self.ratio):
            lst.extend([] for _ in range(self.blocks))

    def result(
        self, name: str, lambdas: list[float | None], n: int, cfg: StabilityConfig
    ) -> StabilityResult:
        ar, aa, sm = _stats(self.amp_r), _stats(self.amp_a), _stats(self.sig)
        gain_r = _stats([[a / r for a, r in zip(ac, rc)] for ac, rc in zip(self.amp_r, self.ratio)])
        gain_a = _stats([[a / r for a, r in zip(ac, rc)] for ac, rc in zip(self.amp_a, self.ratio)])
        dn = torch.cat(self.drift_n).double()
        da = torch.cat(self.drift_a).double()
        return StabilityResult(
            model=name,
            blocks=[f"blocks.{i}" for i in range(self.blocks)],
            lambdas=lambdas,
            amp_random_mean=ar[0],
            amp_random_std=ar[1],
            amp_random_geomean=ar[2],
            amp_attack_mean=aa[0],
            amp_attack_std=aa[1],
            amp_attack_geomean=aa[2],
            sigma_max_mean=sm[0],
            sigma_max_std=sm[1],
            sigma_max_geomean=sm[2],
            cum_amp_random=_cumprod(ar[2]),
            cum_amp_attack=_cumprod(aa[2]),
            cum_sigma_max=_cumprod(sm[2]),
            norm_ratio_geomean=_stats(self.ratio)[2],
            gain_random_geomean=gain_r[2],
            gain_attack_geomean=gain_a[2],
            cum_gain_random=_cumprod(gain_r[2]),
            cum_gain_attack=_cumprod(gain_a[2]),
            drift_noise_mean=dn.mean(0).tolist(),
            drift_noise_std=dn.std(0, unbiased=False).tolist(),
            drift_adv_mean=da.mean(0).tolist(),
            drift_adv_std=da.std(0, unbiased=False).tolist(),
            n_samples=n,
            config=cfg.to_dict(),
        )


def _stats(chunks: list[list[torch.Tensor]]) -> tuple[list[float], list[float], list[float]]:
    """Arithmetic mean, std and geometric mean over samples, per block."""
    cat = [torch.cat(c).double() for c in chunks]
    mean = [float(c.mean()) for c in cat]
    std = [float(c.std(unbiased=False)) for c in cat]
    geo = [_geomean(c) for c in cat]
    return mean, std, geo


def _measure_blocks(
    ana: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: StabilityConfig,
    gen: torch.Generator,
    acc: _Accumulator,
) -> None:
    """Amplification (random and attack δ), σ_max and the norm ratio of every block."""
    dev = next(iter(ana.parameters())).device
    dtype = next(iter(ana.parameters())).dtype
    states, grads = attack_directions(ana, x.to(dev).to(dtype), y.to(dev))
    for i, block in enumerate(ana.blocks):
        h = states[i]
        d_rand = random_direction(h, cfg.delta_scale, gen)
        g = grads[i]
        zero = _norms(g) == 0
        if bool(zero.any()):
            g = torch.where(_bcast(zero, g), d_rand, g)
        d_att = scale_to_relative(g, h, cfg.delta_scale)
        acc.amp_r[i].append(block_amplification(block, h, d_rand).cpu())
        acc.amp_a[i].append(block_amplification(block, h, d_att).cpu())
        acc.sig[i].append(
            block_sigma_max(block, h, iters=cfg.power_iters, tol=cfg.power_tol, generator=gen).cpu()
        )
        denom = _norms(h)
        acc.ratio[i].append((_norms(states[i + 1]) / torch.where(denom > 0, denom, 1.0)).cpu())


def _measure_drift(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: StabilityConfig,
    gen: torch.Generator,
    acc: _Accumulator,
    adversarial: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> None:
    """Feature drift under Gaussian noise and the adversarial η, on the model's own dtype."""
    dev = next(iter(model.parameters())).device
    x, y = x.to(dev), y.to(dev)
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(dev) * cfg.noise_std
    acc.drift_n.append(feature_drift(model, x, (x + noise).clamp(0.0, 1.0)).cpu())
    if adversarial is not None:
        x_adv = adversarial(model, x, y)
    else:
        x_adv = make_adversarial(model, x, y, cfg.attack, cfg.eps, steps=cfg.pgd_steps)
    model.eval()
    acc.drift_a.append(feature_drift(model, x, x_adv.detach()).cpu())


def _cumprod(values: list[float]) -> list[float]:
    out, acc = [], 1.0
    for v in values:
        acc *= v
        out.append(acc if math.isfinite(acc) else float("inf"))
    return out
