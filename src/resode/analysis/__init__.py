"""Why damping helps: Lyapunov stability, feature drift, loss landscapes and learned λ.

* :mod:`resode.analysis.stability` — per-block amplification, σ_max of block Jacobians,
  cumulative products, feature drift (:func:`analyze_stability`).
* :mod:`resode.analysis.landscape` — input- and parameter-space loss landscapes
  (:func:`analyze_landscape`).
* :mod:`resode.analysis.coefficients` — learned λ per block and its training trajectory.
* :mod:`resode.analysis.plots` — matplotlib (Agg) figures of all of the above.
"""

from resode.analysis.coefficients import (
    LambdaReport,
    LambdaTrajectory,
    lambda_report,
    lambda_trajectory,
    load_history,
    model_lambdas,
)
from resode.analysis.landscape import (
    LandscapeConfig,
    LandscapeResult,
    analyze_landscape,
    filter_normalized_direction,
    input_directions,
    input_landscape_1d,
    input_landscape_2d,
    parameter_landscape,
)
from resode.analysis.stability import (
    StabilityConfig,
    StabilityResult,
    analyze_stability,
    block_amplification,
    block_sigma_max,
    feature_drift,
)

__all__ = [
    "LambdaReport",
    "LambdaTrajectory",
    "LandscapeConfig",
    "LandscapeResult",
    "StabilityConfig",
    "StabilityResult",
    "analyze_landscape",
    "analyze_stability",
    "block_amplification",
    "block_sigma_max",
    "feature_drift",
    "filter_normalized_direction",
    "input_directions",
    "input_landscape_1d",
    "input_landscape_2d",
    "lambda_report",
    "lambda_trajectory",
    "load_history",
    "model_lambdas",
    "parameter_landscape",
]
