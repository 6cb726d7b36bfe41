"""The ``resode`` command line.

Each subcommand lives in ``resode/cli/commands/<name>.py`` and defines
``register(subparsers) -> argparse.ArgumentParser`` which sets ``func=run`` on its parser.
Commands are discovered automatically, so adding one touches no other file. Heavy imports
(torch, matplotlib) happen inside ``run`` so ``resode --help`` stays fast.

User errors never show a traceback: argparse problems and :class:`resode.errors.ResodeError`
print one line ``resode: error: …`` on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from resode._version import __version__
from resode.errors import ResodeError
from resode.kernels import POLICIES

EXIT_USAGE = 2


class OneLineArgumentParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _command_modules() -> list[str]:
    from resode.cli import commands

    return sorted(
        m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="resode",
        description="Residual networks as discretised ODEs: damped In-ResNets (Yang et al. 2020) "
        "and the implicit regularisation of deep ResNets towards neural ODEs (Marion et al. 2024).",
    )
    parser.add_argument("--version", action="version", version=f"resode {__version__}")
    parser.add_argument(
        "--kernels",
        choices=POLICIES,
        default=None,
        help="CPU kernel policy (default: $RESODE_KERNELS or avx2): avx2 pins the math "
        "libraries to the AVX2 code paths so the numbers are the same on every x86-64 machine "
        "with AVX2; native lets them use the fastest kernels of this CPU (recorded: the run is "
        "then not comparable with another machine's)",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )
    for name in _command_modules():
        module = importlib.import_module(f"resode.cli.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resode`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        _apply_kernel_policy(args.kernels)
        code = args.func(args)
    except ResodeError as exc:
        msg = " ".join(str(exc).split())
        print(f"resode: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("resode: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `resode data | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return int(code or 0)


def _apply_kernel_policy(policy: str | None) -> None:
    """``--kernels`` (or ``$RESODE_KERNELS``) for this process and the workers it starts; an
    unknown ``$RESODE_KERNELS`` is refused here (at import it could only fall back)."""
    from resode import kernels

    if policy is None:
        invalid = kernels.current_policy().invalid
        if invalid:
            raise ResodeError(invalid)
        return
    kernels.apply_policy(policy)


def run() -> NoReturn:  # pragma: no cover - thin wrapper for python -m resode
    sys.exit(main())
