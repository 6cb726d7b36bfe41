"""User-facing errors.

Every error a user can cause (bad argument, missing file, wrong checkpoint, invalid config value)
is raised as a :class:`ResodeError` whose message names the problem *and* the fix. The CLI turns
it into one line on stderr and exit code 2; the Python API lets it propagate.
"""

from __future__ import annotations


class ResodeError(ValueError):
    """A problem with the user's input; the message says what is wrong and how to fix it."""


class ConfigError(ResodeError):
    """An invalid configuration key or value."""


class DataError(ResodeError):
    """A data set that is missing, corrupt or in the wrong format."""


class CheckpointError(ResodeError):
    """A checkpoint that cannot be read safely or does not fit the requested model."""


class NumericalError(ResodeError):
    """A NaN or infinite loss or gradient during training."""


class TasksFailedError(ResodeError):
    """A grid finished but some of its tasks failed (the CLI exits with code 3, not 2)."""


def unknown_name_error(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> ResodeError:
    """``ResodeError`` for an unknown ``name`` of some ``kind``, listing the valid names."""
    return ResodeError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")
