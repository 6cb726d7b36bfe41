"""The configuration of ``resode reproduce``: one typed config per part, nested in one job config.

A preset (``resode/presets/reproduce/<name>.yaml``) is a set of overrides of these defaults; the
command line reaches every key with a dotted flag, e.g. ``--paper-a.training.epochs 20`` or
``--paper-a.robustness.eps 4/255 8/255`` (pixel values accept fractions everywhere). Paper A
nests the library's own configs (training overrides, :class:`RobustnessConfig`, the analyses'
configs) instead of restating their keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from resode.analysis.landscape import LandscapeConfig
from resode.analysis.stability import StabilityConfig
from resode.config import Config, option
from resode.errors import ConfigError
from resode.grid.options import ExecutorOptions  # executor, workers, threads, slurm_*
from resode.robustness.config import RobustnessConfig
from resode.training.presets import TrainOverrides

#: paper A's evaluation: the library's RobustnessConfig with the values ``resode reproduce``
#: needs where they differ from ``resode robustness``'s: every test image of the seeded subset
#: (``n_samples``), batches of 500, the masking checks on
PAPER_A_ROBUSTNESS = RobustnessConfig(n_samples=None, batch_size=500, checks=True)

#: the analyses' defaults (digits: the largest default attack ε, 16/255, as drift ε and radius)
PAPER_A_STABILITY = StabilityConfig(n_samples=128, batch_size=64, power_iters=20, eps=16 / 255)
PAPER_A_LANDSCAPE = LandscapeConfig(n_samples=128, batch_size=128, grid=11, input_radius=16 / 255)

#: keys of the nested library configs that the job sets from its own keys (every cell the same):
#: dotted key → the job's key to use instead
JOB_KEYS = {
    "robustness.dataset": "paper_a.dataset",
    "robustness.data_root": "paper_a.data_root",
    "robustness.image_size": "paper_a.image_size",
    "robustness.seed": "seed",
    "robustness.device": "device",
    "robustness.threads": "threads",
    "robustness.surrogate": "the other models of the same seed (the transfer wave)",
    "stability.seed": "seed",
    "landscape.seed": "seed",
}


@dataclass
class PaperAConfig(Config):
    """Paper A: ResNet vs damped ResNets, several seeds each, on an image data set.

    The training, the evaluation and the analyses are the library's own configs, nested: a
    cell trains ``training`` (a train preset with overrides), evaluates with ``robustness``
    (:class:`~resode.robustness.RobustnessConfig`, as ``resode robustness`` does) and analyses
    with ``stability`` / ``landscape``; the job sets the keys of :data:`JOB_KEYS` itself."""

    enabled: bool = option(True, "run paper A (ResNet vs In-ResNet vs λ-In-ResNet)")
    dataset: str = option("digits", "image data set (digits, cifar10, cifar100)")
    data_root: str | None = option(None, "folder holding CIFAR (full-scale presets)")
    image_size: int | None = option(None, "resize images to this size (None: data set default)")
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
    training: TrainOverrides = option(
        TrainOverrides(), "the training: a train preset and the keys changed in it"
    )
    robustness: RobustnessConfig = option(
        PAPER_A_ROBUSTNESS,
        "the evaluation (resode robustness's options): n_samples = the seeded test subset, "
        "eps, attacks, steps, step_rule, corruptions, checks …",
    )
    attack_subset: int | None = option(
        None, "attack only the first N evaluated test images (None: all of them)", min=1
    )
    stability: StabilityConfig = option(
        PAPER_A_STABILITY,
        "the stability analysis (resode stability's options; eps: the drift's adversarial ε)",
    )
    landscape: LandscapeConfig = option(
        PAPER_A_LANDSCAPE,
        "the input-landscape analysis (resode landscape's options; input_radius: the scan's r)",
    )

    def check(self) -> None:
        if self.enabled and not self.models:
            raise ConfigError("paper_a.models must list at least one model")
        if not self.seeds:
            raise ConfigError("paper_a.seeds must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"paper_a.seeds must be distinct, got {self.seeds}")
        fresh = {"robustness": RobustnessConfig(), "stability": StabilityConfig()}
        fresh["landscape"] = LandscapeConfig()
        for key, instead in JOB_KEYS.items():
            part, name = key.split(".")
            if getattr(getattr(self, part), name) != getattr(fresh[part], name):
                raise ConfigError(
                    f"paper_a.{key} is set by the job for every cell; use {instead} instead"
                )


@dataclass
class SweepConfig(Config):
    """Paper A's interpolation: a pre-act ResNet with the same fixed λ in every damped block.

    The sweep trains and evaluates as paper A does (``paper_a.training``,
    ``paper_a.robustness``) with four keys replaced: ``epochs`` (None: paper A's), ``attacks``,
    ``severities`` and ``eps`` (None: paper A's); AutoAttack and the masking checks are off and
    no analyses run."""

    enabled: bool = option(True, "run the fixed-λ sweep")
    lambdas: list[float] = option([0.0, 0.25, 0.5, 0.75, 1.0], "fixed λ values", min=0.0, max=1.0)
    depth: int = option(20, "depth of the swept pre-act ResNet", min=8)
    seeds: list[int] = option([0], "seeds of every swept λ")
    epochs: int | None = option(None, "epochs (None: paper_a.training.epochs)", min=1)
    attacks: list[str] = option(["fgsm", "pgd"], "attacks evaluated in the sweep")
    eps: list[float] | None = option(
        None, "attack radii (None: paper_a.robustness.eps)", pixels=True
    )
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
    "JOB_KEYS",
    "ExecutorOptions",
    "PaperAConfig",
    "PaperBConfig",
    "ReproduceConfig",
    "SweepConfig",
    "Table1Config",
]
