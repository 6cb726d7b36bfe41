"""The experiment protocol of paper B: what an experiment declares, once, for every reader.

An experiment is one module under :mod:`resode.ode.experiments` that ends with::

    EXPERIMENT = register(Experiment(name="long_time", command="long-time", config=LongTimeConfig,
                                     cells=cells, combine=long_time_combine, write=write, ...))

and a preset folder ``presets/ode/<command>/`` (``paper.yaml``, ``short.yaml``). Everything else
reads the registry:

- ``resode ode <command>`` builds its sub-command from ``config`` and runs :func:`run_experiment`;
- ``resode reproduce`` nests ``config`` as ``paper_b.<name>`` (starting from ``reproduce``, the
  keys the job changes in the experiment's defaults), turns ``cells`` into grid tasks, then
  ``combine`` → a typed result with its judged claims → ``write`` (its files), ``summary``
  (its entry in ``results.json``) and ``report`` (its section of the report).

Cells are independent and seeded, so running them in any order, process or Slurm job gives the
same records; ``combine`` is a pure function of the config and the records in the cells' order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.config import Config
from resode.errors import ConfigError


@dataclass(frozen=True)
class Cell:
    """One independent unit of an experiment: ``fn(*args)`` returns a record.

    ``key`` names it within the experiment (``"L64"``, ``"seed3"``), ``cost`` is rough seconds on
    one thread (it only orders the work: the longest cells start first)."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cost: float = 0.0


#: where a cell keeps files of its own (Table 1's training runs): cell key → folder
FilesOf = Callable[[str], Path]


@dataclass(frozen=True)
class Experiment:
    """A registered paper-B experiment (see the module docstring for who reads what).

    ``cells(config, files_of)`` lists the cells; ``combine(config, records)`` the typed result
    (with ``judgements()``); ``write(result, folder)`` its PNG/JSON/CSV/Markdown files;
    ``summary(result)`` its JSON-able entry in ``results.json``; ``claim_text(name)`` the sentence
    of each claim it judges; ``report(rep, results, figures)`` its section of the ``resode
    reproduce`` report (``results``: variant → result, e.g. one depth sweep per initialisation;
    ``figures``: every figure the job made)."""

    name: str
    command: str
    title: str
    help: str
    config: type[Config]
    cells: Callable[[Any, FilesOf], list[Cell]]
    combine: Callable[[Any, Sequence[Any]], Any]
    write: Callable[[Any, Path], list[Path]]
    summary: Callable[[Any], Any]
    report: Callable[[Any, Mapping[str, Any], Mapping[str, Path]], None]
    output: str
    #: claim name → its sentence (None for a name the experiment does not judge)
    claim_text: Callable[[str], str | None] = lambda name: None
    order: int = 100
    #: keys ``resode reproduce`` changes in ``config``'s defaults (its short design)
    reproduce: Mapping[str, Any] = field(default_factory=dict)
    #: keys of ``config`` the job sets for every cell → the job's key to use instead
    job_keys: Mapping[str, str] = field(default_factory=dict)
    #: run by ``resode reproduce`` unless ``paper_b.experiments`` says otherwise
    in_default: bool = True

    def reproduce_config(self) -> Config:
        """``config`` with the :attr:`reproduce` keys: ``paper_b.<name>``'s default."""
        return self.config.from_dict(dict(self.reproduce))


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (its module calls this once, at import)."""
    if experiment.name in _REGISTRY and _REGISTRY[experiment.name] is not experiment:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    _REGISTRY[experiment.name] = experiment
    return experiment


def experiments() -> list[Experiment]:
    """Every registered experiment, in report order. Every module of the package is imported
    first (each registers its experiment), so a new experiment needs no line elsewhere."""
    import importlib
    import pkgutil

    import resode.ode.experiments as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda e: (e.order, e.name))


def get_experiment(name: str) -> Experiment:
    """The experiment registered as ``name`` (or with that ``resode ode`` command)."""
    for exp in experiments():
        if name in (exp.name, exp.command):
            return exp
    known = ", ".join(e.name for e in experiments())
    raise ConfigError(f"unknown paper-B experiment {name!r}; registered: {known}")


def run_experiment(
    experiment: Experiment,
    config: Any,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> Any:
    """Run every cell (in ``workers`` processes, cached under ``cache_dir``), combine, and write
    into ``out_dir`` when given: what ``resode ode <command>`` does."""
    from resode.ode.experiments.common import run_cells

    base = Path(out_dir) if out_dir is not None else Path(".")
    cells = experiment.cells(config, lambda key: base / key)
    calls = [(c.fn, c.args) for c in cells]
    records = run_cells(calls, workers=workers, cache_dir=cache_dir, progress=progress)
    result = experiment.combine(config, records)
    if out_dir is not None:
        experiment.write(result, Path(out_dir))
    return result


def claim_texts(*claims: Mapping[str, str]) -> Callable[[str], str | None]:
    """The ``claim_text`` of an experiment whose claims are ``{"name": ..., "text": ...}``."""
    texts = {c["name"]: c["text"] for c in claims}
    return texts.get


def gd_seconds(work: float) -> float:
    """Rough seconds of a GD cell from L·T·S·n·m (one thread, measured on the 2-core development
    machine: L = 1024, T = 500, 5 seeds, n = 100, m = 32 took ≈ 90 s); only orders the cells."""
    return 1.1e-8 * work


__all__ = [
    "Cell",
    "Experiment",
    "FilesOf",
    "claim_texts",
    "experiments",
    "gd_seconds",
    "get_experiment",
    "register",
    "run_experiment",
]
