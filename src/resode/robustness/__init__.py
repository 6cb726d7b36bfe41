"""Robustness of trained models to stochastic noise and adversarial attacks (paper A, A.4).

==============  ================================================================================
module          job
==============  ================================================================================
``config``      :class:`RobustnessConfig` (attacks, ε, step rule, corruptions, severities, seed)
``evaluate``    :func:`evaluate_models`: clean / noise / attack / worst-case accuracy, paired
``results``     :class:`ModelResult`, :class:`RobustnessResult` (JSON, CSV, Markdown)
``run``         :func:`run_robustness`: checkpoints → the shared test subset → report files
==============  ================================================================================
"""

from resode.evalset import derive_seed, subset_indices
from resode.robustness.config import (
    DEFAULT_EPS_L2,
    DEFAULT_EPS_LINF,
    RobustnessConfig,
)
from resode.robustness.evaluate import (
    attack_specs,
    corrupted_images,
    evaluate_models,
    evaluation_device,
    load_corruption_set,
    predict_correct,
)
from resode.robustness.results import ModelResult, RobustnessResult, eps_label
from resode.robustness.run import run_robustness

__all__ = [
    "DEFAULT_EPS_L2",
    "DEFAULT_EPS_LINF",
    "ModelResult",
    "RobustnessConfig",
    "RobustnessResult",
    "attack_specs",
    "corrupted_images",
    "derive_seed",
    "eps_label",
    "evaluate_models",
    "evaluation_device",
    "load_corruption_set",
    "predict_correct",
    "run_robustness",
    "subset_indices",
]
