"""``resode reproduce``: both papers' headline results as one job, one grid of tasks, one report.

==============  ==================================================================================
module          job
==============  ==================================================================================
``config``      :class:`ReproduceConfig`: executor options + nested paper_a / sweep / paper_b /
                table1 configs (presets: ``resode/presets/reproduce/*.yaml``)
``paper_a``     paper A as tasks (train + evaluate + analyse one model × seed; the λ sweep) and
                :func:`~resode.reproduce.paper_a.collect` → ``PaperAResult``
``paper_b``     paper B as tasks (depth sweep, weights, long time, Table 1) → ``PaperBResult``
``claims``      every claim judged by :mod:`resode.verdicts` on per-seed values
``figures``     the PNG figures
``report``      one writer per report section, in the order of ``SECTIONS``
``job``         :func:`run_reproduce`: tasks → executor → collect → claims → files
==============  ==================================================================================
"""

from __future__ import annotations

from typing import Any

from resode.reproduce.config import (
    PaperAConfig,
    PaperBConfig,
    PaperBJob,
    ReproduceConfig,
    SweepConfig,
)
from resode.reproduce.job import ReproduceResult, latest_run, run_reproduce


def get_preset(name: str, **overrides: Any) -> ReproduceConfig:
    """The :class:`ReproduceConfig` of reproduce preset ``name`` (or a YAML file) with overrides
    (nested configs take mappings: ``paper_a={"epochs": 2}``); see :mod:`resode.presets`."""
    from resode.presets import get_preset as _get

    cfg = _get(name, kind="reproduce", **overrides)
    assert isinstance(cfg, ReproduceConfig)
    return cfg


def list_presets() -> list[str]:
    from resode.presets import preset_names

    return preset_names("reproduce")


__all__ = [
    "PaperAConfig",
    "PaperBConfig",
    "PaperBJob",
    "ReproduceConfig",
    "ReproduceResult",
    "SweepConfig",
    "get_preset",
    "latest_run",
    "list_presets",
    "run_reproduce",
]
