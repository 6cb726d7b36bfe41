"""Model registry: ``create_model(name, **kwargs)`` and ``list_models()`` (timm style).

Model modules register factory functions with :func:`register_model`. ``create_model`` records
``{"name": ..., "kwargs": ...}`` on the model as ``model.resode_spec`` so a checkpoint can rebuild
the architecture without the user naming it (:func:`resode.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from resode.errors import ResodeError, unknown_name_error

# Modules whose import registers models. Each adds its own line here.
_MODEL_MODULES: tuple[str, ...] = (
    "resode.nn.preact_resnet",
    "resode.nn.resnext",
    "resode.nn.scaled_convnet",
)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]
    family: str
    description: str


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register_model(
    name: str, *, family: str, description: str = ""
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``factory(**kwargs) -> nn.Module`` under ``name``."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise RuntimeError(f"model {name!r} registered twice")
        doc = description or (factory.__doc__ or "").strip().splitlines()[0:1]
        desc = doc if isinstance(doc, str) else (doc[0] if doc else "")
        _REGISTRY[name] = ModelEntry(name, factory, family, desc)
        return factory

    return decorator


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        for module in _MODEL_MODULES:
            importlib.import_module(module)
        _loaded = True


def list_models(
    pattern: str | None = None, *, family: str | None = None, include_private: bool = False
) -> list[str]:
    """Sorted names of registered models, optionally filtered by a glob ``pattern`` or family.

    Names starting with ``_`` (e.g. tiny models that tests register) are private: listed only
    with ``include_private=True``, though ``create_model`` builds them like any other.
    """
    _ensure_loaded()
    names = [
        n
        for n, e in _REGISTRY.items()
        if (pattern is None or fnmatch.fnmatch(n, pattern))
        and (family is None or e.family == family)
        and (include_private or not n.startswith("_"))
    ]
    return sorted(names)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name`` (a clear error listing valid names if unknown)."""
    _ensure_loaded()
    if name not in _REGISTRY:
        raise unknown_name_error("model", name, list_models())
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword arguments (e.g. ``num_classes=10``)."""
    entry = model_entry(name)
    try:  # bad keyword arguments are the user's error; a TypeError inside the factory is a bug
        inspect.signature(entry.factory).bind(**kwargs)
    except TypeError as exc:
        raise ResodeError(f"cannot build model {name!r} with {kwargs}: {exc}") from exc
    try:
        model = entry.factory(**kwargs)
    except TypeError as exc:  # factories forwarding **kwargs detect clashes only when called
        if "keyword argument" not in str(exc):
            raise
        raise ResodeError(f"cannot build model {name!r} with {kwargs}: {exc}") from exc
    model.resode_spec = {"name": name, "kwargs": dict(kwargs)}
    return model


_DISPLAY_PREFIXES = (
    ("lambda_inresnext", "λ-In-ResNeXt-"),
    ("inresnext", "In-ResNeXt-"),
    ("resnext", "ResNeXt-"),
    ("lambda_inresnet", "λ-In-ResNet-"),
    ("inresnet", "In-ResNet-"),
    ("resnet", "ResNet-"),
)


def display_name(name: str) -> str:
    """A registered model's name as papers write it: ``lambda_inresnet20`` → ``λ-In-ResNet-20``."""
    for prefix, label in _DISPLAY_PREFIXES:
        if name.startswith(prefix):
            return label + name[len(prefix) :]
    return name
