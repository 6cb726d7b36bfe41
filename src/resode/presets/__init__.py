"""Every named preset of resode, one YAML file each, and the one loader that reads them.

A preset is a file ``resode/presets/<kind>/<name>.yaml`` shipped with the package::

    kind: train                  # which command and config it is for (see KINDS)
    name: digits
    description: In-ResNet-20 on the embedded digits ...
    hardware: 2 CPU cores
    expected_wall_time: about a minute per model
    compare_with: test accuracy ~99 %
    config:                      # keys of the kind's config class; the rest keep their defaults
      model: inresnet20
      epochs: 15

``resode presets`` lists them all; ``resode presets --show train/digits > my.yaml`` prints one to
copy; ``--config my.yaml`` passes the edited copy to the matching command (a preset file or a plain
mapping of config keys). In Python: ``resode.get_preset("digits")`` (kind ``train``) or
``resode.get_preset("tiny", kind="reproduce")``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from resode.config import Config, config_file_mapping, merge_nested
from resode.errors import ConfigError, unknown_name_error

#: preset kind → the config class its ``config:`` entry fills (module:class)
KINDS: dict[str, str] = {
    "train": "resode.training.config:TrainConfig",
    "reproduce": "resode.reproduce.config:ReproduceConfig",
    "ode/depth-sweep": "resode.ode.experiments.depth_sweep:DepthSweepConfig",
    "ode/long-time": "resode.ode.experiments.long_time:LongTimeConfig",
    "ode/weights": "resode.ode.experiments.weights:WeightsConfig",
    "ode/relu-counterexample": "resode.ode.experiments.relu:ReluCounterexampleConfig",
    "ode/cifar": "resode.ode.experiments.table1:CifarConfig",
}
_INFO_KEYS = ("description", "hardware", "expected_wall_time", "compare_with")


@dataclass(frozen=True)
class Preset:
    """One preset file: what it is for, and the config keys it sets."""

    kind: str
    name: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)
    hardware: str = ""
    expected_wall_time: str = ""
    compare_with: str = ""
    path: str = ""

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    def info(self) -> dict[str, str]:
        return {
            "name": self.name,
            "what": self.description,
            **{k: getattr(self, k) for k in _INFO_KEYS[1:]},
        }

    def text(self) -> str:
        """The file's text (what ``resode presets --show`` prints)."""
        return Path(self.path).read_text()


def config_class(kind: str) -> type[Config]:
    """The config class of preset ``kind``."""
    if kind not in KINDS:
        raise unknown_name_error("preset kind", kind, list(KINDS))
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def _folder() -> Path:
    return Path(str(resources.files("resode.presets")))


def _read(path: Path) -> Preset:
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    kind = path.parent.relative_to(_folder()).as_posix()
    if data.get("kind") != kind or data.get("name") != path.stem:
        raise ConfigError(f"preset file {path} must say kind: {kind} and name: {path.stem}")
    return Preset(
        kind=kind,
        name=path.stem,
        description=str(data.get("description", "")).strip(),
        config=dict(data.get("config") or {}),
        hardware=str(data.get("hardware", "")).strip(),
        expected_wall_time=str(data.get("expected_wall_time", "")).strip(),
        compare_with=str(data.get("compare_with", "")).strip(),
        path=str(path),
    )


def list_presets(kind: str | None = None) -> list[Preset]:
    """Every preset (of one ``kind``), sorted by kind then name."""
    if kind is not None:
        config_class(kind)  # unknown kind: error listing the valid ones
    kinds = [kind] if kind else list(KINDS)
    out = []
    for k in kinds:
        folder = _folder() / k
        out += [_read(p) for p in sorted(folder.glob("*.yaml"))]
    return out


def preset_names(kind: str) -> list[str]:
    return [p.name for p in list_presets(kind)]


def find_preset(kind: str, name: str) -> Preset:
    """The preset ``name`` of ``kind`` (``kind/name`` also accepted as ``name``)."""
    if "/" in name and name.rsplit("/", 1)[0] in KINDS:
        kind, name = name.rsplit("/", 1)
    for p in list_presets(kind):
        if p.name == name:
            return p
    raise unknown_name_error(f"{kind} preset", name, preset_names(kind))


def preset_mapping(kind: str, name_or_path: str | Path) -> dict[str, Any]:
    """The config keys of a named preset, or of a YAML file (preset format or plain mapping)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return config_file_mapping(path)
    return dict(find_preset(kind, str(name_or_path)).config)


def get_preset(name: str | Path, *, kind: str = "train", **overrides: Any) -> Config:
    """The validated config of preset ``name`` (or a YAML file) of ``kind``, with ``overrides``
    (nested configs take nested mappings, e.g. ``paper_a={"epochs": 2}``)."""
    cls = config_class(kind)
    data = preset_mapping(kind, name)
    data = merge_nested(data, {k: v for k, v in overrides.items() if v is not None})
    if "preset" in cls.field_names() and "preset" not in overrides:
        data["preset"] = Path(name).stem if str(name).endswith((".yaml", ".yml")) else str(name)
    return cls.from_dict(data)


def find_preset_by_name(name: str) -> list[Preset]:
    """Every preset called ``name``, of any kind."""
    return [p for p in list_presets() if p.name == name]


__all__ = [
    "KINDS",
    "Preset",
    "config_class",
    "find_preset",
    "get_preset",
    "list_presets",
    "preset_mapping",
    "preset_names",
]
