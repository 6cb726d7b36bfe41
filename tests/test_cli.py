"""The CLI frame: help lists subcommands, user errors are one line with exit code 2."""

from __future__ import annotations

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


def test_every_subcommand_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, subparser in sub.choices.items():
        assert subparser.format_help(), name


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
