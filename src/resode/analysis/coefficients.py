"""The learned interpolation coefficients λ_n of a damped network and their training trajectory.

λ_n comes from ``model.interpolation_coefficients()`` (``{"blocks.<i>": λ tensor}``, scalar or
one value per channel); the trajectory from the training log: the checkpoint payload's
``"history"`` list (one dict per epoch with ``"epoch"`` and ``"lambdas": {"blocks.<i>":
[floats]}``) or a ``history.json`` file (that list, or a dict holding it under ``"history"``).
A block with several values is summarised by their mean.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from resode.errors import ResodeError


def _block_key(name: str) -> tuple[int, str]:
    tail = name.rsplit(".", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (10**9, name)


def _as_list(v: Any) -> list[float]:
    if hasattr(v, "detach"):
        return [float(t) for t in v.detach().flatten().tolist()]
    if isinstance(v, (list, tuple)):
        out: list[float] = []
        for t in v:
            out.extend(_as_list(t))
        return out
    return [float(v)]


def model_lambdas(model: nn.Module) -> dict[str, list[float]]:
    """λ of every damped block, ``{"blocks.<i>": [values]}`` in block order (empty: no damping)."""
    get = getattr(model, "interpolation_coefficients", None)
    if get is None:
        return {}
    lams = get()
    return {k: _as_list(lams[k]) for k in sorted(lams, key=_block_key)}


def _is_number(v: Any) -> bool:
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def checked_history(rows: list[Any], source: str) -> list[dict]:
    """``rows`` if each is a per-epoch dict whose ``epoch`` is a number and whose ``lambdas``
    map block names to a number or a list of numbers; else a one-line :class:`ResodeError`."""
    for i, row in enumerate(rows):
        where = f"{source}: history row {i}"
        if not isinstance(row, dict):
            raise ResodeError(f"{where} is a {type(row).__name__}, not a per-epoch mapping")
        if "epoch" in row and not _is_number(row["epoch"]):
            raise ResodeError(f"{where}: epoch {row['epoch']!r} is not a number")
        lams = row.get("lambdas")
        if lams is None:
            continue
        if not isinstance(lams, dict):
            raise ResodeError(f"{where}: lambdas must map block names to values")
        for block, v in lams.items():
            vals = v if isinstance(v, list) else [v]
            if not all(_is_number(x) for x in vals):
                raise ResodeError(f"{where}: lambdas[{block!r}] must be finite numbers")
    return rows


def load_history(source: str | os.PathLike[str] | dict[str, Any] | list[Any]) -> list[dict]:
    """The per-epoch history list from a checkpoint payload dict, a list, or a JSON/checkpoint
    file (``history.json``, or a ``.pt`` checkpoint whose payload has ``"history"``); every row
    is checked by :func:`checked_history`."""
    if isinstance(source, (list, dict)):
        return checked_history(_load_history(source), "the history")
    return checked_history(_load_history(source), repr(str(source)))


def _load_history(source: str | os.PathLike[str] | dict[str, Any] | list[Any]) -> list[Any]:
    if isinstance(source, list):
        return source
    if isinstance(source, dict):
        hist = source.get("history")
        if hist is None:
            return []
        if not isinstance(hist, list):
            raise ResodeError("the 'history' entry must be a list of per-epoch dicts")
        return hist
    path = Path(source)
    if not path.is_file():
        raise ResodeError(f"training log {str(path)!r} does not exist; pass history.json or a .pt")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResodeError(
                f"{str(path)!r} is not valid JSON ({exc}); pass history.json"
            ) from exc
        if isinstance(data, dict):
            data = data.get("history", [])
        if not isinstance(data, list):
            raise ResodeError(f"{str(path)!r} holds no list of per-epoch dicts")
        return data
    from resode.checkpoint import read_checkpoint

    return _load_history(read_checkpoint(path))


@dataclass
class LambdaTrajectory:
    """λ over training: ``values[block][t]`` = mean λ of ``block`` at ``epochs[t]``."""

    epochs: list[float] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def lambda_trajectory(history: list[dict[str, Any]]) -> LambdaTrajectory:
    """Mean λ per block per epoch from a history list (epochs without "lambdas" are skipped;
    a block missing in an epoch is ``None`` there)."""
    rows = [h for h in history if isinstance(h, dict) and h.get("lambdas")]
    blocks = sorted({k for h in rows for k in h["lambdas"]}, key=_block_key)
    traj = LambdaTrajectory(blocks=blocks, values={b: [] for b in blocks})
    for t, h in enumerate(rows):
        traj.epochs.append(float(h.get("epoch", t + 1)))
        for b in blocks:
            v = h["lambdas"].get(b)
            vals = _as_list(v) if v is not None else []
            traj.values[b].append(sum(vals) / len(vals) if vals else None)
    return traj


@dataclass
class LambdaReport:
    """λ of one model: final values per block and (if logged) the trajectory."""

    model: str
    lambdas: dict[str, list[float]]
    trajectory: LambdaTrajectory
    n_blocks: int = 0

    def mean_lambdas(self) -> dict[str, float]:
        return {k: sum(v) / len(v) for k, v in self.lambdas.items() if v}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mean_lambdas"] = self.mean_lambdas()
        return d

    def rows(self) -> list[dict[str, Any]]:
        """CSV rows: ``epoch`` = "final" for the checkpoint's λ, then one per logged epoch."""
        out: list[dict[str, Any]] = []
        for b, v in self.mean_lambdas().items():
            out.append({"model": self.model, "epoch": "final", "block": b, "lambda": v})
        for t, ep in enumerate(self.trajectory.epochs):
            for b in self.trajectory.blocks:
                v = self.trajectory.values[b][t]
                out.append(
                    {"model": self.model, "epoch": ep, "block": b, "lambda": "" if v is None else v}
                )
        return out


def lambda_report(
    checkpoint: Any, *, name: str | None = None, history: str | os.PathLike[str] | None = None
) -> LambdaReport:
    """λ of a loaded :class:`resode.Checkpoint` (or a path) and its trajectory (from ``history``
    if given, else the payload's "history")."""
    from resode.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    hist = load_history(history) if history is not None else load_history(ckpt.payload)
    return LambdaReport(
        model=name or ckpt.name,
        lambdas=model_lambdas(ckpt.model),
        trajectory=lambda_trajectory(hist),
        n_blocks=len(getattr(ckpt.model, "blocks", [])),
    )
