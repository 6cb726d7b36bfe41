"""The attack registry: a new attack is one module that registers itself, and every user of the
attack list (make_attack, RobustnessConfig, the cascade, help strings) reads the registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from resode.attacks import (
    Attack,
    attack_entry,
    default_attacks,
    fallback_attacks,
    list_attacks,
    make_attack,
    paper_attacks,
    register_attack,
    unregister_attack,
    white_box_attacks,
)
from resode.errors import ConfigError, ResodeError
from resode.robustness import RobustnessConfig, evaluate_models
from resode.robustness.results import eps_label


class BrightenAttack(Attack):
    """Toy attack: every pixel + ε (clipped), no gradient."""

    masks_inactive = False

    def _perturb(self, x, y, t, generator):  # type: ignore[no-untyped-def]
        return self.project(x + self.eps, x)


@pytest.fixture
def toy_attack() -> Iterator[str]:
    """``_brighten`` registered between FGSM (10) and IFGSM (20) for the test only."""
    register_attack("_brighten", white_box=True, strength=15, aliases=("_bright",))(BrightenAttack)
    yield "_brighten"
    unregister_attack("_brighten")


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(1), nn.Linear(16, 3)).eval()


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(24, 1, 4, 4, generator=g)
    with torch.no_grad():
        y = linear_model()(x).argmax(1)  # every clean point correct
    y[:3] = (y[:3] + 1) % 3  # except three
    return x, y


def test_registry_lists_the_built_in_attacks_with_their_properties() -> None:
    assert list_attacks()[:5] == ["fgsm", "ifgsm", "pgd", "apgd-ce", "apgd-dlr"]
    assert white_box_attacks() == ["fgsm", "ifgsm", "pgd", "apgd-ce", "apgd-dlr"]
    assert default_attacks() == white_box_attacks()
    assert paper_attacks() == ["fgsm", "ifgsm", "pgd"]
    assert fallback_attacks() == ["fgsm", "pgd", "square"]
    assert attack_entry("square").gradient_free and not attack_entry("square").white_box
    assert attack_entry("BIM").name == "ifgsm" and attack_entry("ifgsm").iterative
    assert not attack_entry("autoattack").early_stop
    cfg = RobustnessConfig()
    assert attack_entry("pgd").options(cfg) == {"steps": cfg.steps, "restarts": cfg.restarts}
    assert attack_entry("apgd-ce").options(cfg) == {"steps": cfg.apgd_steps}
    help_text = RobustnessConfig.__dataclass_fields__["attacks"].metadata
    assert "apgd-dlr" in str(help_text)


def test_a_registered_attack_is_usable_everywhere(toy_attack: str) -> None:
    model = linear_model()
    x, y = data()
    assert toy_attack in list_attacks() and toy_attack in white_box_attacks()
    assert type(make_attack("_BRIGHT", model, eps=0.1)) is BrightenAttack
    # the cascade's order comes from the strength, whatever order the user wrote
    cfg = RobustnessConfig(
        attacks=["pgd", "_bright", "fgsm"],
        per_attack=["_brighten"],
        eps=[0.05, 0.2],
        steps=3,
        corruptions=["none"],
        n_samples=None,
        batch_size=10,
        device="cpu",
    )
    assert cfg.attacks == ["fgsm", "_brighten", "pgd"]
    (res,) = evaluate_models([("m", model)], x, y, cfg, progress=False)
    assert list(res.cumulative) == ["fgsm", "_brighten", "pgd"]
    with torch.no_grad():
        clean_ok = model(x).argmax(1) == y
        for eps in (0.05, 0.2):
            adv_ok = model((x + eps).clamp(0, 1)).argmax(1) == y
            expected = int((adv_ok & clean_ok).sum()) / len(y)
            assert res.attacks["_brighten"][eps_label(eps)] == expected
    for lev, acc in res.robust.items():
        assert acc <= min(res.attacks[a][lev] for a in res.attacks)


def test_config_refuses_unknown_and_non_white_box_attacks(toy_attack: str) -> None:
    with pytest.raises(ConfigError, match=r"attacks = 'deepfool'.*unknown attack"):
        RobustnessConfig(attacks=["deepfool"])
    with pytest.raises(ConfigError, match="--autoattack"):
        RobustnessConfig(attacks=["square"])
    with pytest.raises(ConfigError, match="transfer_attack"):
        RobustnessConfig(transfer_attack="transfer")
    assert RobustnessConfig(transfer_attack="_brighten").transfer_attack == "_brighten"


def test_registering_another_class_under_a_taken_name_fails() -> None:
    with pytest.raises(ResodeError, match="registered twice"):
        register_attack("pgd", white_box=True)(BrightenAttack)
    assert attack_entry("pgd").cls.__name__ == "PGD"
