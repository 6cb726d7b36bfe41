"""Shared test fixtures."""

from __future__ import annotations

import resode  # noqa: F401  (first: it pins the CPU kernels before torch and numpy load them)

# isort: split
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

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


@contextmanager
def script_module(relpath: str, name: str) -> Iterator[ModuleType]:
    """The repository's script ``relpath`` (e.g. ``benchmarks/gpu_check.py``) imported as module
    ``name``, registered in ``sys.modules`` while in use (dataclasses resolve their module
    through it) and removed afterwards."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[1] / relpath
    )
    assert spec is not None and spec.loader is not None, relpath
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def once(factory: pytest.TempPathFactory, name: str, make: Any) -> dict[str, Any]:
    """``make(out)`` once per test session: the first worker runs it under a lock in a folder all
    xdist workers share and stores what it returns; the others wait and read that."""
    from resode.grid.task import folder_lock

    base = factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    with folder_lock(shared):
        done = shared / "fixture.json"
        if not done.is_file():
            done.write_text(json.dumps(make(shared / "run")))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def tiny_local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``resode reproduce --preset tiny`` on the local executor (two worker processes), run once
    per test session and shared by every test that reads it (never written to)."""
    from resode.cli import main

    def make(out: Path) -> dict[str, Any]:
        assert main(["reproduce", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
        return {"out": str(out)}

    return Path(once(tmp_path_factory, "tiny-local", make)["out"])


@pytest.fixture(scope="session")
def slurm_cluster() -> Any:
    """A real single-node Slurm (munged, slurmctld, slurmd; tests/slurm_cluster.py) for this
    session: installed with apt-get when missing and root, else the tests skip with the reason.
    ``SLURM_CONF`` points every Slurm command (submitit's sbatch, squeue, scancel) at it."""
    import slurm_cluster as sc

    reason = sc.install()
    if reason is not None:
        pytest.skip(reason)
    cluster = sc.start_cluster()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    try:
        yield cluster
    finally:
        cluster.stop()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
