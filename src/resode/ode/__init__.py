"""Paper B (Marion et al., ICLR 2024): scaled deep residual networks and their neural-ODE limit.

* :mod:`resode.ode.scaled_resnet` — the scaled residual MLP of eq. (3), weights stacked over depth;
* :mod:`resode.ode.init` — tied / i.i.d. / Gaussian-process / user-function initialisations;
* :mod:`resode.ode.train` — full-batch GD with the depth-scaled rate and a per-iteration record;
* :mod:`resode.ode.measures` — smoothness slope + verdict, L²-in-s distances, neural-ODE solves;
* :mod:`resode.ode.experiments` — Fig. 1, Fig. 2, the ReLU counter-example and Table 1.
"""

from resode.ode.init import INIT_SCHEMES, initialize
from resode.ode.measures import (
    SlopeFit,
    fit_loglog_slope,
    l2_in_s_distance,
    lag_smoothness,
    neural_ode_output,
    ode_discrepancy,
    smoothness_verdict,
)
from resode.ode.scaled_resnet import ACTIVATIONS, ScaledResidualMLP, weight_differences
from resode.ode.train import GDResult, loss_and_grads, train_gd

__all__ = [
    "ACTIVATIONS",
    "INIT_SCHEMES",
    "GDResult",
    "ScaledResidualMLP",
    "SlopeFit",
    "fit_loglog_slope",
    "initialize",
    "l2_in_s_distance",
    "lag_smoothness",
    "loss_and_grads",
    "neural_ode_output",
    "ode_discrepancy",
    "smoothness_verdict",
    "train_gd",
    "weight_differences",
]
