"""Gradient-masking checks (Carlini et al. 2019; Croce & Hein 2020, AutoAttack's flags).

A robustness number only counts when a strong adversary could not break it. Each check returns a
:class:`CheckResult` (numbers, pass/fail, reason); a failed check is a *red flag* and turns the
model's robustness verdicts into ``inconclusive`` (:func:`resode.reproduce.claims.apply_checks`).

=================  ==========================================================================
``flags``          AutoAttack's flags: zero input gradients, randomness (two identical forward
                   passes differ), softmax outputs (every row ≥ 0 and summing to 1)
``monotonicity``   per attack, accuracy non-increasing in ε; the iterative attack (PGD/IFGSM)
                   never weaker than FGSM at the same ε
``eps_sweep``      PGD at ε_max·2ᵏ up to 1/2: robust accuracy must reach 0 %
``square``         gradient-free Square attack at ε_max must not beat the white-box worst case
``transfer-<s>``   PGD crafted on surrogate ``s`` must not beat the white-box worst case
=================  ==========================================================================
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resode.attacks import make_attack
from resode.evalset import derive_seed
from resode.robustness.config import RobustnessConfig

#: relative change of the logits between two identical calls that counts as randomness (float32
#: rounding of nondeterministic kernels is ~1e-7 of the logit scale; injected noise is far larger)
RANDOMNESS_TOL = 1e-5


@dataclass
class CheckResult:
    """One masking check: its name, the numbers it measured, pass/fail and why."""

    name: str
    passed: bool
    reason: str
    numbers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(d["name"], bool(d["passed"]), d["reason"], dict(d.get("numbers", {})))


def red_flags(checks: list[CheckResult]) -> list[str]:
    """The reasons of the failed checks (empty: no red flag)."""
    return [f"{c.name}: {c.reason}" for c in checks if not c.passed]


def _acc(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(1) == y


def _attacked_ok(
    name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int, **kw: Any
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    adv = make_attack(name, model, eps=eps, **kw)(x, y, generator=g)
    return _acc(model, adv, y)


def flag_checks(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> CheckResult:
    """Zero gradients, randomness, softmax outputs (AutoAttack's ``check_*`` flags).

    The zero-gradient flag reads the gradient of the logit margin z_y − max_{j≠y} z_j, which is
    zero only where the network's input gradient is (masking, e.g. a rounding step). The
    cross-entropy gradient, AutoAttack's reading, is also zero in float32 wherever the model is
    fully confident (softmax rounds to exactly 1), which is not masking: it is recorded
    (``ce_zero_grad_fraction``) and does not raise the flag.
    """
    mode = model.training
    model.eval()
    try:
        xg = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = model(xg)
            g_ce, g_margin = (
                torch.autograd.grad(loss, xg, retain_graph=True)[0]
                for loss in (F.cross_entropy(out, y, reduction="sum"), _margin(out, y).sum())
            )
        ce_zero = _zero_fraction(g_ce)
        zero = _zero_fraction(g_margin)
        with torch.no_grad():
            again = model(x)
        # relative to the logit scale: nondeterministic GPU kernels differ by float rounding
        scale = 1.0 + float(out.detach().abs().max())
        varies = float((again - out.detach()).abs().max()) / scale
        sums = out.detach().sum(1)
        softmax = bool((out.detach() >= 0).all()) and bool(
            torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
        )
    finally:
        model.train(mode)
    problems = []
    if zero > 0:
        problems.append(f"{100 * zero:.1f} % of the images have a zero input gradient")
    if varies > RANDOMNESS_TOL:
        problems.append(f"the output varies across identical calls (by up to {varies:.3g})")
    if softmax:
        problems.append("the outputs look like probabilities (≥ 0, rows sum to 1), not logits")
    return CheckResult(
        "flags",
        not problems,
        "; ".join(problems) or "non-zero gradients, deterministic, logits",
        {
            "zero_grad_fraction": zero,
            "ce_zero_grad_fraction": ce_zero,
            "max_output_change": varies,
            "softmax": float(softmax),
        },
    )


def _margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """m_i = z_{y_i} − max_{j≠y_i} z_j per image: its input gradient never saturates."""
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return true - other


def _zero_fraction(g: torch.Tensor) -> float:
    """The fraction of images whose input gradient is exactly zero."""
    return float((g.reshape(g.shape[0], -1).abs().amax(1) == 0).float().mean())


def monotonicity_check(attacks: dict[str, dict[str, float]], eps_labels: list[str]) -> CheckResult:
    """Accuracy non-increasing in ε for each attack; iterative ≤ single-step at every ε."""
    problems, numbers = [], {}
    for atk, accs in attacks.items():
        vals = [accs[e] for e in eps_labels if e in accs]
        for i in range(1, len(vals)):
            if vals[i] > vals[i - 1]:
                problems.append(f"{atk} rises from {vals[i - 1]:.3f} to {vals[i]:.3f} with ε")
    for it in ("pgd", "ifgsm"):
        if it in attacks and "fgsm" in attacks:
            for e in eps_labels:
                a, b = attacks[it].get(e), attacks["fgsm"].get(e)
                if a is not None and b is not None:
                    numbers[f"{it}-fgsm@{e}"] = a - b
                    if a > b:
                        problems.append(f"{it} ({a:.3f}) weaker than FGSM ({b:.3f}) at ε = {e}")
    return CheckResult(
        "monotonicity",
        not problems,
        "; ".join(problems) or "non-increasing in ε, iterative never weaker than FGSM",
        numbers,
    )


def run_checks(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: RobustnessConfig,
    *,
    dataset: str,
    attacks: dict[str, dict[str, float]],
    robust: dict[str, float],
    device: torch.device | str = "cpu",
    surrogates: list[tuple[str, nn.Module]] | None = None,
    square_queries: int = 100,
) -> list[CheckResult]:
    """Every masking check of one model on ``images`` (the attacked subset); ``attacks`` and
    ``robust`` are the white-box per-attack and worst-case accuracies by ε label."""
    from resode.robustness.results import eps_label

    dev = torch.device(device)
    model = model.to(dev)
    x, y = images.to(dev), labels.to(dev)
    eps_list = config.resolved_eps(dataset)
    labels_eps = [eps_label(e, config.norm) for e in eps_list]
    out = [flag_checks(model, x, y), monotonicity_check(attacks, labels_eps)]
    if not eps_list or x.shape[0] == 0:
        return out
    e_max = max(eps_list)
    wb = robust.get(eps_label(e_max, config.norm), math.nan)
    # (d) ε-sweep with PGD: doubling ε until 1/2 (L∞) or 16·ε_max (L2)
    top = 0.5 if config.norm == "Linf" else 16 * e_max
    sweep, e = {}, e_max
    while True:
        e = min(2 * e, top)
        ok = _attacked_ok(
            "pgd",
            model,
            x,
            y,
            e,
            derive_seed(config.seed, "sweep", e),
            norm=config.norm,
            steps=config.steps,
            alpha=2.5 * e / max(config.steps, 1),
        )
        sweep[f"{e:.4g}"] = float(ok.float().mean())
        if e >= top or sweep[f"{e:.4g}"] == 0:
            break
    last = list(sweep.values())[-1]
    out.append(
        CheckResult(
            "eps_sweep",
            last == 0,
            f"robust accuracy reaches 0 % at ε = {list(sweep)[-1]}"
            if last == 0
            else f"robust accuracy is still {100 * last:.1f} % at ε = {list(sweep)[-1]}",
            sweep,
        )
    )
    # (c) gradient-free
    if config.norm == "Linf" and x.ndim == 4:
        ok = _attacked_ok(
            "square", model, x, y, e_max, derive_seed(config.seed, "square"), queries=square_queries
        )
        sq = float(ok.float().mean())
        out.append(
            CheckResult(
                "square",
                not sq < wb,
                f"Square {100 * sq:.1f} % vs white-box worst case {100 * wb:.1f} % at ε_max",
                {"square": sq, "white_box": wb},
            )
        )
    # (b) transfer
    for name, sur in surrogates or []:
        sur = sur.to(dev)
        ok = _attacked_ok(
            "transfer",
            model,
            x,
            y,
            e_max,
            derive_seed(config.seed, "transfer", name),
            surrogate=sur,
            norm=config.norm,
            steps=config.steps,
        )
        tr = float(ok.float().mean())
        out.append(
            CheckResult(
                f"transfer-{name}",
                not tr < wb,
                f"transfer from {name} {100 * tr:.1f} % vs white-box {100 * wb:.1f} % at ε_max",
                {"transfer": tr, "white_box": wb},
            )
        )
    return out


__all__ = ["CheckResult", "flag_checks", "monotonicity_check", "red_flags", "run_checks"]
