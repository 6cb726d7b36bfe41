"""The shape every image classifier in resode shares (paper A and the paper B CIFAR net).

    x ∈ [0, 1]^{N×C×H×W} → normalize → stem → h_0 → blocks[0] → h_1 → … → h_B → head → logits

``blocks`` is an ``nn.ModuleList`` of residual blocks, each a map h_n ↦ h_{n+1} (a damped block
computes g_n(h) = (1 − λ_n)·s_n(h) + f_n(h), s_n the identity or a projection shortcut).
Analysis code (Lyapunov amplification, feature drift) relies only on this interface.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualClassifier(nn.Module):
    """``normalize → stem → blocks → head`` with access to every hidden state."""

    def __init__(
        self, normalize: nn.Module, stem: nn.Module, blocks: nn.ModuleList, head: nn.Module
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.stem = stem
        self.blocks = blocks
        self.head = head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """h_0 = stem(normalize(x))."""
        return self.stem(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[h_0, h_1, …, h_B]: the input of every block and the output of the last one."""
        states = [self.embed(x)]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states

    def interpolation_coefficients(self) -> dict[str, torch.Tensor]:
        """λ of every damped block, keyed ``"blocks.<i>"`` (detached; empty for a plain ResNet).

        A block takes part when it has a method ``interpolation_coefficient()`` returning a tensor
        (scalar, or one value per channel) or ``None`` for an undamped block.
        """
        out: dict[str, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            get = getattr(block, "interpolation_coefficient", None)
            if get is None:
                continue
            lam = get()
            if lam is not None:
                out[f"blocks.{i}"] = lam.detach()
        return out
