"""The four noise corruptions of CIFAR-10-C / CIFAR-100-C (Hendrycks & Dietterich 2019).

Pixels are in [0, 1]; every result is clipped to [0, 1] (``papers.md`` A.4)::

    gaussian_noise   x' = clip(x + σ·ε),        ε ~ N(0, 1),   σ = 0.04, 0.06, 0.08, 0.09, 0.10
    shot_noise       x' = clip(Poisson(c·x)/c),                 c = 500, 250, 100, 75, 50
    impulse_noise    x' = x except a fraction ``amount`` of the values (each channel value
                     independently, as skimage's ``random_noise(mode="s&p")`` does), set to
                     0 or 1 with probability 1/2 each;  amount = 0.01, 0.02, 0.03, 0.05, 0.07
    speckle_noise    x' = clip(x + x·σ·ε),      ε ~ N(0, 1),   σ = 0.06, 0.10, 0.12, 0.16, 0.20

The parameters are those of the official ``make_cifar_c.py``. ``strength`` s scales a level for
data sets on which the CIFAR-C levels are too weak to measure anything (results labelled
separately, e.g. ``gaussian_noise×3``): σ → s·σ (gaussian, speckle), amount → min(1, s·amount)
(impulse), c → c/s (shot: the noise variance x/c grows by s). Unlike the released ``.npy`` files
the result is not quantised to 8 bits. Corruptions are computed batched on the input's device;
randomness comes from the ``torch.Generator`` passed in (drawn on the generator's device, so a CPU
generator gives the same noise whatever the device of the images). Evaluation on the released
files goes through ``resode.data.load("cifar10-c", corruption=..., severity=...)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from resode.errors import ResodeError, unknown_name_error

#: severity 1..5 parameter of each corruption (CIFAR-10-C values, also used for CIFAR-100-C)
CORRUPTION_PARAMETERS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500.0, 250.0, 100.0, 75.0, 50.0),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),
}
SEVERITIES = (1, 2, 3, 4, 5)
_ALIASES = {"gaussian": "gaussian_noise", "shot": "shot_noise", "impulse": "impulse_noise"}
_ALIASES["speckle"] = "speckle_noise"


def list_corruptions() -> list[str]:
    """Canonical names (the CIFAR-C file names); ``gaussian`` etc. are accepted as aliases."""
    return list(CORRUPTION_PARAMETERS)


def canonical_name(name: str) -> str:
    """``"gaussian"``/``"gaussian-noise"`` → ``"gaussian_noise"``; unknown names raise."""
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in CORRUPTION_PARAMETERS:
        raise unknown_name_error("corruption", name, list_corruptions())
    return key


def corruption_parameter(name: str, severity: int, strength: float = 1.0) -> float:
    """σ, c or amount of corruption ``name`` at ``severity`` (1..5), scaled by ``strength``."""
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise ResodeError(f"corruption severity must be an integer 1..5, got {severity!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not strength > 0:
        raise ResodeError(f"corruption strength must be a number > 0, got {strength!r}")
    key = canonical_name(name)
    value = CORRUPTION_PARAMETERS[key][severity - 1]
    if key == "shot_noise":
        return value / strength
    if key == "impulse_noise":
        return min(1.0, value * strength)
    return value * strength


def corruption_label(name: str, strength: float = 1.0) -> str:
    """``gaussian_noise`` at the CIFAR-C levels, ``gaussian_noise×3`` at three times them; a
    released CIFAR-C file name (``fog``, read from the files) is its own label."""
    from resode.data.cifar_c_files import RELEASED_CORRUPTIONS

    key = name if strength == 1 and name in RELEASED_CORRUPTIONS else canonical_name(name)
    return key if strength == 1 else f"{key}×{strength:g}"


def _randn(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def _rand(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    dev = generator.device if generator is not None else x.device
    return torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def gaussian_noise(
    x: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """clip(x + σ·N(0, 1), 0, 1)."""
    return (x + sigma * _randn(x, generator)).clamp_(0.0, 1.0)


def shot_noise(x: torch.Tensor, c: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """clip(Poisson(c·x) / c, 0, 1): photon noise, variance x/c."""
    dev = generator.device if generator is not None else x.device
    rates = (x * c).to(dev)
    counts = torch.poisson(rates, generator=generator)
    return (counts.to(x.device) / c).clamp_(0.0, 1.0)


def impulse_noise(
    x: torch.Tensor, amount: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Salt-and-pepper: each value replaced with prob. ``amount`` by 1 or 0 (prob. 1/2 each)."""
    flipped = _rand(x, generator) < amount
    salted = _rand(x, generator) < 0.5
    out = x.clone()
    out[flipped & salted] = 1.0
    out[flipped & ~salted] = 0.0
    return out


def speckle_noise(
    x: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """clip(x + x·σ·N(0, 1), 0, 1): multiplicative noise."""
    return (x + x * (sigma * _randn(x, generator))).clamp_(0.0, 1.0)


_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
}


def corrupt(
    images: torch.Tensor,
    name: str,
    severity: int,
    generator: torch.Generator | None = None,
    *,
    strength: float = 1.0,
) -> torch.Tensor:
    """Corrupt a batch ``images`` (any shape, values in [0, 1]) with ``name`` at ``severity``
    (the level scaled by ``strength``, 1 = CIFAR-C).

    Returns a new tensor on ``images.device`` with values in [0, 1]; ``images`` is unchanged.
    The same ``generator`` state gives the same noise.
    """
    key = canonical_name(name)
    param = corruption_parameter(key, severity, strength)
    if not torch.is_tensor(images) or not images.is_floating_point():
        raise ResodeError("corrupt() needs a floating-point image tensor with values in [0, 1]")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ResodeError(
            "corrupt() needs images with values in [0, 1] (pixel space, before normalisation); "
            f"got range [{images.min().item():.3g}, {images.max().item():.3g}]"
        )
    with torch.no_grad():
        return _FUNCTIONS[key](images.detach(), param, generator)


__all__ = [
    "CORRUPTION_PARAMETERS",
    "SEVERITIES",
    "canonical_name",
    "corrupt",
    "corruption_label",
    "corruption_parameter",
    "gaussian_noise",
    "impulse_noise",
    "list_corruptions",
    "shot_noise",
    "speckle_noise",
]
