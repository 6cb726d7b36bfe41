"""Shared pieces of the paper-B experiments: the GD experiment config, synthetic data, the model
builder, serialisable records (``to_dict``/``from_dict``), and cells: independent units of work
that run as :mod:`resode.grid` tasks (in parallel worker processes, cached on disk).

Defaults follow papers.md §B.4 with the official synthetic code's conventions (no 1/√m, 1/√q,
MSE averaged over n·d', A = B = I, x, y ~ N(0, I)).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np

from resode.config import Config, option

if TYPE_CHECKING:  # torch is imported inside the functions: the CLI reads the configs cheaply
    import torch

    from resode.ode.scaled_resnet import ScaledResidualMLP
    from resode.ode.train import GDResult

Activation = Literal["gelu", "tanh", "softplus", "relu", "identity"]
Init = Literal["tied", "iid", "gp"]
R = TypeVar("R", bound="Record")


@dataclass
class GDConfig(Config):
    """Settings shared by the synthetic GD experiments (data, model, initialisation, rate); each
    experiment adds its sizes and its init(s)."""

    d: int = option(16, "input = hidden = output dimension (A = B = I)", min=1)
    seed: int = option(0, "first initialisation seed (seed i uses seed + i)", min=0)
    data_seed: int = option(0, "seed of the synthetic data x, y ~ N(0, I)", min=0)
    data_per_seed: bool = option(
        True,
        "each network seed draws its own data: init seed s uses data seed data_seed + (s − seed) "
        "(False: every seed trains on data_seed's draw)",
    )
    zero_v: bool = option(True, "V_k(0) = 0 (the paper's main scheme)")
    gp_length_scale: float = option(0.1, "GP init: length scale ℓ in s", min=0.0)
    scaling_exponent: float = option(
        1.0,
        "residual factor L^-α: 1 (ODE) or 0.5 (1/√L); residual rate L^(2α−1) × lr",
        min=0.0,
    )
    normalisation: Literal["official", "paper"] = option(
        "official", "official: σ(hW)V/L; paper: 1/(L√m)·Vσ(Wh/√q)"
    )
    activation: Activation = option("gelu", "activation σ")
    float64: bool = option(False, "train in float64")

    @property
    def rate_exponent(self) -> float:
        """e in the residual rate L^e·lr: e = 2α − 1 keeps the function-space step O(lr) for the
        residual factor L^{-α} (each of L layers moves F by L^{-α}·L^e·lr·L^{-α})."""
        return 2.0 * self.scaling_exponent - 1.0


def torch_dtype(float64: bool) -> torch.dtype:
    import torch

    return torch.float64 if float64 else torch.float32


def synthetic_data(
    n: int, d: int, seed: int, float64: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """x_i, y_i ~ N(0, I_d), i = 1..n (the official synthetic data)."""
    from resode.data.synthetic import make_regression

    data = make_regression(n, d, seed=seed, dtype=torch_dtype(float64))
    return data.x, data.y


def data_seeds(cfg: GDConfig, seed: int, n_seeds: int) -> list[int]:
    """Data seeds of init seeds seed..seed+n_seeds−1: data_seed + (s − cfg.seed) per seed
    (``data_per_seed``), else data_seed for all."""
    if not cfg.data_per_seed:
        return [cfg.data_seed] * n_seeds
    return [cfg.data_seed + (seed - cfg.seed) + i for i in range(n_seeds)]


def seed_data(cfg: GDConfig, n: int, seed: int, n_seeds: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training data of seeds seed..seed+n_seeds−1: (n, d) shared when every seed has the
    same data seed, else stacked (S, n, d), seed i drawing with :func:`data_seeds`'s i-th seed."""
    import torch

    ds = data_seeds(cfg, seed, n_seeds)
    if len(set(ds)) == 1:
        return synthetic_data(n, cfg.d, ds[0], cfg.float64)
    pairs = [synthetic_data(n, cfg.d, s, cfg.float64) for s in ds]
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def build_model(cfg: GDConfig, depth: int, width: int, n_seeds: int | None) -> ScaledResidualMLP:
    """The scaled residual MLP of eq. (3) for ``cfg`` (seed-batched when ``n_seeds``)."""
    from resode.ode.scaled_resnet import ScaledResidualMLP

    return ScaledResidualMLP(
        depth,
        cfg.d,
        width,
        activation=cfg.activation,
        normalisation=cfg.normalisation,
        scaling_exponent=cfg.scaling_exponent,
        n_seeds=n_seeds,
        dtype=torch_dtype(cfg.float64),
    )


