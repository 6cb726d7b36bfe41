"""The public API: ``resode.__all__`` names the right objects, and feature packages import."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import resode

#: every public name → (module that defines it, what it is)
PUBLIC = {
    "Checkpoint": ("resode.checkpoint", "class"),
    "ResodeError": ("resode.errors", "exception"),
    "TrainConfig": ("resode.training.config", "class"),
    "__version__": ("resode._version", "version"),
    "benchmark": ("resode.robustness.benchmark", "function"),
    "create_model": ("resode.registry", "function"),
    "evaluate": ("resode.training.engine", "function"),
    "get_preset": ("resode.presets", "function"),
    "list_models": ("resode.registry", "function"),
    "load_checkpoint": ("resode.checkpoint", "function"),
    "register_model": ("resode.registry", "function"),
    "save_checkpoint": ("resode.checkpoint", "function"),
    "train": ("resode.training.engine", "function"),
}


def test_all_lists_exactly_the_public_names() -> None:
    assert sorted(resode.__all__) == sorted(PUBLIC)
    assert len(set(resode.__all__)) == len(resode.__all__)
    assert set(PUBLIC) <= set(dir(resode))


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_is_the_object_of_its_defining_module(name: str) -> None:
    module_name, kind = PUBLIC[name]
    obj = getattr(resode, name)
    assert obj is getattr(importlib.import_module(module_name), name)
    if kind == "version":
        assert re.fullmatch(r"\d+\.\d+\.\d+([.+-]?\w+)*", obj), obj
        return
    assert obj.__module__ == module_name
    assert obj.__name__ == name
    if kind == "function":
        assert inspect.isfunction(obj)
    else:
        assert inspect.isclass(obj)
        assert issubclass(obj, Exception) == (kind == "exception")


@pytest.mark.parametrize(
    "package",
    [
        "analysis",
        "attacks",
        "corruptions",
        "data",
        "evalset",
        "grid",
        "nn",
        "ode",
        "presets",
        "reproduce",
        "robustness",
        "runtime",
        "verdicts",
    ],
)
def test_feature_packages_import(package: str) -> None:
    module = getattr(resode, package)
    assert module.__name__ == f"resode.{package}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        resode.no_such_thing  # noqa: B018
