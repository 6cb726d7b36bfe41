"""The configuration of ``resode reproduce``: one typed config per part, nested in one job config.

A preset (``resode/presets/reproduce/<name>.yaml``) is a set of overrides of these defaults; the
command line reaches every key with a dotted flag, e.g. ``--paper-a.epochs 20`` or
``--paper-a.eps 4/255 8/255`` (pixel values accept fractions everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resode.config import Config, option
from resode.errors import ConfigError
from resode.grid.options import ExecutorOptions  # executor, workers, threads, slurm_*


@dataclass
class PaperAConfig(Config):
    """Paper A: ResNet vs damped ResNets, several seeds each, on an image data set."""

    enabled: bool = option(True, "run paper A (ResNet vs In-ResNet vs λ-In-ResNet)")
    dataset: str = option("digits", "image data set (digits, cifar10, cifar100)")
    data_root: str | None = option(None, "folder holding CIFAR (full-scale presets)")
    image_size: int | None = option(None, "resize images to this size (None: data set default)")
    train_preset: str = option("digits", "training recipe (a train preset)")
    models: list[str] = option(
        ["resnet20", "inresnet20", "lambda_inresnet20"],
        "registered models; the first is the baseline the others are compared with",
    )
    seeds: list[int] = option([0, 1, 2], "training seeds of every model")
    seed_batch: int = option(
        1,
        "train this many seeds of a model as one seed-stacked network (one grid task per group; "
        "each seed still has its own folder, checkpoint and result). 1: one task per seed. "
        "Float32 results of a group differ from 1's by rounding only; see the README",
        min=1,
    )
    epochs: int | None = option(None, "epochs (None: the training preset's)", min=1)
    batch_size: int | None = option(None, "batch size (None: the training preset's)", min=1)
    train_subset: int | None = option(None, "use only the first N training images", min=1)
    test_subset: int | None = option(None, "evaluate on a seeded subset of N test images", min=1)
    corruptions: list[str] = option(
        ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"],
        "corruptions: the four noises; with corruption_source = files any of the 19 released "
        "CIFAR-C files, or all",
    )
    severities: list[int] = option([1, 2, 3, 4, 5], "noise severities", min=1, max=5)
    noise_strengths: list[float] = option(
        [1.0],
        "noise strengths: 1 = the CIFAR-C levels; s > 1 scales them (labelled e.g. ×3); the "
        "noise claim is judged at the largest",
        min=0.0,
        min_exclusive=True,
    )
    attacks: list[str] = option(
        ["fgsm", "ifgsm", "pgd", "apgd-ce", "apgd-dlr"],
        "the declared white-box attack set (run weakest first; the names of `resode robustness "
        "--attacks`) or none; the robustness claim is judged on the per-point worst case over it",
    )
    apgd_steps: int = option(100, "APGD-CE/APGD-DLR iterations (AutoAttack: 100)", min=1)
    autoattack: bool = option(
        False,
        "add standard AutoAttack to the declared set (needs resode[autoattack]; runs last, on the "
        "points still robust)",
    )
    cascade: bool = option(
        True,
        "worst case as a cascade (stronger attacks and larger ε only on the points still "
        "robust; same worst case); FGSM, IFGSM and PGD are still run on every point (the table)",
    )
    eps: list[float] | None = option(
        None,
        "L∞ attack radii, e.g. 4/255 8/255 (None: the robustness default for the data set)",
        pixels=True,
    )
    attack_steps: int = option(20, "IFGSM/PGD iterations", min=1)
    step_rule: Literal["paper", "reach"] = option(
        "paper",
        "IFGSM/PGD step: paper = α 1/255; reach = max(1/255, 2.5·ε/steps), which reaches the "
        "ε-boundary for any ε",
    )
    early_stop: bool = option(
        True, "attacks stop on a sample once it is misclassified (never weaker; faster)"
    )
    corruption_source: Literal["generated", "files"] = option(
        "generated",
        "generated: the four CIFAR-10-C noises drawn here; files: the released CIFAR-10-C/100-C "
        ".npy files under data_root (cifar10/cifar100 only)",
    )
    checks: bool = option(
        True,
        "gradient-masking checks with every robustness claim (flags, monotonicity, ε-sweep to "
        "zero robust accuracy, Square, transfer from the other models of the same seed); a red "
        "flag makes the robustness verdict inconclusive",
    )
    attack_subset: int | None = option(
        None, "attack only the first N evaluated test images (None: all of them)", min=1
    )
    eval_batch_size: int = option(500, "evaluation batch size", min=1)
    analysis_samples: int = option(
        128, "test images for the stability and landscape analyses", min=1
    )
    power_iters: int = option(20, "power iterations for σ_max of the block Jacobians", min=1)
    analysis_float64: bool = option(
        True, "block-level stability measurements on a float64 copy (float32: ~4× faster)"
    )
    landscape_grid: int = option(11, "landscape grid points per axis", min=3)

    def check(self) -> None:
        if [a.strip().lower() for a in self.attacks] == ["none"]:
            self.attacks = []  # validated against the attack registry by RobustnessConfig
        if self.enabled and not self.models:
            raise ConfigError("paper_a.models must list at least one model")
        if not self.seeds:
            raise ConfigError("paper_a.seeds must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"paper_a.seeds must be distinct, got {self.seeds}")


@dataclass
class SweepConfig(Config):
    """Paper A's interpolation: a pre-act ResNet with the same fixed λ in every damped block."""

    enabled: bool = option(True, "run the fixed-λ sweep")
    lambdas: list[float] = option([0.0, 0.25, 0.5, 0.75, 1.0], "fixed λ values", min=0.0, max=1.0)
    depth: int = option(20, "depth of the swept pre-act ResNet", min=8)
    seeds: list[int] = option([0], "seeds of every swept λ")
    epochs: int | None = option(None, "epochs (None: as paper A)", min=1)
    attacks: list[str] = option(["fgsm", "pgd"], "attacks evaluated in the sweep")
    eps: list[float] | None = option(None, "attack radii (None: as paper A)", pixels=True)
    severities: list[int] = option([1, 3, 5], "noise severities in the sweep", min=1, max=5)

    def check(self) -> None:
        if self.enabled and not self.lambdas:
            raise ConfigError("sweep.lambdas must list at least one λ")