def train_network(
    cfg: GDConfig,
    *,
    init: str,
    n: int,
    width: int,
    depth: int,
    lr: float,
    iterations: int,
    seed: int,
    n_seeds: int,
    gp_grid: int | None = None,
    clip: float | None = None,
    **gd_kwargs: Any,
) -> tuple[ScaledResidualMLP, GDResult]:
    """Build, initialise (seeds seed..seed+n_seeds−1) and train one seed-batched network by GD
    with the residual rate L^{2α−1}·lr on ``cfg``'s synthetic data (:func:`seed_data`: each
    seed its own draw unless ``cfg.data_per_seed`` is False). GD runs with the thread count of
    the caller (a grid task's ``threads``, ``--threads`` of ``resode reproduce``/``resode ode``);
    ``train_gd``'s own default of 1 applies only to direct library calls."""
    from resode.ode.init import initialize
    from resode.ode.train import train_gd

    x, y = seed_data(cfg, n, seed, n_seeds)
    model = build_model(cfg, depth, width, n_seeds)
    initialize(
        model,
        init,
        seed=seed,
        zero_v=cfg.zero_v,
        length_scale=cfg.gp_length_scale,
        gp_grid=gp_grid,
    )
    res = train_gd(
        model,
        x,
        y,
        iterations=iterations,
        lr=lr,
        lr_depth_exponent=cfg.rate_exponent,
        clip=clip,
        **{"threads": None, **gd_kwargs},  # None: the task's thread policy (grid.run_task) holds
    )
    return model, res


# --------------------------------------------------------------------------------------------
# records: dataclasses of results that round-trip through JSON


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Config, Record)) or hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any, tp: Any) -> Any:
    """Inverse of :func:`_encode` guided by the annotation ``tp``."""
    if value is None or tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(value, options[0]) if len(options) == 1 else value
    if tp is np.ndarray:
        return np.asarray(value, dtype=np.float64)
    if isinstance(tp, type) and issubclass(tp, Config):
        return tp.from_dict(value)
    if isinstance(tp, type) and hasattr(tp, "from_dict"):
        return tp.from_dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{k: _decode(v, hints.get(k, Any)) for k, v in value.items()})
    if origin is dict:
        kt, vt = get_args(tp) or (Any, Any)
        conv = int if kt is int else (lambda k: k)
        return {conv(k): _decode(v, vt) for k, v in value.items()}
    if origin is list:
        (it,) = get_args(tp) or (Any,)
        return [_decode(v, it) for v in value]
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0]) for v in value)
        return tuple(_decode(v, a) for v, a in zip(value, args, strict=False))
    if tp is float:
        return float(value)
    return value


def _type_names() -> dict[str, Any]:
    """Names used in record annotations that live in torch-importing modules."""
    from resode.ode.measures import LagSmoothness, SlopeFit
    from resode.verdicts import Judgement

    return {"SlopeFit": SlopeFit, "LagSmoothness": LagSmoothness, "Judgement": Judgement}


class Record:
    """Mixin for result dataclasses: ``to_dict`` (JSON-ready: arrays become lists) and
    ``from_dict`` (arrays come back as float64 NumPy arrays, int dict keys as ints)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        import sys

        module = vars(sys.modules[cls.__module__])
        hints = typing.get_type_hints(cls, globalns={**module, **_type_names()})
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: _decode(v, hints[k]) for k, v in data.items() if k in names})


# --------------------------------------------------------------------------------------------
# cells: independent units of work, run in parallel processes, cached on disk


def cell_key(fn: Callable[..., Any], args: Sequence[Any]) -> str:
    """A file-name-safe key of one cell: the function's name and a hash of its arguments."""
    plain = [_encode_arg(a) for a in args]
    blob = json.dumps([fn.__module__, fn.__qualname__, plain], sort_keys=True, default=str)
    return f"{fn.__name__}-{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def _path_of(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _encode_arg(value: Any) -> Any:
    """A cell argument as JSON: configs with their class, paths tagged, the rest as is."""
    if isinstance(value, Config):
        return {"__config__": _path_of(type(value)), "data": value.to_dict()}
    if isinstance(value, Path):
        return {"__path__": str(value)}
    return _encode(value)


def _decode_arg(value: Any) -> Any:
    from resode.grid.task import resolve

    if isinstance(value, dict) and "__config__" in value:
        return resolve(value["__config__"]).from_dict(value["data"])
    if isinstance(value, dict) and "__path__" in value:
        return Path(value["__path__"])
    return value


