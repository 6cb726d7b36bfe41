"""Property-based fuzzing of the CLI: any argument list ends in exit code 0 or 2, never a traceback.

For every discovered subcommand, hypothesis draws option flags from that command's own parser
and values from a pool of malformed and edge-case values (negative, zero, NaN, non-numbers, paths
that do not exist, corrupt checkpoint files). Input that passes every check (argument parsing,
config validation, checkpoint and data loading) reaches the expensive part of a command; the
functions that start that work are replaced by a stub that raises ``_Accepted``, so the test
counts the input as accepted without training anything. Anything else that escapes (a
``ValueError``, ``KeyError``, ``RuntimeError``…) or a traceback on stderr fails. A safety alarm
fails the test if some command starts long work through a path that is not stubbed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resode.cli import build_parser, main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGALRM")

NUMBERS = ["-1", "0", "1", "3", "-0.5", "2.5", "1e-3", "nan", "inf", "abc", ""]
STRINGS = ["", "bogus", "-1", "missing/dir/x", "cifar10", "digits", "resnet20", "0"]


class _Accepted(BaseException):
    """Raised by the stubbed work entry points: the input passed every check."""


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


SUBCOMMANDS = _subcommands()


def _preimport() -> None:
    """Import everything a command may import up front (faster examples, stable timing)."""
    import importlib
    import pkgutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import sklearn.datasets  # noqa: F401
    import torch.utils._sympy.functions  # noqa: F401  (torch imports sympy lazily)

    import resode

    for mod in pkgutil.walk_packages(resode.__path__, "resode."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)


_preimport()


def _leaf_parsers(
    name: str, parser: argparse.ArgumentParser
) -> list[tuple[list[str], argparse.ArgumentParser]]:
    """(prefix argv, parser) for a command and, recursively, its own subcommands."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [([name], parser)]
    out: list[tuple[list[str], argparse.ArgumentParser]] = []
    for sub_name, sub in subs[0].choices.items():
        out += [([name, *prefix], p) for prefix, p in _leaf_parsers(sub_name, sub)]
    return out


LEAVES = [leaf for name, p in SUBCOMMANDS.items() for leaf in _leaf_parsers(name, p)]


def _values_for(action: argparse.Action, bad_file: str) -> st.SearchStrategy[list[str]]:
    if action.nargs == 0:
        return st.just([])
    pool = list(NUMBERS) if action.type in (int, float) else [*STRINGS, bad_file]
    if action.choices:
        pool += [str(c) for c in action.choices] + ["not-a-choice"]
    n = st.integers(1, 3) if action.nargs in ("+", "*") else st.just(1)
    return n.flatmap(lambda k: st.lists(st.sampled_from(pool), min_size=k, max_size=k))


@st.composite
def argv_for_a_command(draw: st.DrawFn, bad_file: str) -> list[str]:
    prefix, parser = draw(st.sampled_from(LEAVES))
    argv = list(prefix)
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    positionals = [a for a in parser._actions if not a.option_strings]
    for action in (
        draw(st.lists(st.sampled_from(options), max_size=4, unique_by=id)) if options else []
    ):
        argv.append(draw(st.sampled_from(action.option_strings)))
        argv += draw(_values_for(action, bad_file))
    for action in positionals:
        if draw(st.booleans()) or action.nargs in (None, "+"):
            k = 1 if action.nargs in (None, "+", "?", "*") else int(action.nargs)
            argv += [
                draw(st.sampled_from(["/nonexistent/ckpt.pt", bad_file, "bogus"])) for _ in range(k)
            ]
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(["--no-such-flag", "extra-positional"])))
    return argv


_BAD_DIR = tempfile.mkdtemp(prefix="resode-fuzz-")
_BAD_FILE = os.path.join(_BAD_DIR, "corrupt.pt")
with open(_BAD_FILE, "wb") as _fh:
    _fh.write(b"PK\x03\x04 this is not a checkpoint")


# Where each command's expensive work starts, after all validation and loading.
WORK_ENTRY_POINTS = [
    ("resode.training.engine", "build_model"),
    ("resode.robustness", "evaluate_models"),
    ("resode.analysis.stability", "analyze_stability"),
    ("resode.analysis.landscape", "analyze_landscape"),
    ("resode.reproduce", "run_reproduce"),
    ("resode.ode.experiments", "depth_sweep"),
    ("resode.ode.experiments", "long_time"),
    ("resode.ode.experiments", "weights_against_layer"),
    ("resode.ode.experiments", "relu_counterexample"),
    ("resode.ode.experiments", "cifar_grid"),
    ("resode.data.cifar", "download_file"),  # no network traffic from a test
]


def _accept(*args, **kwargs):
    raise _Accepted


def _too_slow(signum, frame):
    raise AssertionError("a command started long work through an entry point not stubbed here")


@pytest.fixture(scope="module", autouse=True)
def _stub_work():
    import importlib

    patch = pytest.MonkeyPatch()
    for module, name in WORK_ENTRY_POINTS:
        patch.setattr(importlib.import_module(module), name, _accept)
    yield
    patch.undo()


@settings(
    max_examples=int(os.environ.get("RESODE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(argv=argv_for_a_command(_BAD_FILE))
def test_cli_never_shows_a_traceback(argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    work = tempfile.mkdtemp(prefix="resode-fuzz-run-")
    old = signal.signal(signal.SIGALRM, _too_slow)
    code: object = None
    try:
        os.chdir(work)
        signal.setitimer(signal.ITIMER_REAL, 120.0)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
    except _Accepted:
        code = "accepted"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
    message = err.getvalue()
    assert "Traceback" not in message, (argv, message)
    assert code in (0, None, 2, "accepted"), (argv, code, message)
    if code == 2:
        lines = [line for line in message.strip().splitlines() if line.strip()]
        assert lines and "error" in lines[-1], (argv, message)
        assert len(lines) == 1 or not any(
            line.startswith(("  File ", "During handling")) for line in lines
        ), (argv, message)
