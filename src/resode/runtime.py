"""Where and how a computation runs: the device, the CPU thread count, and the environment record.

One resolver for every command (``auto`` → CUDA, else Apple MPS, else CPU) and one thread policy:

* A run's thread count is fixed by its configuration, never by the machine's current load, so the
  same config and seeds on the same machine give the same numbers (floating-point reductions
  depend on the thread count: a 2-epoch digits run with 1 and with 2 threads ended with weights
  differing by up to 1.0, while two runs at a fixed count are bit-identical).
* ``threads=None`` means :func:`default_threads`: torch's own default for this machine (one per
  physical core), a property of the machine, not of its load.
* Grids of runs (``resode reproduce``) get their parallelism from independent single-thread
  worker processes instead (:mod:`resode.grid.local`, :mod:`resode.grid.submitit_executor`).

The CPU kernels are pinned by :mod:`resode.kernels`; on CUDA, :func:`deterministic_cuda` makes a
run bit-identical from one run to the next on the same card and software.

:func:`environment` records what a result was computed with (date, hardware and its instruction
set, versions, git commit, threads, the kernel policy) next to every result.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from resode.errors import ConfigError


def select_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA if available, else MPS, else CPU; else ``torch.device(name)``, checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device = {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device = {name!r} but CUDA is not available; use --device auto or cpu")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(f"device = {name!r} but MPS is not available; use --device auto or cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device = {name!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device


_DEFAULT_THREADS = torch.get_num_threads()  # torch's choice at import: one per physical core


def default_threads() -> int:
    """The thread count of a run whose config leaves ``threads`` unset: torch's default for this
    machine (fixed per machine, independent of its load; ``OMP_NUM_THREADS`` overrides it)."""
    return max(1, _DEFAULT_THREADS)


def resolve_threads(threads: int | None) -> int:
    """``threads`` if given, else :func:`default_threads`."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads = {threads!r} must be an integer >= 1")
    return threads


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``resolve_threads(threads)`` torch threads; restore the old count."""
    n = resolve_threads(threads)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def deterministic_cuda(enabled: bool = True) -> Iterator[None]:
    """Run the block with deterministic CUDA kernels (``enabled``): ``torch.use_deterministic_
    algorithms(True, warn_only=True)`` (an op with no deterministic CUDA kernel warns instead of
    failing the run; ``benchmarks/gpu_check.py`` checks that two runs agree bit for bit), cuDNN
    without autotuning and deterministic, and cuBLAS with a fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, set by :mod:`resode.kernels` at import, before any
    cuBLAS handle exists). Without it cuDNN benchmarks and may pick other kernels each run.
    Restores the previous settings."""
    old = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.benchmark = not enabled
    torch.backends.cudnn.deterministic = enabled
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = old[1], old[2]


ISA_FLAG_PREFIXES = ("avx", "fma", "sse", "f16c", "amx", "bmi", "popcnt")


def cpu_isa_flags() -> list[str]:
    """The CPU's instruction-set flags that decide which kernels the libraries pick."""
    from resode.kernels import cpu_flags

    return sorted(f for f in cpu_flags() if f.startswith(ISA_FLAG_PREFIXES))


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux, else the platform's processor string)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return cpu


def git_commit() -> str | None:
    """Short commit of the checkout resode runs from (``+ (with uncommitted changes)``), or None."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode != 0:
            return None
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return commit + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(*, device: torch.device | str | None = None) -> dict[str, Any]:
    """Date, hardware, library versions, the git commit and the torch thread count now."""
    import numpy

    from resode._version import __version__
    from resode.kernels import kernel_record

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "resode": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_isa_flags(),
        "numpy": numpy.__version__,
        "numba": _version_of("numba"),
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device is not None else None,
        "gpu": gpu,
        "kernels": kernel_record(),
        "cuda_deterministic": torch.are_deterministic_algorithms_enabled(),
    }


def _version_of(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


__all__ = [
    "cpu_isa_flags",
    "cpu_name",
    "default_threads",
    "deterministic_cuda",
    "environment",
    "git_commit",
    "resolve_threads",
    "select_device",
    "torch_threads",
]