def cell_task(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A :class:`resode.grid.Task` function running one cell: ``fn(*args)`` → its record."""
    from resode.grid.task import resolve

    record = resolve(params["fn"])(*[_decode_arg(a) for a in params["args"]])
    if isinstance(record, Record):
        return {"record_class": _path_of(type(record)), "record": record.to_dict()}
    return {"record_class": None, "record": record}  # a plain JSON value


def cell_as_task(fn: Callable[..., Any], args: Sequence[Any], prefix: str = "") -> Any:
    """The :class:`resode.grid.Task` of one cell (key: ``prefix`` + :func:`cell_key`)."""
    from resode.grid import Task

    params = {"fn": _path_of(fn), "args": [_encode_arg(a) for a in args]}
    key = prefix + cell_key(fn, args)
    return Task(key, "resode.ode.experiments.common:cell_task", params, 1, fn.__name__)


def record_of(outcome: Any) -> Any:
    """The record a finished cell task returned (a failed cell raises its error)."""
    from resode.errors import ResodeError, TasksFailedError

    if not outcome.ok:
        raise TasksFailedError(f"cell {outcome.key} failed: {outcome.error}")
    res = outcome.result
    if not isinstance(res, dict) or "record_class" not in res or "record" not in res:
        raise ResodeError(
            f"the stored result of cell {outcome.key} is malformed (expected record_class and "
            "record); delete that cell's folder and rerun"
        )
    if res["record_class"] is None:
        return res["record"]
    cls = (
        record_registry().get(res["record_class"]) if isinstance(res["record_class"], str) else None
    )
    if cls is None:
        raise ResodeError(
            f"the stored result of cell {outcome.key} names an unknown record class "
            f"{res['record_class']!r}; delete that cell's folder and rerun"
        )
    try:
        return cls.from_dict(res["record"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResodeError(
            f"the stored result of cell {outcome.key} does not fit {cls.__name__} "
            f"({type(exc).__name__}); delete that cell's folder and rerun"
        ) from exc


def record_registry() -> dict[str, type[Record]]:
    """Every :class:`Record` subclass by ``module:Name`` — the fixed set a stored result may name.

    Nothing is imported from a name read from disk: the experiment modules define the records
    and are imported here by their fixed package names."""
    from resode.ode.experiments.protocol import experiments

    experiments()  # imports every experiment module (each defines its records)

    out: dict[str, type[Record]] = {}
    todo = list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        out[_path_of(cls)] = cls
        todo += cls.__subclasses__()
    return out


Call = tuple[Callable[..., Any], tuple[Any, ...]]


_CELL_EXECUTOR: contextvars.ContextVar[Any] = contextvars.ContextVar("cell_executor", default=None)


@contextlib.contextmanager
def cell_executor(executor: Any) -> Iterator[Any]:
    """Within this block :func:`run_cells` runs every cell on ``executor`` (a
    :func:`resode.grid.make_executor` executor, e.g. a Slurm job array) instead of the
    ``workers`` processes it is given::

        with cell_executor(make_executor("slurm", slurm_partition="gpu")):
            cifar_grid(config, out, cache_dir=out / "cells")   # cells: a folder the jobs see
    """
    token = _CELL_EXECUTOR.set(executor)
    try:
        yield executor
    finally:
        _CELL_EXECUTOR.reset(token)


def run_cells(
    calls: Sequence[Call],
    *,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    desc: str = "cells",
) -> list[Any]:
    """``[fn(*args) for fn, args in calls]`` in order, as :mod:`resode.grid` tasks: in this
    process when ``workers`` ≤ 1, else in ``workers`` worker processes with one torch thread each
    (inside :func:`cell_executor`: on that executor). With ``cache_dir`` every finished cell's
    record is kept there (``<key>/result.json``) and a cell already there is reused instead of run.
    Put the longest cells first: they start first."""
    import tempfile

    from resode.grid import make_executor

    tasks = [cell_as_task(fn, args) for fn, args in calls]
    executor = _CELL_EXECUTOR.get()
    if executor is None:
        kind = "serial" if workers <= 1 or len(calls) <= 1 else "local"
        executor = make_executor(kind, workers=workers)
    elif cache_dir is None and getattr(executor, "kind", None) == "slurm":
        from resode.errors import ResodeError

        raise ResodeError("cells run as Slurm jobs need a cache_dir on a shared file system")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(cache_dir) if cache_dir is not None else Path(tmp)
        outcomes = executor.run(tasks, root, progress=progress, desc=desc)
        return [record_of(outcomes[t.key]) for t in tasks]


def seeds_of(first: int, count: int) -> list[int]:
    return [first + s for s in range(count)]
