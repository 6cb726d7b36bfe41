"""Safe checkpoints: atomic writes, ``weights_only`` loading, self-describing format.

A resode checkpoint is a ``torch.save`` of a plain dict (tensors, numbers, strings, lists, dicts
only, so it loads with ``torch.load(..., weights_only=True)``)::

    {"format": "resode.checkpoint", "format_version": 1, "resode_version": "...",
     "model": {"name": "inresnet20", "kwargs": {...}}, "state_dict": {...},
     "config": {...} | None, ...extra training state (epoch, optimizer, rng, history)}

``load_checkpoint(path)`` rebuilds the model from ``model.name``/``model.kwargs`` through the
registry, so the user never names the architecture.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resode._version import __version__
from resode.errors import CheckpointError, ResodeError
from resode.kernels import current_policy

FORMAT = "resode.checkpoint"
FORMAT_VERSION = 1


def atomic_write_bytes(path: str | os.PathLike[str], write: Any) -> Path:
    """Write a file atomically: ``write(fileobj)`` into a temporary file, fsync, rename.

    A crash at any point leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)`` through :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, lambda fh: torch.save(obj, fh))


def model_spec(model: nn.Module) -> dict[str, Any]:
    """``{"name", "kwargs"}`` recorded by :func:`resode.create_model` (unwrapping DDP/compile)."""
    inner = unwrap_model(model)
    spec = getattr(inner, "resode_spec", None)
    if spec is None:
        raise ResodeError(
            "this model was not built with resode.create_model, so its architecture cannot be "
            "recorded; build it with resode.create_model(name, **kwargs)"
        )
    return {"name": spec["name"], "kwargs": dict(spec["kwargs"])}


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside ``DistributedDataParallel`` / ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    config: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Atomically save ``model`` (architecture + weights), its ``config``, the kernel policy
    (:mod:`resode.kernels`) and ``extra`` state.

    ``extra`` may not reuse a key of the format itself (it would overwrite it silently)."""
    inner = unwrap_model(model)
    reserved = {"format", "format_version", "resode_version", "state_dict", "kernels"} & set(extra)
    if reserved:
        raise ValueError(f"save_checkpoint: extra keys {sorted(reserved)} are the format's own")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "resode_version": __version__,
        "model": model_spec(inner),
        "state_dict": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        "config": config,
        "kernels": current_policy().to_dict(),  # the CPU kernel policy the weights came from
        **extra,
    }
    return atomic_torch_save(payload, path)


def _is_torch_file(path: Path) -> bool:
    """A ``torch.save`` file starts with a zip header (format since torch 1.6) or a pickle
    protocol byte (the legacy format)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({exc.strerror})") from exc
    if len(head) < 4:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({len(head)} bytes); use an "
            "earlier checkpoint or re-run training with --resume"
        )
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def read_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint dict with ``weights_only=True`` (never runs pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; check the path")
    if not _is_torch_file(path):
        raise CheckpointError(
            f"{str(path)!r} is not a resode checkpoint (not a file written by torch.save); "
            "create checkpoints with resode train or resode.save_checkpoint"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} contains pickled objects other than tensors and plain "
            "containers; resode refuses to load it (weights_only=True) because unpickling can run "
            "arbitrary code. Re-save it with resode.save_checkpoint from a trusted environment"
        ) from exc
    except Exception as exc:  # torch's unpickler raises many types on damaged files
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({type(exc).__name__}); "
            "use an earlier checkpoint or re-run training with --resume"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a resode checkpoint (no 'format': {FORMAT!r} entry); "
            "create checkpoints with resode train or resode.save_checkpoint"
        )
    version = payload.get("format_version", 0)  # 0: written before the format was versioned
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has an invalid format version {version!r} (expected an "
            "integer); re-save it with resode.save_checkpoint"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {payload['format_version']}, newer than "
            f"this resode ({__version__}) understands; upgrade resode"
        )
    return payload


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt ``model`` (eval mode) and the raw ``payload`` dict."""

    model: nn.Module
    payload: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return str(self.payload["model"]["name"])

    @property
    def config(self) -> dict[str, Any] | None:
        return self.payload.get("config")


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> Checkpoint:
    """Rebuild the model stored in ``path`` (architecture from the file) and load its weights."""
    from resode.registry import create_model

    payload = read_checkpoint(path, map_location=map_location)
    spec = payload["model"]
    try:
        model = create_model(spec["name"], **spec["kwargs"])
    except ResodeError as exc:
        raise CheckpointError(f"cannot rebuild the model of {str(path)!r}: {exc}") from exc
    load_state_dict_checked(model, payload["state_dict"], source=str(path))
    model.eval()
    return Checkpoint(model=model, payload=payload, path=Path(path))


def load_state_dict_checked(model: nn.Module, state_dict: dict[str, Any], *, source: str) -> None:
    """``model.load_state_dict(strict=True)`` with a clear error when the architecture differs."""
    try:
        unwrap_model(model).load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        spec = getattr(unwrap_model(model), "resode_spec", {"name": type(model).__name__})
        raise CheckpointError(
            f"weights in {source!r} do not fit model {spec.get('name')!r} ({first}); "
            "the checkpoint was made for another architecture"
        ) from exc
