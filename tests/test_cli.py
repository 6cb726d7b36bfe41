"""The CLI frame: help lists subcommands, user errors are one line with exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from resode.cli import build_parser, main


def test_help_lists_subcommands(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "data" in out


def test_data_command_shows_datasets_and_sources(capsys, cifar_root: Path) -> None:
    assert main(["data", "--data-root", str(cifar_root), "--json"]) == 0
    rows = {(r["name"], r["split"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("digits", "train")]["available"] and rows[("digits", "train")]["shape"] == [
        1,
        16,
        16,
    ]
    assert rows[("cifar10", "train+test")]["available"]
    assert str(cifar_root) in rows[("cifar10", "train+test")]["source"]
    assert rows[("cifar10-c", "test")]["available"]
    assert not rows[("cifar100-c", "test")]["available"]


@pytest.mark.parametrize(
    "argv",
    [["nosuchcommand"], ["data", "--bogus"], ["data", "--download", "imagenet"]],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err and "Traceback" not in err


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _config_flags(cls: type, renamed: dict[str, str], prefix: str = "") -> dict[str, str]:
    """--flag → help text of every field of a config class offered on the command line
    (nested configs as dotted flags, e.g. --paper-a.robustness.eps)."""
    import typing

    from resode.config import Config

    hints = typing.get_type_hints(cls)
    out: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        key = prefix + f.name
        if isinstance(hints[f.name], type) and issubclass(hints[f.name], Config):
            out.update(_config_flags(hints[f.name], renamed, key + "."))
        else:
            out[renamed.get(key, "--" + key.replace("_", "-"))] = f.metadata.get("help", "")
    return out


def _help_text(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_help().split())  # argparse wraps lines: compare words


def test_every_subcommand_help_documents_its_options() -> None:
    """Each command's help: its usage line, its description, and every config option's flag
    with that option's help text (options whose flag has another name are listed here)."""
    from resode.analysis import LandscapeConfig, StabilityConfig
    from resode.ode.experiments.protocol import experiments
    from resode.reproduce import ReproduceConfig
    from resode.reproduce.config import JOB_KEYS
    from resode.robustness import RobustnessConfig
    from resode.robustness.benchmark import BenchmarkConfig
    from resode.training import TrainConfig

    job_set = {"--paper-a." + k.replace("_", "-") for k in JOB_KEYS}
    job_set |= {
        f"--paper-b.{e.name}.{k}".replace("_", "-") for e in experiments() for k in e.job_keys
    }
    parser = build_parser()
    commands = _choices(parser)
    assert set(commands) == {
        "benchmark", "data", "fingerprint", "lambdas", "landscape", "models", "ode", "presets",
        "reproduce", "robustness", "stability", "train",
    }  # fmt: skip
    top = _help_text(parser)
    assert all(name in top for name in commands)
    configs = {
        "train": (TrainConfig, {}),
        "robustness": (RobustnessConfig, {}),
        "benchmark": (BenchmarkConfig, {}),
        "reproduce": (ReproduceConfig, {}),
        "stability": (StabilityConfig, {}),
        "landscape": (LandscapeConfig, {}),
    }
    for name, sub in commands.items():
        text = _help_text(sub)
        assert text.startswith(f"usage: resode {name}"), name
        assert sub.description and " ".join(sub.description.split()) in text, name
        cls, renamed = configs.get(name, (None, {}))
        for flag, help_text in (_config_flags(cls, renamed) if cls else {}).items():
            if name == "reproduce" and flag in job_set:  # the job sets these for every cell
                assert f"{flag} " not in text, flag
                continue
            assert flag in text, f"resode {name} --help lacks {flag}"
            if flag not in renamed.values():  # a renamed flag has a help of its own
                # argparse wraps lines, also at hyphens: compare without any whitespace
                squeezed = "".join(text.split())
                assert "".join(help_text.split()) in squeezed, f"resode {name}: help of {flag}"
    ode = _choices(commands["ode"])
    assert set(ode) == {e.command for e in experiments()}  # every registered experiment
    for exp in experiments():
        text = _help_text(ode[exp.command])
        assert text.startswith(f"usage: resode ode {exp.command}")
        for flag in _config_flags(exp.config, {}):
            assert flag in text, f"resode ode {exp.command} --help lacks {flag}"


def test_console_script_runs_as_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resode", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("resode ")


def test_models_command_lists_registry_with_parameter_counts(capsys) -> None:
    assert main(["models", "resnet2*", "--params", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"resnet20"}
    assert 0.26e6 < rows["resnet20"]["parameters"] < 0.28e6
    assert main(["models", "nothing*"]) == 2
