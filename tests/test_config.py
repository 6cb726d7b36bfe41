"""resode.config: validation names the key, YAML round-trips, CLI options merge."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resode.config import Config, add_config_arguments, config_from_args, option
from resode.errors import ConfigError


@dataclass
class Inner(Config):
    severity: int = option(1, "severity", min=1, max=5)


@dataclass
class Example(Config):
    lr: float = option(0.1, "learning rate", min=0.0, min_exclusive=True)
    eps: list[float] = option([1 / 255, 8 / 255], "attack radii", min=0.0, max=1.0)
    depth: int = option(2, "depth", min=1)
    schedule: str = option("cosine", "lr schedule", choices=("cosine", "multistep"))
    amp: bool = option(False, "mixed precision")
    root: str | None = option(None, "data root")


@dataclass
class Nested(Config):
    noise: Inner = option(Inner(), "nested config")
    name: str = option("x", "name")


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": 0}, "lr"),
        ({"eps": [0.1, 2.0]}, "eps"),
        ({"depth": 0}, "depth"),
        ({"depth": 1.5}, "depth"),
        ({"depth": "3"}, "depth"),
        ({"amp": "yes"}, "amp"),
        ({"schedule": "linear"}, "schedule"),
        ({"lrr": 0.1}, "lrr"),
        ({"eps": 0.1}, "eps"),
    ],
)
def test_bad_values_name_the_key(bad: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\b{key}\b"):
        Example.from_dict(bad)


def test_nested_config_errors_use_dotted_keys() -> None:
    with pytest.raises(ConfigError, match=r"noise\.severity = 6"):
        Nested.from_dict({"noise": {"severity": 6}})
    with pytest.raises(ConfigError, match=r"unknown key noise\.level"):
        Nested.from_dict({"noise": {"level": 1}})


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = Example.from_dict({"lr": 0.05, "eps": [0.01], "depth": 7, "root": "/data"})
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert Example.from_yaml(path) == cfg
    nested = Nested.from_dict({"noise": {"severity": 4}})
    nested.to_yaml(path)
    assert Nested.from_yaml(path) == nested


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-6, 10.0),
    depth=st.integers(1, 10_000),
    eps=st.lists(st.floats(0.0, 1.0), max_size=4),
    amp=st.booleans(),
)
def test_round_trip_property(lr: float, depth: int, eps: list[float], amp: bool) -> None:
    cfg = Example(lr=lr, depth=depth, eps=eps, amp=amp)
    assert Example.from_dict(cfg.to_dict()) == cfg


def test_cli_options_override_yaml_and_defaults(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_config_arguments(parser, Example)
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.5\ndepth: 4\n")
    args = parser.parse_args(
        ["--config", str(path), "--depth", "9", "--eps", "0.1", "0.2", "--amp"]
    )
    cfg = config_from_args(Example, args)
    assert (cfg.lr, cfg.depth, cfg.eps, cfg.amp) == (0.5, 9, [0.1, 0.2], True)
    path.write_text("lr: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config_from_args(Example, parser.parse_args(["--config", str(path)]))
