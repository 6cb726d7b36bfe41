"""The attack registry: every attack registers itself with its properties (one module per attack).

``@register_attack("pgd", white_box=True, strength=30, ...)`` on an :class:`Attack` subclass
records an :class:`AttackEntry`. Everything that needs the list of attacks reads it from here:
:func:`resode.attacks.make_attack`, the validation and help strings of
:class:`resode.robustness.RobustnessConfig`, the cascade's order (:attr:`AttackEntry.strength`,
weakest first), the keyword arguments the robustness engine passes (:attr:`AttackEntry.options`),
RobustBench's fallback set and the parametrised attack tests. Every module of
``resode.attacks`` is imported (:func:`_ensure_loaded`), so a new attack is one new module there;
an attack defined elsewhere (a test, a plug-in) registers when its module is imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from resode.errors import ResodeError, unknown_name_error

#: modules of ``resode.attacks`` that define no attack
_NOT_ATTACKS = frozenset({"base", "registry"})


def no_options(config: Any) -> dict[str, Any]:
    """The keyword arguments of an attack that reads nothing from a ``RobustnessConfig``."""
    return {}


@dataclass(frozen=True)
class AttackEntry:
    """One registered attack and the properties its users read."""

    name: str
    cls: type
    #: a gradient attack on the evaluated model: may be declared in ``RobustnessConfig.attacks``
    white_box: bool = False
    #: needs no gradient (random search)
    gradient_free: bool = False
    #: several steps (``steps`` iterations)
    iterative: bool = False
    #: the cascade's order, weakest first (ties: by name)
    strength: int = 0
    #: in the default declared set of a robustness claim
    default: bool = False
    #: in the paper's per-attack table (``papers.md`` A.4): its own accuracy is measured
    paper: bool = False
    #: in RobustBench's fallback set (:func:`resode.robustness.benchmark.evaluate_benchmark`)
    fallback: bool = False
    #: takes ``early_stop=``
    early_stop: bool = True
    #: takes the IFGSM/PGD step size ``alpha`` of the config's step rule at each ε
    step_size: bool = False
    #: keyword arguments from a ``RobustnessConfig`` (steps, restarts, ...)
    options: Callable[[Any], dict[str, Any]] = no_options
    aliases: tuple[str, ...] = ()
    description: str = ""


_REGISTRY: dict[str, AttackEntry] = {}
_ALIASES: dict[str, str] = {}
_loaded = False

A = TypeVar("A", bound=type)


def register_attack(name: str, **properties: Any) -> Callable[[A], A]:
    """Class decorator registering an attack under ``name`` with :class:`AttackEntry`'s
    ``properties``; the description defaults to the first line of the class docstring."""

    def decorator(cls: A) -> A:
        old = _REGISTRY.get(name)
        if old is not None and old.cls.__qualname__ != cls.__qualname__:
            raise ResodeError(f"attack {name!r} registered twice ({old.cls} and {cls})")
        doc = (cls.__doc__ or "").strip().splitlines()
        props = {"description": doc[0] if doc else "", **properties}
        entry = AttackEntry(name=name, cls=cls, **props)
        _REGISTRY[name] = entry
        for alias in entry.aliases:
            _ALIASES[alias] = name
        return cls

    return decorator


def unregister_attack(name: str) -> None:
    """Remove ``name`` and its aliases (tests that register a toy attack clean up with it)."""
    entry = _REGISTRY.pop(name, None)
    for alias in entry.aliases if entry else ():
        _ALIASES.pop(alias, None)


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        import resode.attacks as package

        for info in pkgutil.iter_modules(package.__path__):
            if info.name not in _NOT_ATTACKS:
                importlib.import_module(f"{package.__name__}.{info.name}")
        _loaded = True


def _entries() -> list[AttackEntry]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda e: (e.strength, e.name))


def list_attacks() -> list[str]:
    """Every registered attack, weakest first (aliases such as ``bim`` are not listed)."""
    return [e.name for e in _entries()]


def white_box_attacks() -> list[str]:
    """The attacks ``RobustnessConfig.attacks`` may declare, weakest first."""
    return [e.name for e in _entries() if e.white_box]


def default_attacks() -> list[str]:
    """The default declared attack set of a robustness claim, weakest first."""
    return [e.name for e in _entries() if e.default]


def paper_attacks() -> list[str]:
    """The attacks of the paper's per-attack table, weakest first."""
    return [e.name for e in _entries() if e.paper]


def fallback_attacks() -> list[str]:
    """RobustBench's fallback set (when pyautoattack is missing), weakest first."""
    return [e.name for e in _entries() if e.fallback]


def canonical_attack_name(name: str) -> str:
    """The registered name of ``name`` or of its alias (case and spaces ignored)."""
    _ensure_loaded()
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise unknown_name_error("attack", name, list_attacks())
    return key


def attack_entry(name: str) -> AttackEntry:
    """The :class:`AttackEntry` of ``name`` (or an alias); unknown: a one-line error."""
    return _REGISTRY[canonical_attack_name(name)]


def by_strength(names: list[str]) -> list[str]:
    """``names`` in the cascade's order (weakest first; a stable sort)."""
    return sorted(names, key=lambda n: attack_entry(n).strength)


__all__ = [
    "AttackEntry",
    "attack_entry",
    "by_strength",
    "canonical_attack_name",
    "default_attacks",
    "fallback_attacks",
    "list_attacks",
    "no_options",
    "paper_attacks",
    "register_attack",
    "unregister_attack",
    "white_box_attacks",
]
