"""The one plotting helper: matplotlib's pyplot on the Agg backend, and the atomic PNG writer.

Matplotlib is imported inside the functions, so ``import resode`` does not load it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend selected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically and close it.

    Missing parent folders are created; a figure without a layout engine of its own gets
    ``tight_layout`` (one built with ``layout="constrained"`` keeps it). Returns the path.
    """
    from resode.checkpoint import atomic_savefig

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=dpi)
    finally:
        pyplot().close(fig)
    return path
