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
from resode.attacks.square import Square
from resode.attacks.transfer import TransferAttack
from resode.errors import unknown_name_error

ATTACKS: dict[str, type[Attack]] = {
    "fgsm": FGSM,
    "ifgsm": IFGSM,
    "pgd": PGD,
    "autoattack": AutoAttack,
    "transfer": TransferAttack,
    "square": Square,
    "apgd-ce": APGDCE,
    "apgd-dlr": APGDDLR,
}
_ALIASES = {
    "bim": "ifgsm",
    "i-fgsm": "ifgsm",
    "aa": "autoattack",
    "apgd": "apgd-ce",
    "apgd_ce": "apgd-ce",
    "apgd_dlr": "apgd-dlr",
}


def list_attacks() -> list[str]:
    """Names accepted by :func:`make_attack` (``bim`` is an alias of ``ifgsm``)."""
    return list(ATTACKS)


def canonical_attack_name(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in ATTACKS:
        raise unknown_name_error("attack", name, list_attacks())
    return key


def make_attack(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """Build attack ``name`` on ``model`` (``eps=``, ``norm=``, and attack-specific options).

    For ``transfer`` pass ``surrogate=<model>``.
    """
    cls = ATTACKS[canonical_attack_name(name)]
    return cls(model, **kwargs)


__all__ = [
    "APGD",
    "APGDCE",
    "APGDDLR",
    "ATTACKS",
    "BIM",
    "FGSM",
    "IFGSM",
    "NORMS",
    "PGD",
    "Attack",
    "AutoAttack",
    "Square",
    "TransferAttack",
    "autoattack_available",
    "canonical_attack_name",
    "check_eps",
    "frozen_eval",
    "list_attacks",
    "make_attack",
    "per_sample_norm",
]
