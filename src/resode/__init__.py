"""resode: residual networks as discretised ODEs.

Public API, re-exported from the modules that define it:

* models: :func:`create_model`, :func:`list_models`, :func:`register_model`
* checkpoints: :func:`save_checkpoint`, :func:`load_checkpoint`
* errors: :class:`ResodeError`
"""

from resode._version import __version__
from resode.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from resode.errors import ResodeError
from resode.registry import create_model, list_models, register_model

__all__ = [
    "Checkpoint",
    "ResodeError",
    "__version__",
    "create_model",
    "list_models",
    "load_checkpoint",
    "register_model",
    "save_checkpoint",
]
