"""CUDA graphs for the training step's forward and backward (``speed.cuda_graphs``).

A ResNet step on small images is bound by kernel launches, not arithmetic: In-ResNet-110 issues
hundreds of small kernels per step. :class:`GraphedForward` captures the model's training-mode
forward and backward once, on the first full-size batch, with
``torch.cuda.make_graphed_callables``; every later full-size batch replays the two graphs (one
launch each). Batches of another shape (the epoch's last, partial batch) and eval mode run the
ordinary module. The capture's warm-up passes would move the BatchNorm running statistics, so
every buffer is restored afterwards: the captured step computes what the eager step computes
(up to kernel choice). CUDA only; :func:`cuda_graphs_plan` says when it falls back and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Capture = Callable[[nn.Module, tuple[torch.Tensor, ...]], Any]


def cuda_graphs_plan(
    wanted: bool, device: torch.device, *, compiled: bool, distributed: bool
) -> tuple[bool, str | None]:
    """``(use graphs, one-line note or None)``: graphs need CUDA, no torch.compile (its
    reduce-overhead mode captures graphs itself) and a single process."""
    if not wanted:
        return False, None
    why = None
    if device.type != "cuda":
        why = f"they need CUDA, the device is {device.type}"
    elif compiled:
        why = "torch.compile is on (use compile_mode reduce-overhead for its own graphs)"
    elif distributed:
        why = "DDP's gradient hooks are not captured"
    if why:
        return False, f"note: speed.cuda_graphs off: {why}; training eagerly"
    return True, None


class GraphedForward:
    """Call like the model: full-size training batches replay the captured graphs.

    ``capture`` is ``torch.cuda.make_graphed_callables`` (replaced in the CPU tests); it
    replaces ``model.forward`` with the graphed one, which :meth:`release` undoes.
    """

    def __init__(self, model: nn.Module, batch_size: int, capture: Capture | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.capture = capture or torch.cuda.make_graphed_callables
        self.shape: tuple[int, ...] | None = None
        self.eager: Callable[..., torch.Tensor] | None = None
        self.replays = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape is None and self.model.training and x.shape[0] == self.batch_size:
            self._capture(x)
        if self.eager is not None and self.model.training and tuple(x.shape) == self.shape:
            self.replays += 1
            return self.model(x)
        return (self.eager or self.model)(x)

    def _capture(self, x: torch.Tensor) -> None:
        saved = {k: v.detach().clone() for k, v in self.model.named_buffers()}
        self.eager = self.model.forward
        self.capture(self.model, (x.detach().clone(),))
        with torch.no_grad():  # undo the warm-up passes' BatchNorm updates
            for k, v in self.model.named_buffers():
                v.copy_(saved[k])
        self.shape = tuple(x.shape)

    def release(self) -> None:
        """Give the module its own forward back (the result of training is a plain module)."""
        if self.eager is not None and "forward" in vars(self.model):
            del self.model.forward
        self.eager, self.shape = None, None


__all__ = ["GraphedForward", "cuda_graphs_plan"]
