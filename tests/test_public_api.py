"""The public API: every name in ``resode.__all__`` resolves, and feature packages import."""

from __future__ import annotations

import pytest

import resode


@pytest.mark.parametrize("name", resode.__all__)
def test_public_names_resolve(name: str) -> None:
    assert getattr(resode, name) is not None


@pytest.mark.parametrize(
    "package",
    ["analysis", "attacks", "corruptions", "data", "nn", "ode", "reproduce", "robustness"],
)
def test_feature_packages_import(package: str) -> None:
    module = getattr(resode, package)
    assert module.__name__ == f"resode.{package}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        resode.no_such_thing  # noqa: B018
