"""Paper B (Marion et al., ICLR 2024): scaled deep residual networks and their neural-ODE limit.

* :mod:`resode.ode.scaled_resnet` — the scaled residual MLP of eq. (3), weights stacked over depth;
* :mod:`resode.ode.init` — tied / i.i.d. / Gaussian-process / user-function initialisations;
* :mod:`resode.ode.train` — full-batch GD with the depth-scaled rate and a per-iteration record;
* :mod:`resode.ode.measures` — smoothness slope + verdict, L²-in-s distances, neural-ODE solves;
* :mod:`resode.ode.experiments` — Fig. 1, Fig. 2, the ReLU counter-example and Table 1.

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
    "SlopeFit": "resode.ode.measures",
    "fit_loglog_slope": "resode.ode.measures",
    "l2_in_s_distance": "resode.ode.measures",
    "lag_smoothness": "resode.ode.measures",
    "neural_ode_output": "resode.ode.measures",
    "ode_discrepancy": "resode.ode.measures",
    "smoothness_verdict": "resode.ode.measures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'resode.ode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
