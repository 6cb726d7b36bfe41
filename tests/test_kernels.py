"""The CPU kernel policy: two "machines" (processes whose inherited environments ask the math
libraries for other code paths) compute the same bits under the pinned policy, and do not under
``native``; the policy is recorded with every result and checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resode import kernels

pytestmark = pytest.mark.skipif(
    not kernels.current_policy().applied,
    reason=f"no AVX2 pinning on this CPU: {kernels.current_policy().reason}",
)

# What a different machine would pick, written into the inherited environment: no vector unit
# for ATen, SSE4.1 for oneDNN, MKL's compatible path, an older OpenBLAS core, a generic numba.
OTHER_MACHINE = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "DNNL_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
    "OPENBLAS_CORETYPE": "Prescott",
    "NUMBA_CPU_NAME": "generic",
}


def _env(policy: str, machine: dict[str, str]) -> dict[str, str]:
    """The test process's environment without resode's pins, plus ``machine`` and the policy."""
    env = {k: v for k, v in os.environ.items() if k not in kernels.AVX2_PINS}
    env.update(machine)
    env[kernels.ENV_VAR] = policy
    env["OMP_NUM_THREADS"] = "1"
    return env


def _fingerprint(tmp: Path, name: str, env: dict[str, str]) -> dict:
    out = tmp / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "resode", "fingerprint", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_two_machines_give_the_same_bits_under_the_pinned_policy(tmp_path: Path) -> None:
    native = _fingerprint(tmp_path, "native-env", _env("avx2", {}))
    other = _fingerprint(tmp_path, "other-env", _env("avx2", OTHER_MACHINE))
    assert native["environment"]["kernels"]["comparable"]
    assert other["environment"]["kernels"]["inherited"]["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert native["environment"]["kernels"]["seen"]["aten_cpu_capability"] == "AVX2"
    assert other["environment"]["kernels"]["seen"]["aten_cpu_capability"] == "AVX2"
    assert native["parts"] == other["parts"]
    assert native["numbers"] == other["numbers"]  # every number, bit for bit
    assert native["digest"] == other["digest"]
    from resode.fingerprint import Fingerprint

    assert Fingerprint.from_dict(native).to_dict() == native  # the typed record, read back


@pytest.mark.slow
def test_without_the_pins_the_inherited_environment_changes_the_numbers(tmp_path: Path) -> None:
    """The control: the same two environments under ``native`` disagree, so the test above can
    fail (ATen's scalar kernels against this CPU's vector ones sum in another order)."""
    env = _env("native", OTHER_MACHINE)
    other = _fingerprint(tmp_path, "other-native", env)
    pinned = _fingerprint(tmp_path, "pinned", _env("avx2", OTHER_MACHINE))
    assert other["environment"]["kernels"]["comparable"] is False
    assert other["environment"]["kernels"]["seen"]["aten_cpu_capability"] == "DEFAULT"
    assert other["parts"]["train"] != pinned["parts"]["train"]


def test_the_policy_overrides_and_restores_inherited_values(monkeypatch) -> None:
    real = kernels._INHERITED
    monkeypatch.setattr(kernels, "_INHERITED", {"MKL_CBWR": "COMPATIBLE"})
    try:
        state = kernels.apply_policy("avx2")
        assert os.environ["MKL_CBWR"] == "AVX2" and state.comparable
        assert state.inherited == {"MKL_CBWR": "COMPATIBLE"}
        state = kernels.apply_policy("native")
        assert os.environ["MKL_CBWR"] == "COMPATIBLE" and not state.comparable
        assert "ONEDNN_MAX_CPU_ISA" not in os.environ
        assert os.environ[kernels.ENV_VAR] == "native"  # workers inherit the choice
    finally:
        monkeypatch.setattr(kernels, "_INHERITED", real)
        kernels.apply_policy("avx2")
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_an_unknown_policy_is_refused_in_one_line() -> None:
    env = {**os.environ, kernels.ENV_VAR: "avx512"}
    proc = subprocess.run(
        [sys.executable, "-m", "resode", "models"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "resode: error: RESODE_KERNELS = 'avx512' is not a kernel policy; use one of avx2, native"
    ]


def test_a_pin_set_too_late_makes_the_record_not_comparable(monkeypatch) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    record = kernels.kernel_record()
    assert record["comparable"] is False
    assert "aten_cpu_capability is AVX512, not AVX2" in record["reason"]


def test_a_cpu_without_avx2_pins_nothing(monkeypatch) -> None:
    monkeypatch.setattr(kernels, "cpu_flags", lambda: {"sse2", "sse4_2"})
    try:
        state = kernels.apply_policy("avx2")
        assert not state.applied and not state.comparable
        assert "lacks avx2, fma" in state.reason
        for key in kernels.AVX2_PINS:  # the user's values (or none), not the pins
            assert os.environ.get(key) == kernels._INHERITED.get(key)
    finally:
        monkeypatch.undo()
        kernels.apply_policy("avx2")


def test_checkpoints_and_the_environment_record_the_policy(tmp_path: Path) -> None:
    from resode import create_model, save_checkpoint
    from resode.checkpoint import read_checkpoint
    from resode.runtime import environment

    save_checkpoint(tmp_path / "m.pt", create_model("resnet20"), config={"seed": 0})
    payload = read_checkpoint(tmp_path / "m.pt")
    assert payload["kernels"]["policy"] == "avx2" and payload["kernels"]["comparable"]
    assert payload["kernels"]["pins"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    env = environment()
    assert env["kernels"]["comparable"] and "avx2" in env["cpu_flags"]