@dataclass
class PaperBConfig(Config):
    """Paper B on synthetic data: the depth sweep (Fig. 1), weights against layer, long time
    (Fig. 2), the ReLU counter-example. Every seed draws its own data and initialisation."""

    enabled: bool = option(True, "run paper B (synthetic depth sweep, long time)")
    depths: list[int] = option([2, 8, 32, 128, 512], "depths L of the sweep", min=1)
    iterations: int = option(100, "GD iterations T of the depth sweep", min=1)
    n: int = option(100, "depth sweep: samples n", min=1)
    d: int = option(16, "dimension d = q = d'", min=1)
    m: int = option(32, "depth sweep: width m", min=1)
    lr: float = option(1e-2, "depth sweep: base learning rate (residual rate L × this)", min=0.0)
    seeds: int = option(
        5,
        "independent networks per depth and init, each its own data draw (≥ 2 for a verdict)",
        min=1,
    )
    inits: list[str] = option(["tied", "iid"], "initialisations compared")
    reference_depth: int = option(
        0, "depth sweep: reference depth for the L²-in-s distances (0: skip)", min=0
    )
    reference_iid: bool = option(
        True,
        "depth sweep: train the reference depth for the i.i.d. init too (its distances are "
        "reported; the convergence claim is the tied init's)",
    )
    ode_check: bool = option(False, "depth sweep: compare with the neural ODE (dopri5) solve")
    float64: bool = option(False, "paper B in float64")
    weights_depth: int = option(64, "depth of the weights-against-layer networks", min=2)
    long_iterations: int = option(3000, "long-time run: GD iterations", min=1)
    long_n: int = option(50, "long-time run: samples n", min=1)
    long_m: int = option(64, "long-time run: width m", min=1)
    long_depth: int = option(64, "long-time run: depth L", min=2)
    long_lr: float = option(5e-3, "long-time run: base learning rate (rate L × this)", min=0.0)
    long_seeds: int = option(
        5, "long-time run: seeds (one task each, each its own data and init)", min=1
    )
    relu: bool = option(True, "run the ReLU counter-example (scalar net, seeds draw (x, Cx))")
    relu_depths: list[int] = option([4, 16, 64, 256], "ReLU counter-example: even depths", min=2)
    relu_iterations: int = option(3000, "ReLU counter-example: GD iterations", min=1)

    def check(self) -> None:
        if self.enabled and len(set(self.depths)) < 2:
            raise ConfigError("paper_b.depths needs at least two distinct depths to fit a slope")
        for init in self.inits:
            if init not in ("tied", "iid", "gp"):
                raise ConfigError(f"paper_b.inits: {init!r} is not one of tied, iid, gp")


@dataclass
class Table1Config(Config):
    """Paper B Table 1: the scaled conv net, activation × init, on CIFAR-10."""

    enabled: bool = option(False, "train the Table 1 grid (activation × init)")
    dataset: str = option("cifar10", "data set")
    data_root: str | None = option(None, "folder holding CIFAR-10")
    activations: list[str] = option(["identity", "gelu", "relu"], "activations")
    inits: list[str] = option(["tied", "iid"], "initialisations")
    seeds: int = option(5, "runs per cell, seeds seed.. (the paper: median of 5)", min=1)
    depth: int = option(256, "residual blocks L", min=4)
    epochs: int | None = option(None, "epochs (None: the training preset's 180)", min=1)
    train_subset: int | None = option(None, "use only the first N training images", min=1)
    test_subset: int | None = option(None, "use only the first N test images", min=1)
    image_size: int | None = option(None, "resize images", min=4)


@dataclass
class ReproduceConfig(ExecutorOptions):
    """Everything ``resode reproduce`` does; a preset is a set of overrides of these defaults."""

    preset: str = option("default", "name of the preset these values came from", cli=False)
    seed: int = option(
        0, "seed of the test subset, noise, attack starts and analysis directions", min=0
    )
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    paper_a: PaperAConfig = option(PaperAConfig(), "paper A")
    sweep: SweepConfig = option(SweepConfig(), "paper A: fixed-λ sweep")
    paper_b: PaperBConfig = option(PaperBConfig(), "paper B: synthetic experiments")
    table1: Table1Config = option(Table1Config(), "paper B: Table 1 (CIFAR-10)")


__all__ = [
    "ExecutorOptions",
    "PaperAConfig",
    "PaperBConfig",
    "ReproduceConfig",
    "SweepConfig",
    "Table1Config",
]
