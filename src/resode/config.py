"""Typed, validated configuration shared by the CLI and the Python API.

A config is a dataclass deriving from :class:`Config` whose fields are declared with
:func:`option` (default, help text, range, choices). Construction validates every field, so a bad
value fails with a :class:`~resode.errors.ConfigError` that names the key::

    @dataclass
    class TrainConfig(Config):
        lr: float = option(0.1, "learning rate", min=0.0, min_exclusive=True)

    TrainConfig.from_dict({"lr": -1})       # ConfigError: lr = -1 must be > 0
    TrainConfig.from_dict({"lrr": 0.1})     # ConfigError: unknown key 'lrr'; valid keys: lr

``to_dict``/``from_dict`` and ``to_yaml``/``from_yaml`` round-trip exactly.
:func:`add_config_arguments` turns a config class into ``--kebab-case`` CLI options and
:func:`config_from_args` merges an optional YAML file with the options the user gave.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from resode.errors import ConfigError

C = TypeVar("C", bound="Config")


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
    choices: tuple[Any, ...] | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field with help text and validation bounds (mutable defaults are copied)."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "min_exclusive": min_exclusive,
        "max_exclusive": max_exclusive,
        "choices": choices,
        "cli": cli,
    }
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    if isinstance(default, Config):
        nested = default
        return dataclasses.field(default_factory=lambda: dataclasses.replace(nested), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (int→float)."""
    optional, inner = _is_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{key} must be a {_type_name(tp)}, got None")
    tp = inner
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key} = {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {type(value).__name__} {value!r}")
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping of {tp.__name__} keys, got {value!r}")
        return tp.from_dict(value, prefix=f"{key}.")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key} must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def _check_range(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if v is None or isinstance(v, (Config, dict)):
            continue
        choices = meta.get("choices")
        if choices is not None and v not in choices:
            raise ConfigError(f"{key} = {v!r} is not one of {', '.join(map(repr, choices))}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and (v <= lo if meta.get("min_exclusive") else v < lo):
            raise ConfigError(
                f"{key} = {v!r} must be {'>' if meta.get('min_exclusive') else '>='} {lo}"
            )
        if hi is not None and (v >= hi if meta.get("max_exclusive") else v > hi):
            raise ConfigError(
                f"{key} = {v!r} must be {'<' if meta.get('max_exclusive') else '<='} {hi}"
            )


@dataclasses.dataclass
class Config:
    """Base class of validated dataclass configs."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, prefix: str = "") -> None:
        """Type- and range-check every field; raises ConfigError naming the key."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            key = prefix + f.name
            value = _coerce(key, getattr(self, f.name), hints[f.name])
            _check_range(key, value, f.metadata)
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Cross-field checks; subclasses override and raise ConfigError."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], *, prefix: str = "") -> C:
        """Build from a mapping; unknown keys are an error that lists the valid ones."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a {cls.__name__} must be a mapping of keys to values, got {data!r}")
        valid = cls.field_names()
        for key in data:
            if key not in valid:
                raise ConfigError(
                    f"unknown key {prefix}{key!s} in {cls.__name__}; valid keys: {', '.join(valid)}"
                )
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in data.items()}
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise ConfigError(f"{cls.__name__}: {exc}") from exc
        except ConfigError as exc:  # messages start with the key: make it the dotted key
            if not prefix:
                raise
            raise ConfigError(f"{prefix}{exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists, not tuples) suitable for JSON, YAML and checkpoints."""

        def plain(v: Any) -> Any:
            if isinstance(v, Config):
                return v.to_dict()
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with some fields changed."""
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def from_yaml(cls: type[C], path: str | Path) -> C:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
        return cls.from_dict(data)

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(
    parser: argparse.ArgumentParser, cls: type[Config], *, exclude: tuple[str, ...] = ()
) -> None:
    """Add one ``--kebab-case`` option per field of ``cls`` (default ``None`` = not given)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.metadata.get("cli", True):
            continue
        _, tp = _is_optional(hints[f.name])
        origin = get_origin(tp)
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        kw: dict[str, Any] = {"default": None, "help": help_text, "dest": f.name}
        if tp is bool:
            parser.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, **kw)
            continue
        if origin in (list, tuple):
            args = get_args(tp)
            kw["nargs"] = "+"
            kw["type"] = args[0] if args and args[0] in (int, float, str) else str
        elif origin is Literal:
            kw["choices"] = get_args(tp)
            kw["type"] = type(get_args(tp)[0])
        elif tp in (int, float, str):
            kw["type"] = tp
        else:
            continue
        if f.metadata.get("choices") and "choices" not in kw:
            kw["choices"] = f.metadata["choices"]
        parser.add_argument(_flag(f.name), metavar=f.name.upper(), **kw)


def config_from_args(
    cls: type[C], args: argparse.Namespace, base: Mapping[str, Any] | None = None
) -> C:
    """``base`` (e.g. a preset), then ``args.config`` YAML if given, then explicit CLI options."""
    data: dict[str, Any] = dict(base or {})
    path = getattr(args, "config", None)
    if path:
        data.update(_yaml_mapping(path))
    for key in cls.field_names():
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    return cls.from_dict(data)


def _yaml_mapping(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return data
