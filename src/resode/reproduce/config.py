"""The configuration of ``resode reproduce``: one typed config per part, nested in one job config.

A preset (``resode/presets/reproduce/<name>.yaml``) is a set of overrides of these defaults; the
command line reaches every key with a dotted flag, e.g. ``--paper-a.training.epochs 20`` or
``--paper-a.robustness.eps 4/255 8/255`` (pixel values accept fractions everywhere). Paper A
nests the library's own configs (training overrides, :class:`RobustnessConfig`, the analyses'
configs) instead of restating their keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from resode.analysis.landscape import LandscapeConfig
from resode.analysis.stability import StabilityConfig
from resode.config import Config, option
from resode.errors import ConfigError
from resode.grid.options import ExecutorOptions  # executor, workers, threads, slurm_*
from resode.ode.experiments.protocol import experiments
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
class PaperBJob(Config):
    """The job-level keys of paper B; :data:`PaperBConfig` adds one nested config per registered
    experiment (:mod:`resode.ode.experiments.protocol`): ``paper_b.depth_sweep`` *is* a
    :class:`~resode.ode.experiments.DepthSweepConfig`, starting from the experiment's short
    design (its ``reproduce`` keys). Every seed draws its own data and initialisation."""

    enabled: bool = option(True, "run paper B")
    experiments: list[str] = option(
        [e.name for e in experiments() if e.in_default],
        "the registered experiments to run: "
        + ", ".join(e.name for e in experiments())
        + " (table1 needs CIFAR-10)",
    )
    inits: list[str] = option(
        ["tied", "iid"],
        "initialisations compared: one depth sweep each (and the gap claim between tied and "
        "iid), and the inits of the weights run",
    )
    reference_iid: bool = option(
        True,
        "depth sweep: train the reference depth for the i.i.d. init too (its distances are "
        "reported; the convergence claim is the tied init's)",
    )

    def check(self) -> None:
        known = {e.name for e in experiments()}
        unknown = [name for name in self.experiments if name not in known]
        if unknown:
            raise ConfigError(
                f"paper_b.experiments: {', '.join(unknown)} not registered; use some of "
                f"{', '.join(sorted(known))}"
            )
        for init in self.inits:
            if init not in ("tied", "iid", "gp"):
                raise ConfigError(f"paper_b.inits: {init!r} is not one of tied, iid, gp")
        for exp in experiments():
            nested, fresh = getattr(self, exp.name), exp.config()
            for key, instead in exp.job_keys.items():
                if getattr(nested, key) != getattr(fresh, key):
                    raise ConfigError(
                        f"paper_b.{exp.name}.{key} is set by the job for every cell; use "
                        f"{instead} instead"
                    )


def _paper_b_config() -> type[PaperBJob]:
    """:class:`PaperBJob` with one field per registered experiment, ``paper_b.<name>``."""
    fields = [
        (e.name, e.config, option(e.reproduce_config(), f"paper B: {e.title} ({e.help})"))
        for e in experiments()
    ]
    cls = dataclasses.make_dataclass("PaperBConfig", fields, bases=(PaperBJob,))
    cls.__module__, cls.__doc__ = __name__, PaperBJob.__doc__
    return cls


PaperBConfig = _paper_b_config()


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
    paper_b: PaperBConfig = option(PaperBConfig(), "paper B: its registered experiments")


__all__ = [
    "JOB_KEYS",
    "ExecutorOptions",
    "PaperAConfig",
    "PaperBConfig",
    "PaperBJob",
    "ReproduceConfig",
    "SweepConfig",
]
