"""Adversarial attacks in [0, 1] pixel space, callable like torchattacks: ``attack(x, y) -> x_adv``.

==============  =================================================================
``fgsm``        :class:`FGSM`: one step of size ε (L∞ sign step or L2 normalised step)
``ifgsm``       :class:`IFGSM` (BIM): 20 steps of α = 1/255, projection around the clean x
``pgd``         :class:`PGD`: IFGSM + uniform random start in the ε-ball, restarts
``autoattack``  :class:`AutoAttack`: standard AutoAttack (optional ``pyautoattack``)
``transfer``    :class:`TransferAttack`: crafted on a surrogate model, evaluated on the target
``square``      :class:`Square`: gradient-free random search (L∞), the masking check
``apgd-ce``     :class:`APGDCE`: Auto-PGD on cross-entropy (Croce & Hein 2020), own implementation
``apgd-dlr``    :class:`APGDDLR`: Auto-PGD on the shift/scale-invariant DLR loss
==============  =================================================================

Each attack registers itself (:mod:`resode.attacks.registry`: name, class, white-box,
gradient-free, iterative, strength = the cascade's order); :func:`make_attack`, the robustness
config's validation and help, and the cascade read the registry, so a new attack is one module.

Every attack leaves the model's mode, parameters and ``requires_grad`` flags as they were; see
:mod:`resode.attacks.base` for the exact guarantees and for early stopping.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resode.attacks.apgd import APGD, APGDCE, APGDDLR
from resode.attacks.autoattack import AutoAttack, autoattack_available
from resode.attacks.base import NORMS, Attack, check_eps, frozen_eval, per_sample_norm
from resode.attacks.fgsm import FGSM
from resode.attacks.ifgsm import BIM, IFGSM
from resode.attacks.pgd import PGD
from resode.attacks.registry import (
    AttackEntry,
    attack_entry,
    by_strength,
    canonical_attack_name,
    default_attacks,
    fallback_attacks,
    list_attacks,
    paper_attacks,
    register_attack,
    unregister_attack,
    white_box_attacks,
)
from resode.attacks.square import Square
from resode.attacks.transfer import TransferAttack


def make_attack(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """Build attack ``name`` on ``model`` (``eps=``, ``norm=``, and attack-specific options).

    For ``transfer`` pass ``surrogate=<model>``.
    """
    return attack_entry(name).cls(model, **kwargs)


__all__ = [
    "APGD",
    "APGDCE",
    "APGDDLR",
    "BIM",
    "FGSM",
    "IFGSM",
    "NORMS",
    "PGD",
    "Attack",
    "AttackEntry",
    "AutoAttack",
    "Square",
    "TransferAttack",
    "attack_entry",
    "autoattack_available",
    "by_strength",
    "canonical_attack_name",
    "check_eps",
    "default_attacks",
    "fallback_attacks",
    "frozen_eval",
    "list_attacks",
    "make_attack",
    "paper_attacks",
    "per_sample_norm",
    "register_attack",
    "unregister_attack",
    "white_box_attacks",
]
