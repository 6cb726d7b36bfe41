"""Paper B experiments, one module each: Fig. 1 (:mod:`.depth_sweep`), Fig. 2 (:mod:`.long_time`),
trained weights against layer (:mod:`.weights`), the ReLU counter-example (:mod:`.relu`) and
Table 1 (:mod:`.table1`); shared data/model builders, records and the cell runner in
:mod:`.common`, plots in :mod:`resode.ode.plots`.

Every experiment has a typed config, independent *cells* (picklable, ``to_dict``/``from_dict``,
run in parallel processes and cached by :func:`run_cells`), a pure ``*_combine`` that returns a
result dataclass with its curves and its judged claims (``result.judgements()``), a
``write(result, out_dir)`` for PNG + JSON + CSV + Markdown/HTML, and a function that does all of
it (:func:`depth_sweep`, :func:`long_time`, :func:`weights_against_layer`,
:func:`relu_counterexample`, :func:`cifar_grid`).

Note: ``resode.ode.experiments.depth_sweep`` and ``.long_time`` are both a module and (as package
attributes) the function of that name; import from the module with
``from resode.ode.experiments.depth_sweep import ...``.
"""

from __future__ import annotations

from typing import Any

from resode.ode.experiments.common import GDConfig, Record, cell_key, run_cells
from resode.ode.experiments.depth_sweep import (
    BOUND_CLAIM,
    CONVERGENCE_CLAIM,
    DEPTH_CLAIMS,
    GAP_CLAIM,
    DepthCell,
    DepthSweepConfig,
    DepthSweepResult,
    ReferenceCell,
    depth_claim,
    depth_sweep,
    depth_sweep_cell,
    depth_sweep_combine,
    depth_sweep_reference_cell,
    slope_gap_judgement,
)
from resode.ode.experiments.long_time import (
    DECAY_CLAIM,
    RATE_CLAIM,
    LongTimeCell,
    LongTimeConfig,
    LongTimeResult,
    decay_exponent,
    long_time,
    long_time_cell,
    long_time_combine,
)
from resode.ode.experiments.relu import (
    RELU_CLAIM,
    ReluCell,
    ReluCounterexampleConfig,
    ReluResult,
    relu_cell,
    relu_combine,
    relu_counterexample,
    relu_scalar_train,
)
from resode.ode.experiments.table1 import (
    ACCURACY_CLAIM,
    PAPER_TABLE1,
    SMOOTHER_CLAIM,
    CifarConfig,
    Table1Cell,
    Table1Result,
    cifar_grid,
    paper_says_smooth,
    table1_cell,
    table1_combine,
)
from resode.ode.experiments.weights import (
    WEIGHT_CLAIMS,
    WeightsCell,
    WeightsConfig,
    WeightsResult,
    weights_against_layer,
    weights_cell,
    weights_combine,
)

__all__ = [
    "ACCURACY_CLAIM",
    "BOUND_CLAIM",
    "CONVERGENCE_CLAIM",
    "DECAY_CLAIM",
    "DEPTH_CLAIMS",
    "GAP_CLAIM",
    "PAPER_TABLE1",
    "RATE_CLAIM",
    "RELU_CLAIM",
    "SMOOTHER_CLAIM",
    "WEIGHT_CLAIMS",
    "CifarConfig",
    "DepthCell",
    "DepthSweepConfig",
    "DepthSweepResult",
    "GDConfig",
    "LongTimeCell",
    "LongTimeConfig",
    "LongTimeResult",
    "Record",
    "ReferenceCell",
    "ReluCell",
    "ReluCounterexampleConfig",
    "ReluResult",
    "Table1Cell",
    "Table1Result",
    "WeightsCell",
    "WeightsConfig",
    "WeightsResult",
    "cell_key",
    "cifar_grid",
    "conv_smoothness",
    "decay_exponent",
    "depth_claim",
    "depth_sweep",
    "depth_sweep_cell",
    "depth_sweep_combine",
    "depth_sweep_reference_cell",
    "long_time",
    "long_time_cell",
    "long_time_combine",
    "paper_says_smooth",
    "relu_cell",
    "relu_combine",
    "relu_counterexample",
    "relu_scalar_train",
    "run_cells",
    "slope_gap_judgement",
    "table1_cell",
    "table1_combine",
    "weights_against_layer",
    "weights_cell",
    "weights_combine",
]


def __getattr__(name: str) -> Any:
    if name == "conv_smoothness":  # moved to resode.ode.measures (imports torch)
        from resode.ode.measures import conv_smoothness

        return conv_smoothness
    raise AttributeError(f"module 'resode.ode.experiments' has no attribute {name!r}")
