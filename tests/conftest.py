"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from datafiles import write_cifar_c_folder, write_cifar_folder

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


@pytest.fixture
def cifar_root(tmp_path: Path) -> Path:
    write_cifar_folder(tmp_path, "cifar10")
    write_cifar_folder(tmp_path, "cifar100")
    write_cifar_c_folder(tmp_path)
    return tmp_path
