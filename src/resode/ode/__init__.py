"""Paper B (Marion et al., ICLR 2024): scaled deep residual networks and their neural-ODE limit.

* :mod:`resode.ode.scaled_resnet` — the scaled residual MLP of eq. (3), weights stacked over depth;
* :mod:`resode.ode.init` — tied / i.i.d. / Gaussian-process / user-function initialisations;
* :mod:`resode.ode.train` — full-batch GD with the depth-scaled rate and a per-iteration record;
* :mod:`resode.ode.measures` — smoothness slopes (judged through :mod:`resode.verdicts`), lag
  smoothness, L²-in-s distances and block projections, conv-net smoothness, neural-ODE solves;
* :mod:`resode.ode.experiments` — one module per experiment: Fig. 1 (depth sweep), Fig. 2 (long
  time), trained weights against layer, the ReLU counter-example and Table 1; each a config,
  independent cells, a combine returning a result dataclass with its curves and verdicts, a writer;
* :mod:`resode.ode.plots` — the experiments' figures.

Names are imported lazily (PEP 562) so that the CLI can read the experiment configs without
importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ACTIVATIONS": "resode.ode.scaled_resnet",
    "ScaledResidualMLP": "resode.ode.scaled_resnet",
    "weight_differences": "resode.ode.scaled_resnet",
    "INIT_SCHEMES": "resode.ode.init",
    "initialize": "resode.ode.init",
    "GDResult": "resode.ode.train",
    "loss_and_grads": "resode.ode.train",
    "train_gd": "resode.ode.train",
    "LagSmoothness": "resode.ode.measures",
    "SlopeFit": "resode.ode.measures",
    "block_projection": "resode.ode.measures",
    "conv_smoothness": "resode.ode.measures",
    "fit_loglog_slope": "resode.ode.measures",
    "judge_slope": "resode.ode.measures",
    "l2_distance_to_projection": "resode.ode.measures",
    "l2_in_s_distance": "resode.ode.measures",
    "lag_smoothness": "resode.ode.measures",
    "neural_ode_output": "resode.ode.measures",
    "ode_discrepancy": "resode.ode.measures",
    "slope_label": "resode.ode.measures",
    "DepthSweepConfig": "resode.ode.experiments",
    "LongTimeConfig": "resode.ode.experiments",
    "WeightsConfig": "resode.ode.experiments",
    "ReluCounterexampleConfig": "resode.ode.experiments",
    "CifarConfig": "resode.ode.experiments",
    "depth_sweep": "resode.ode.experiments",
    "long_time": "resode.ode.experiments",
    "weights_against_layer": "resode.ode.experiments",
    "relu_counterexample": "resode.ode.experiments",
    "cifar_grid": "resode.ode.experiments",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'resode.ode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
