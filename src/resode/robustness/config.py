"""The options of a robustness evaluation (``resode robustness``, ``resode reproduce``).

Default ε (L∞, pixel units): CIFAR {1, 2, 4, 8}/255, the paper's protocol (``papers.md`` A.4).
Digits {2, 4, 8, 16}/255: the 8×8 digits have 17 grey levels, one level = 1/16 ≈ 16/255, so the
range spans 1/8 of a native grey level up to one level. L2 defaults: CIFAR {0.125, 0.25, 0.5}
(0.5 the common L2 budget), digits {0.25, 0.5, 1.0} (same per-pixel budget: digits has 256 values
per image against CIFAR's 3072, so ×√12 ≈ 3.5 less energy at equal ε).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resode.attacks import (
    attack_entry,
    by_strength,
    canonical_attack_name,
    check_eps,
    default_attacks,
    paper_attacks,
    white_box_attacks,
)
from resode.config import Config, option
from resode.corruptions import SEVERITIES, canonical_name, list_corruptions
from resode.errors import ConfigError, ResodeError

DEFAULT_EPS_LINF = {
    "digits": [2 / 255, 4 / 255, 8 / 255, 16 / 255],
    "cifar": [1 / 255, 2 / 255, 4 / 255, 8 / 255],
}
DEFAULT_EPS_L2 = {"digits": [0.25, 0.5, 1.0], "cifar": [0.125, 0.25, 0.5]}


def corruption_names(names: list[str], source: str) -> list[str]:
    """Canonical, distinct corruption names: the four generated noises, or (``source`` =
    ``files``) any of the 19 released CIFAR-C files; ``all`` expands to every one of them."""
    from resode.data.cifar_c import corruption_file_name
    from resode.data.cifar_c_files import RELEASED_CORRUPTIONS

    out: list[str] = []
    for c in names:
        if c.strip().lower() == "all":
            expanded = list(RELEASED_CORRUPTIONS) if source == "files" else list_corruptions()
        elif source == "files":
            expanded = [corruption_file_name(c.strip().lower())]
        else:
            try:
                expanded = [canonical_name(c)]
            except ResodeError as exc:
                raise ConfigError(
                    f"{exc}; the other CIFAR-C corruptions need corruption_source = files"
                ) from exc
        out += [e for e in expanded if e not in out]
    return out


def known_name(key: str, name: str) -> str:
    """The registered name of attack ``name`` (a one-line ConfigError naming ``key`` otherwise)."""
    try:
        return canonical_attack_name(name)
    except ResodeError as exc:
        raise ConfigError(f"{key} = {name!r}: {exc}") from exc


def white_box_name(key: str, name: str) -> str:
    """The registered name of white-box attack ``name`` (a one-line ConfigError otherwise)."""
    canonical = known_name(key, name)
    if not attack_entry(canonical).white_box:
        raise ConfigError(
            f"{key} = {name!r}: use --autoattack for AutoAttack and --surrogate CKPT for the "
            f"transfer attack; {key} takes {', '.join(white_box_attacks())}"
        )
    return canonical


@dataclass
class RobustnessConfig(Config):
    """Options of ``resode robustness`` (shared by the CLI and :func:`run_robustness`)."""

    dataset: str | None = option(None, "data set (default: the one recorded in the checkpoint)")
    data_root: str | None = option(None, "folder holding the data sets (default: checkpoint's)")
    image_size: int | None = option(None, "resize images (default: the checkpoint's)", min=4)
    n_samples: int | None = option(
        1000, "evaluate on a seeded random subset of N test images (None: all)", min=1
    )
    batch_size: int = option(256, "evaluation batch size", min=1)
    attacks: list[str] = option(
        default_attacks(),
        f"white-box attacks (run weakest first): {' '.join(white_box_attacks())} (or none)",
    )
    cascade: bool = option(
        True,
        "worst case as a cascade: at each ε an attack runs only on the points still robust (to the "
        "earlier attacks and to every attack at a smaller ε); same worst case, less work",
    )
    per_attack: list[str] = option(
        paper_attacks(),
        "attacks whose own accuracy is measured on every clean-correct point even in the cascade "
        "(the per-attack table; the transfer attack always); all, or none",
    )
    apgd_steps: int = option(100, "APGD-CE/APGD-DLR iterations (AutoAttack: 100)", min=1)
    norm: Literal["Linf", "L2"] = option("Linf", "threat model of the attacks")
    eps: list[float] | None = option(
        None,
        "attack radii in pixel units, e.g. 2/255 4/255 or 0.5 for L2 "
        "(default: CIFAR {1,2,4,8}/255, digits {2,4,8,16}/255)",
        pixels=True,
    )
    steps: int = option(20, "IFGSM/PGD iterations (0 would be no attack)", min=1)
    alpha: float | None = option(
        None,
        "IFGSM/PGD step size (default: 1/255 for L∞, 2.5·eps/steps for L2)",
        min=0.0,
        pixels=True,
    )
    step_rule: Literal["paper", "reach"] = option(
        "paper",
        "IFGSM/PGD step size when alpha is unset: paper = 1/255 (L∞; 2.5·ε/steps in L2); reach = "
        "max(1/255, 2.5·ε/steps), which can reach the ε-boundary for any ε",
    )
    restarts: int = option(1, "PGD random restarts (per-sample worst case kept)", min=1)
    early_stop: bool = option(True, "stop attacking a sample once it is misclassified")
    autoattack: bool = option(False, "also run standard AutoAttack (needs resode[autoattack])")
    checks: bool = option(
        False,
        "gradient-masking checks: flags, monotonicity, ε-sweep to zero accuracy, Square, transfer "
        "from every other checkpoint given (and --surrogate)",
    )
    surrogate: str | None = option(None, "surrogate checkpoint for a transfer attack")
    transfer_attack: str = option(
        "pgd", f"attack run on the surrogate: {' '.join(white_box_attacks())}"
    )
    corruptions: list[str] = option(
        list_corruptions(),
        "corruptions: generated noise gaussian_noise shot_noise impulse_noise speckle_noise; with "
        "corruption_source = files any of the 19 released CIFAR-C files; all = every one the "
        "source has; none",
    )
    severities: list[int] = option(list(SEVERITIES), "corruption severities", min=1, max=5)
    noise_strengths: list[float] = option(
        [1.0],
        "corruption strengths: 1 = the CIFAR-C levels; s > 1 scales them (σ·s, amount·s, c/s) "
        "for data on which CIFAR-C noise is too weak; reported as e.g. gaussian_noise×3",
        min=0.0,
        min_exclusive=True,
    )
    corruption_source: Literal["generated", "files"] = option(
        "generated", "generate the noise, or read the released CIFAR-10-C/100-C .npy files"
    )
    seed: int = option(0, "seed of the subset, the corruption noise and the attack starts", min=0)
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    threads: int | None = option(None, "CPU threads for torch (default: torch's choice)", min=1)

    def check(self) -> None:
        if [a.lower() for a in self.attacks] == ["none"]:
            self.attacks = []
        if [c.lower() for c in self.corruptions] == ["none"]:
            self.corruptions = []
        attacks = []
        for a in self.attacks:
            name = white_box_name("attacks", a)
            if name not in attacks:
                attacks.append(name)
        self.attacks = by_strength(attacks)  # the cascade's order: weakest first
        self.transfer_attack = white_box_name("transfer_attack", self.transfer_attack)
        low = [a.lower() for a in self.per_attack]
        if low == ["all"]:
            self.per_attack = list(self.attacks)
        elif low == ["none"]:
            self.per_attack = []
        else:
            self.per_attack = [known_name("per_attack", a) for a in self.per_attack]
        self.corruptions = corruption_names(self.corruptions, self.corruption_source)
        self.severities = sorted(set(self.severities))
        self.noise_strengths = list(dict.fromkeys(self.noise_strengths))
        if self.corruption_source == "files" and self.noise_strengths != [1.0]:
            raise ConfigError(
                "noise_strengths other than [1] need generated noise; the released CIFAR-C "
                "files hold the CIFAR-C levels only (use corruption_source = generated)"
            )
        if self.eps is not None:
            if not self.eps:
                raise ConfigError("eps must list at least one radius")
            self.eps = sorted({check_eps(e, self.norm) for e in self.eps})
        if self.alpha is not None and self.alpha <= 0:
            raise ConfigError("alpha must be > 0")

    def step_size(self, eps: float) -> float | None:
        """α of the iterative attacks at radius ε: ``alpha`` if given, else the ``step_rule``
        (None: the attack's own default, 1/255 in L∞ and 2.5·ε/steps in L2)."""
        if self.alpha is not None:
            return self.alpha
        if self.step_rule == "reach":
            return max(1 / 255, 2.5 * eps / max(self.steps, 1))
        return None

    def resolved_eps(self, dataset: str) -> list[float]:
        """``eps`` if given, else the default list for ``dataset`` and ``norm``."""
        if self.eps is not None:
            return list(self.eps)
        table = DEFAULT_EPS_LINF if self.norm == "Linf" else DEFAULT_EPS_L2
        return list(table["digits" if dataset == "digits" else "cifar"])

    def reported_alone(self, attack: str) -> bool:
        """Whether ``attack``'s own accuracy is measured (on every clean-correct point at every
        ε): always without the cascade; in it for the ``per_attack`` ones and the transfer attack
        from ``surrogate`` (its own accuracy is the masking evidence)."""
        return not self.cascade or attack in self.per_attack or attack.startswith("transfer")


__all__ = [
    "DEFAULT_EPS_L2",
    "DEFAULT_EPS_LINF",
    "RobustnessConfig",
    "corruption_names",
    "white_box_name",
]
