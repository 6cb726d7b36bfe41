"""One preset system: every YAML preset of every kind loads into its config, is listed by
``resode presets``, and a copied and edited preset runs through ``--config``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from resode.cli import main
from resode.errors import ConfigError, ResodeError
from resode.presets import KINDS, config_class, find_preset, get_preset, list_presets


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.id)
def test_every_preset_is_a_valid_config_that_sets_what_it_says(preset) -> None:  # type: ignore[no-untyped-def]
    assert preset.description and preset.hardware and preset.expected_wall_time
    cfg = get_preset(preset.name, kind=preset.kind)
    assert isinstance(cfg, config_class(preset.kind))
    expected = config_class(preset.kind).from_dict(
        {**preset.config, **({"preset": preset.name} if "preset" in cfg.field_names() else {})}
    )
    assert cfg == expected


def test_every_kind_has_presets_and_the_listing_shows_them(capsys) -> None:  # type: ignore[no-untyped-def]
    assert {p.kind for p in list_presets()} == set(KINDS)
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for p in list_presets():
        assert out.count(f"{p.id} ") == 1


def test_unknown_names_are_one_line_errors() -> None:
    with pytest.raises(ResodeError, match=r"unknown train preset 'nope'.*digits"):
        get_preset("nope")
    with pytest.raises(ResodeError, match="unknown preset kind"):
        list_presets("bogus")
    assert find_preset("reproduce", "reproduce/tiny").name == "tiny"


def test_a_copied_and_edited_preset_runs_through_config(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["presets", "--show", "train/digits"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    assert data["kind"] == "train" and data["config"]["model"] == "inresnet20"
    data["config"]["epochs"] = 3
    data["config"]["lr"] = 0.05
    mine = tmp_path / "my.yaml"
    mine.write_text(yaml.safe_dump(data))
    dumped = tmp_path / "resolved.yaml"
    assert main(["train", "--config", str(mine), "--dump-config", str(dumped)]) == 0
    resolved = yaml.safe_load(dumped.read_text())
    assert resolved["epochs"] == 3 and resolved["lr"] == 0.05 and resolved["image_size"] == 8
    # the same file as a plain mapping of keys, and a CLI option over it
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(data["config"]))
    assert main(["train", "--config", str(plain), "--dump-config", str(dumped)]) == 2  # exists
    dumped = tmp_path / "resolved4.yaml"
    assert (
        main(["train", "--config", str(plain), "--epochs", "4", "--dump-config", str(dumped)]) == 0
    )
    assert yaml.safe_load(dumped.read_text())["epochs"] == 4


def test_a_bad_value_in_a_preset_file_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"kind": "train", "name": "x", "config": {"lr": -1}}))
    with pytest.raises(ConfigError, match="lr"):
        get_preset(bad)


def test_the_powered_preset_is_the_recorded_powered_run() -> None:
    """`--preset paper-a-powered` runs exactly the paper-A config of the README's powered table
    (docs/results/powered.json), which is the default preset's paper-A design at 48 seeds."""
    import json

    root = Path(__file__).resolve().parents[1]
    recorded = json.loads((root / "docs" / "results" / "powered.json").read_text())["config"]
    powered = get_preset("paper-a-powered", kind="reproduce")
    assert powered.paper_a.to_dict() == recorded["paper_a"]
    assert not powered.sweep.enabled and not recorded["sweep"]["enabled"]
    assert not powered.paper_b.enabled and not recorded["paper_b"]["enabled"]
    default = get_preset("default", kind="reproduce").paper_a.to_dict()
    assert {k for k, v in powered.paper_a.to_dict().items() if default[k] != v} == {"seeds"}
