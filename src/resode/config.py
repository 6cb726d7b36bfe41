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
import math
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
    pixels: bool = False,
) -> Any:
    """A dataclass field with help text and validation bounds (mutable defaults are copied).

    ``pixels=True`` marks a pixel-valued number (or list of numbers) such as an attack radius: it
    also accepts fractions like ``"8/255"`` from YAML files and the command line.
    """
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "min_exclusive": min_exclusive,
        "max_exclusive": max_exclusive,
        "choices": choices,
        "cli": cli,
        "pixels": pixels,
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


def parse_pixels(text: str | float | int) -> float:
    """A pixel value: ``8/255`` → 0.03137…, ``0.03`` → 0.03 (numbers pass through).

    Raises :class:`ConfigError` naming the accepted forms.
    """
    if isinstance(text, bool):
        raise ConfigError(f"invalid pixel value {text!r}; write a number like 0.031 or 8/255")
    if isinstance(text, (int, float)):
        return float(text)
    from fractions import Fraction

    try:
        s = str(text).strip()
        value = float(Fraction(s)) if "/" in s else float(s)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(
            f"invalid pixel value {text!r}; write a number like 0.031 or a fraction like 8/255"
        ) from exc
    return value


def _argparse_pixels(text: str) -> float:
    try:
        return parse_pixels(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


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
        try:
            out = float(value)
        except OverflowError as exc:  # an int beyond float range
            raise ConfigError(f"{key} = {value!r} is too large; give a finite number") from exc
        if not math.isfinite(out):
            raise ConfigError(f"{key} = {value!r} is not a finite number; give a finite number")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def _pixels_value(key: str, value: Any) -> Any:
    """Fractions such as ``"8/255"`` (alone or in a list) → floats; anything else unchanged."""
    try:
        if isinstance(value, str):
            return parse_pixels(value)
        if isinstance(value, (list, tuple)):
            return [parse_pixels(v) if isinstance(v, str) else v for v in value]
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    return value


SEED_LIMIT = 2**63
"""Seeds lie in ``[0, 2**63)``: ``torch.manual_seed``/``Generator.manual_seed`` take a 64-bit
integer (``2**64`` overflows "unpacking long long"), derived seeds are stored in int64 tensors
and numpy's ``default_rng`` takes any non-negative integer: the int64 range is what all accept."""


def _is_seed_key(key: str) -> bool:
    """``seed``, ``seeds``, ``attack_seed``, ``paper_a.seeds[3]`` … (one rule for every config)."""
    last = key.rsplit(".", 1)[-1].split("[", 1)[0]
    return last in ("seed", "seeds") or last.endswith(("_seed", "_seeds"))


def _check_range(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    values = value if isinstance(value, (list, tuple)) else [value]
    if _is_seed_key(key):
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v < SEED_LIMIT:
                raise ConfigError(f"{key} = {v!r} must be >= 0 and < 2**63 (a 64-bit seed)")
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
            value = getattr(self, f.name)
            if f.metadata.get("pixels"):
                value = _pixels_value(key, value)
            value = _coerce(key, value, hints[f.name])
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
        pixel_keys = {f.name for f in dataclasses.fields(cls) if f.metadata.get("pixels")}
        data = _over_nested_defaults(cls, data)
        kwargs = {
            k: _coerce(prefix + k, _pixels_value(prefix + k, v) if k in pixel_keys else v, hints[k])
            for k, v in data.items()
        }
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise ConfigError(f"{cls.__name__}: {exc}") from exc
        except ConfigError as exc:  # messages start with the key: make it the dotted key
            if not prefix or str(exc).startswith(prefix):  # no "paper_a.paper_a.seeds"
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
        """A validated copy with some fields changed; a mapping given for a nested config
        changes only its keys (``cfg.replace(paper_a={"seeds": [0, 1]})``)."""
        data = self.to_dict()
        for k, v in changes.items():
            nested = getattr(self, k, None)
            data[k] = (
                merge_nested(data[k], v)
                if isinstance(nested, Config) and isinstance(v, Mapping)
                else v
            )
        return type(self).from_dict(data)

    @classmethod
    def from_yaml(cls: type[C], path: str | Path) -> C:
        """Read a YAML file of this config's keys (or a preset file with a ``config:`` entry)."""
        return cls.from_dict(config_file_mapping(path))

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            from resode.checkpoint import atomic_write_text

            atomic_write_text(path, text)
        return text


def _over_nested_defaults(cls: type[Config], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every mapping given for a nested config merged over that field's default
    instance: ``{"robustness": {"eps": [...]}}`` keeps the other keys of the field's default
    (which may differ from the nested class's own defaults), not of a fresh instance."""
    out = dict(data)
    for f in dataclasses.fields(cls):
        value = out.get(f.name)
        if not isinstance(value, Mapping) or f.default_factory is dataclasses.MISSING:
            continue
        default = f.default_factory()
        if isinstance(default, Config):
            out[f.name] = merge_nested(default.to_dict(), value)
    return out


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two ``to_dict`` mappings (``paper_a.seeds``)."""
    keys = list(dict.fromkeys([*old, *new]))
    out: list[str] = []
    for k in keys:
        a, b = old.get(k, dataclasses.MISSING), new.get(k, dataclasses.MISSING)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += config_diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type[Config],
    *,
    exclude: tuple[str, ...] = (),
    prefix: str = "",
    defaults: Config | None = None,
) -> None:
    """Add one ``--kebab-case`` option per field of ``cls`` (default ``None`` = not given).

    A nested config field ``paper_a: PaperAConfig`` becomes dotted options ``--paper-a.seeds``
    (stored under the dotted key ``paper_a.seeds``; deeper: ``--paper-a.robustness.eps``);
    ``exclude`` takes dotted keys too. The help texts show the defaults of ``defaults`` (the
    nested field's default instance).
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if key in exclude or not f.metadata.get("cli", True):
            continue
        _, tp = _is_optional(hints[f.name])
        default = _field_default(f) if defaults is None else getattr(defaults, f.name)
        if isinstance(tp, type) and issubclass(tp, Config):
            nested = default if isinstance(default, Config) else None
            add_config_arguments(parser, tp, exclude=exclude, prefix=key + ".", defaults=nested)
            continue
        kw = _argument_kwargs(f, tp, default)
        if kw is None:
            continue
        kw["dest"] = key
        if tp is bool:
            parser.add_argument(_flag(key), action=argparse.BooleanOptionalAction, **kw)
        else:
            parser.add_argument(_flag(key), metavar=f.name.upper(), **kw)


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default if f.default is not dataclasses.MISSING else None


def _argument_kwargs(f: dataclasses.Field, tp: Any, default: Any) -> dict[str, Any] | None:
    """argparse keyword arguments of one field (None: not settable from the command line)."""
    origin = get_origin(tp)
    kw: dict[str, Any] = {
        "default": None,
        "help": f"{f.metadata.get('help', '')} (default: {default})",
    }
    if tp is bool:
        return kw
    if origin in (list, tuple):
        args = get_args(tp)
        kw["nargs"] = "+"
        kw["type"] = args[0] if args and args[0] in (int, float, str) else str
        if f.metadata.get("pixels"):
            kw["type"] = _argparse_pixels
    elif origin is Literal:
        kw["choices"] = get_args(tp)
        kw["type"] = type(get_args(tp)[0])
    elif f.metadata.get("pixels"):
        kw["type"] = _argparse_pixels
    elif tp in (int, float, str):
        kw["type"] = tp
    else:
        return None
    if f.metadata.get("choices") and "choices" not in kw:
        kw["choices"] = f.metadata["choices"]
    return kw


def merge_nested(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, recursing into nested mappings (a preset + a user's YAML)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_nested(out[k], v)
        else:
            out[k] = v
    return out


def config_from_args(
    cls: type[C], args: argparse.Namespace, base: Mapping[str, Any] | None = None
) -> C:
    """``base`` (e.g. a preset), then ``args.config`` YAML if given, then explicit CLI options
    (dotted keys such as ``paper_a.robustness.eps`` go into the nested config)."""
    data: dict[str, Any] = dict(base or {})
    path = getattr(args, "config", None)
    if path:
        data = merge_nested(data, config_file_mapping(path))
    for key, value in vars(args).items():
        if value is None:
            continue
        head, _, rest = key.partition(".")
        if head not in cls.field_names():
            continue
        if rest:
            data = merge_nested(data, _dotted(key, value))
        else:
            data[key] = value
    return cls.from_dict(data)


def _dotted(key: str, value: Any) -> dict[str, Any]:
    """``("a.b.c", v)`` → ``{"a": {"b": {"c": v}}}``."""
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def config_file_mapping(path: str | Path) -> dict[str, Any]:
    """The keys of a YAML config file: a plain mapping of config keys, or a preset file
    (``resode presets --show``) whose ``config:`` entry holds them."""
    data = _yaml_mapping(path)
    if "config" in data and isinstance(data["config"], Mapping) and "kind" in data:
        return dict(data["config"])
    return data


def _yaml_mapping(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {str(path)!r} cannot be read ({type(exc).__name__}); give a YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return data


RESUME_OVERRIDES = "resume_overrides.json"
"""Every accepted ``--resume-override`` of a run folder: the changed keys, old → new (appended)."""


def record_override(
    path: str | Path, diff: list[str], old: dict[str, Any], new: dict[str, Any]
) -> None:
    """Append one accepted override (each dotted key of ``diff``: recorded and new value) to the
    JSON list in ``path`` (``resume_overrides.json`` of the run folder), atomically."""
    import json

    from resode.checkpoint import atomic_write_bytes

    def at(d: Any, key: str) -> Any:
        for part in key.split("."):
            d = d.get(part) if isinstance(d, dict) else None
        return d

    path = Path(path)
    try:
        rows = json.loads(path.read_text())
        rows = rows if isinstance(rows, list) else []
    except (OSError, ValueError):
        rows = []
    rows.append({k: {"recorded": at(old, k), "now": at(new, k)} for k in diff})
    text = json.dumps(rows, indent=2, default=str)
    atomic_write_bytes(path, lambda fh: fh.write(text.encode()))
