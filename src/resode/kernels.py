"""The CPU kernel policy: which code paths the math libraries may take, so that the same config
and seeds give the same bits on every x86-64 machine with AVX2.

The libraries under torch pick their kernels by the CPU's instruction set, and a wider vector
changes the order of floating-point sums. Measured on an AVX-512 Xeon (2 epochs of In-ResNet-20
on digits, one thread; 400 GD iterations of the paper-B network at L = 64), each of these changed
the result bits when it was left to the machine:

* ``ATEN_CPU_CAPABILITY`` — ATen's own vectorised kernels (element-wise ops, reductions);
* ``ONEDNN_MAX_CPU_ISA`` (``DNNL_MAX_CPU_ISA`` for older builds) — oneDNN's convolutions;
* ``MKL_CBWR`` — MKL's conditional numerical reproducibility (matrix products);
* ``OPENBLAS_CORETYPE`` — numpy's and scipy's BLAS;
* ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` — the target of resode's compiled GD loop.

:func:`apply_policy` sets all of them to the AVX2 baseline (Haswell, 2013) before any of these
libraries reads them: :mod:`resode` calls it first thing at import, and each library reads its
variable when it first computes, not when it is imported. Values a user had set are overridden
(and restored by ``native``), so an inherited environment cannot change a result. The policy is
read from ``RESODE_KERNELS`` (``avx2``, the default, or ``native`` for the machine's fastest
kernels: faster where AVX-512 pays, but the numbers are then a property of the CPU too, and every
result records ``comparable: false``).

Where the promise ends: a CPU without AVX2 and FMA, and any non-x86 machine (Apple silicon,
Graviton) cannot run these code paths; there nothing is pinned and results are marked not
comparable. GPUs have their own kernels: see :func:`resode.runtime.deterministic_cuda`.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "RESODE_KERNELS"
POLICIES = ("avx2", "native")
DEFAULT_POLICY = "avx2"

# LLVM's Haswell feature set, spelled out: numba takes the feature string as given, so a name
# without it compiles for the host's features (with AVX-512 where the host has it).
HASWELL_FEATURES = (
    "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fsgsbase,+fxsr,+invpcid,+lzcnt,"
    "+mmx,+movbe,+pclmul,+popcnt,+rdrnd,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave,"
    "+xsaveopt"
)

AVX2_PINS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": HASWELL_FEATURES,
}

REQUIRED_FLAGS = ("avx2", "fma")  # /proc/cpuinfo flags the pinned code paths need


@dataclass
class KernelPolicy:
    """What the process computes with: the requested policy, the variables set, and whether the
    numbers are comparable with those of another machine under the same policy."""

    policy: str
    applied: bool
    pins: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    invalid: str | None = None  # an unknown RESODE_KERNELS value met at import (the CLI refuses it)

    @property
    def comparable(self) -> bool:
        return self.policy == DEFAULT_POLICY and self.applied

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "comparable": self.comparable}


_INHERITED: dict[str, str] | None = None  # the user's values, captured once, before any pin
_STATE: KernelPolicy | None = None


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _supports_avx2() -> tuple[bool, str]:
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return False, f"{machine} CPU: the AVX2 code paths exist only on x86-64"
    flags = cpu_flags()
    missing = [f for f in REQUIRED_FLAGS if f not in flags]
    if flags and missing:
        return False, f"the CPU lacks {', '.join(missing)}"
    if not flags:
        return False, "the CPU's flags cannot be read"
    return True, ""


def requested_policy() -> str:
    """``RESODE_KERNELS`` (default ``avx2``); :func:`apply_policy` refuses an unknown value."""
    return os.environ.get(ENV_VAR, DEFAULT_POLICY).strip().lower() or DEFAULT_POLICY


def apply_policy(policy: str | None = None, *, strict: bool = True) -> KernelPolicy:
    """Set (``avx2``) or restore (``native``) the kernel variables of this process; returns the
    record. Call before torch, numpy or numba first compute; :mod:`resode` does at import, with
    ``strict=False``: an unknown policy then pins ``avx2`` and is refused later by the CLI."""
    global _INHERITED, _STATE
    if _INHERITED is None:
        _INHERITED = {k: os.environ[k] for k in AVX2_PINS if k in os.environ}
    policy = requested_policy() if policy is None else policy
    if policy not in POLICIES:
        message = f"{ENV_VAR} = {policy!r} is not a kernel policy; use one of {', '.join(POLICIES)}"
        if strict:
            from resode.errors import ConfigError

            raise ConfigError(message)
        state = apply_policy(DEFAULT_POLICY)
        state.invalid = message
        return state
    os.environ[ENV_VAR] = policy  # worker processes inherit the policy
    for key in AVX2_PINS:  # back to what the user had
        if key in _INHERITED:
            os.environ[key] = _INHERITED[key]
        else:
            os.environ.pop(key, None)
    ok, reason = _supports_avx2()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, if asked
    if policy == "avx2" and ok:
        os.environ.update(AVX2_PINS)
        _STATE = KernelPolicy(policy, True, dict(AVX2_PINS), dict(_INHERITED))
    elif policy == "avx2":
        _STATE = KernelPolicy(policy, False, {}, dict(_INHERITED), reason + "; nothing pinned")
    else:
        _STATE = KernelPolicy(policy, False, {}, dict(_INHERITED), "native kernels requested")
    return _STATE


def current_policy() -> KernelPolicy:
    """The policy applied in this process (applying the default if nothing has yet)."""
    return _STATE if _STATE is not None else apply_policy()


def kernel_record() -> dict[str, Any]:
    """The policy plus what the libraries report they use now (recorded with every result):
    ATen's capability, OpenBLAS's core type and numba's target. A pin set too late (a library
    that had already computed before resode was imported) shows as a mismatch here and makes the
    record not comparable."""
    state = current_policy()
    record = state.to_dict()
    seen: dict[str, str | None] = {}
    if "torch" in sys.modules:
        import torch

        seen["aten_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    try:
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
        seen["openblas_coretype"] = blas[0].get("architecture") if blas else None
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        seen["openblas_coretype"] = None
    if "numba" in sys.modules:
        from numba.core import config as numba_config

        seen["numba_cpu_name"] = numba_config.CPU_NAME
    record["seen"] = seen
    mismatch = _mismatches(state, seen)
    if mismatch:
        record["comparable"] = False
        record["reason"] = "pinned too late: " + "; ".join(mismatch)
    return record


def _mismatches(state: KernelPolicy, seen: dict[str, str | None]) -> list[str]:
    if not state.applied:
        return []
    want = {
        "aten_cpu_capability": "AVX2",
        "openblas_coretype": "Haswell",
        "numba_cpu_name": "haswell",
    }
    return [
        f"{key} is {seen[key]}, not {value}"
        for key, value in want.items()
        if seen.get(key) is not None and str(seen[key]).lower() != value.lower()
    ]


__all__ = [
    "AVX2_PINS",
    "DEFAULT_POLICY",
    "ENV_VAR",
    "POLICIES",
    "KernelPolicy",
    "apply_policy",
    "cpu_flags",
    "current_policy",
    "kernel_record",
    "requested_policy",
]
