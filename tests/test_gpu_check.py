"""benchmarks/gpu_check.py without a GPU: the runner, the line format, the time boxes, the
projection arithmetic and the device-comparison logic (CPU on both sides)."""

from __future__ import annotations

import importlib.util
import json
import math
import time

import pytest
import torch
from torch import nn

from conftest import script_module


@pytest.fixture(scope="module")
def gc():
    with script_module("benchmarks/gpu_check.py", "gpu_check") as module:
        yield module


def test_main_without_cuda_skips_every_cuda_check(gc, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "sub" / "gpu.json"
    assert gc.main(["--json", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(gc.CHECKS) + 1  # one line per check, then the summary
    names = [c.name for c in gc.CHECKS]
    for line, name in zip(lines, names):
        assert line.split()[0] == name
    assert lines[0].split()[1] == "PASS" and "CUDA not available" in lines[0]
    assert all(line.split()[1] == "SKIP" for line in lines[1:-1])
    assert lines[-1].startswith("SUMMARY") and f"1 PASS, 0 FAIL, {len(names) - 1} SKIP" in lines[-1]
    payload = json.loads(out.read_text())
    assert payload["lines"] == lines and payload["exit_code"] == 0
    assert [c["name"] for c in payload["checks"]] == names


def test_unknown_check_name_is_refused(gc):
    with pytest.raises(SystemExit, match="unknown checks"):
        gc.select("environment,bogus")
    assert [c.name for c in gc.select("throughput, environment")] == ["environment", "throughput"]


def test_projection_arithmetic(gc):
    # cifar10-paper-a: 160 epochs, ⌈50000/128⌉ = 391 steps, evaluated every epoch on 10 000
    t = gc.project_wall_time(
        step_seconds=0.05, eval_seconds_per_image=1e-4, epochs=160, batch_size=128
    )
    assert t == pytest.approx(160 * 391 * 0.05 + 160 * 10_000 * 1e-4)
    # cifar10-table1: 180 epochs of ⌈50000/64⌉ = 782 steps
    t = gc.project_wall_time(
        step_seconds=0.1, eval_seconds_per_image=0.0, epochs=180, batch_size=64
    )
    assert t == pytest.approx(180 * 782 * 0.1)
    assert gc.evaluations(160, 1) == 160
    assert gc.evaluations(10, 3) == 4  # after epochs 3, 6, 9 and the last
    assert gc.evaluations(180, 10**6) == 1
    t = gc.project_wall_time(
        step_seconds=1.0,
        eval_seconds_per_image=1.0,
        epochs=10,
        batch_size=100,
        eval_every=3,
        n_train=1000,
        n_test=5,
    )
    assert t == pytest.approx(10 * 10 + 4 * 5)


def test_sampling_tolerance_and_comparison(gc):
    # 3·√(2·p(1−p)/n) + 1/n
    assert gc.sampling_tolerance(0.5, 100) == pytest.approx(3 * math.sqrt(0.005) + 0.01)
    assert gc.sampling_tolerance(1.0, 400) == pytest.approx(1 / 400)
    assert gc.sampling_tolerance(0.3, 0) == math.inf
    a = {"clean": 0.9, "pgd@8/255": 0.5}
    ok, worst = gc.compare_accuracies(a, dict(a), 200)
    assert ok and worst["diff"] == 0
    tol = gc.sampling_tolerance(0.5, 200)
    ok, worst = gc.compare_accuracies(a, {"clean": 0.9, "pgd@8/255": 0.5 + 0.9 * tol}, 200)
    assert ok
    ok, worst = gc.compare_accuracies(a, {"clean": 0.9, "pgd@8/255": 0.5 + 1.5 * tol}, 200)
    assert not ok and worst["key"] == "pgd@8/255"


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def test_device_comparison_with_cpu_on_both_sides(gc):
    """The check-5 logic on CPU vs CPU: identical numbers, every metric present, PASS."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(24, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (24,), generator=g)
    cfg = gc.robustness_config(pgd_steps=2)
    cfg.severities = [1, 5]
    ok, worst, a, b = gc.compare_devices(_tiny_model(), x, y, cfg, "cpu", "cpu")
    assert ok and worst["diff"] == 0 and a == b
    n_eps = len(cfg.eps)
    assert len(a) == 1 + 4 * (2 + 1) + 2 * n_eps + n_eps  # clean, corruptions, attacks, robust
    assert all(0.0 <= v <= 1.0 for v in a.values())


def test_time_box_failure_and_skip_in_the_runner(gc, tmp_path):
    def sleeper(ctx):
        time.sleep(30)

    def broken(ctx):
        raise RuntimeError("boom")

    def fine(ctx):
        return gc.Record("fine", "PASS", numbers={"x": 1.5})

    checks = [
        gc.Check("sleeper", sleeper, budget=0.5),
        gc.Check("broken", broken, budget=5),
        gc.Check("needs_pkg", fine, budget=5, needs=("sklearn",)),
        gc.Check("fine", fine, budget=5),
    ]
    ctx = gc.Context("cpu", gc.SMOKE, tmp_path, missing=["sklearn"])
    emitted = []
    t0 = time.perf_counter()
    records = gc.run_checks(checks, ctx, budget=60, emit=emitted.append)
    assert time.perf_counter() - t0 < 15  # the sleeper was cut at its 0.5 s box
    assert [r.status for r in records] == ["FAIL", "FAIL", "SKIP", "PASS"]
    assert "time box" in records[0].note and "boom" in records[1].note
    assert "scikit-learn" in records[2].note
    assert emitted == records
    assert records[3].line().startswith("fine") and "x=1.5" in records[3].line()
    # CUDA checks without CUDA, and a spent global budget
    skipped = gc.run_checks(checks[3:], ctx, budget=60, cuda_ok=False, emit=lambda r: None)
    assert skipped[0].status == "SKIP" and "no CUDA" in skipped[0].note
    late = gc.run_checks(checks[3:], ctx, budget=1, emit=lambda r: None)
    assert late[0].status == "SKIP" and "budget" in late[0].note


def test_fill_missing_marks_unreported_checks_failed(gc):
    done = [gc.Record("b", "PASS"), gc.Record("a", "SKIP")]
    out = gc.fill_missing(["a", "b", "c"], done, "killed")
    assert [(r.name, r.status) for r in out] == [("a", "SKIP"), ("b", "PASS"), ("c", "FAIL")]
    assert out[2].note == "killed"
    assert gc.exit_code(out) == 1 and gc.exit_code(out[:2]) == 0


def test_synthetic_cifar_files_load_through_resode(gc, tmp_path):
    from resode import data

    root = gc.write_synthetic_cifar(tmp_path, n_train=23, n_test=7)
    train = data.load("cifar10", split="train", root=root)
    test = data.load("cifar10", split="test", root=root)
    assert train.images.shape == (23, 3, 32, 32) and len(test) == 7
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) <= 1.0
    assert set(train.labels.tolist()) <= set(range(10))


def test_supervisor_collects_the_worker_records(gc, capfd):
    """The CUDA-machine path: a worker process runs the checks and reports them to the parent."""
    records = gc.supervise(
        ["--checks", "environment,throughput"], ["environment", "throughput"], 120
    )
    assert [r.name for r in records] == ["environment", "throughput"]
    assert records[0].status == "PASS" and records[0].numbers["torch"] == torch.__version__
    if not torch.cuda.is_available():
        assert records[1].status == "SKIP"
    out = capfd.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["environment", "throughput"]  # worker's lines


@pytest.mark.skipif(
    importlib.util.find_spec("torchattacks") is None, reason="torchattacks not installed"
)
def test_attack_table_check_dry_run_on_cpu(gc, tmp_path):
    """The issue-20 table check end to end on the CPU (a tiny model, 32 digits, 2 PGD steps):
    resode's cascade and the torchattacks loop give the same per-point worst case."""
    from resode.training import get_preset

    ctx = gc.Context("cpu", gc.SMOKE, tmp_path, gc.missing_deps())
    ctx.shared["digits_model"] = (_tiny_model(), get_preset("digits", image_size=8))
    rec = gc.check_attack_table(ctx)
    assert rec.status == "PASS", rec.line()
    assert rec.numbers["points_differing"] == 0 and rec.numbers["n"] == 32


def test_fast_path_section_runs_on_cpu_at_toy_sizes(gc, tmp_path, capsys, monkeypatch):
    """check_fast_path (issue 23) in --cpu-smoke sizes: every timing, projection and the
    accuracy comparison run; the CUDA graphs fall back with a note and bf16 is a no-op on CPU,
    so with the for-loop-identical foreach SGD (fused differs in the last bits) both paths train
    the same weights and the accuracies are equal."""
    fast = {**gc.FAST_PATH, "speed": {**gc.FAST_PATH["speed"], "sgd": "foreach"}}
    monkeypatch.setattr(gc, "FAST_PATH", fast)
    ctx = gc.Context("cpu", gc.SMOKE, tmp_path, missing=gc.missing_deps())
    rec = gc.check_fast_path(ctx)
    assert rec.status == "PASS", rec.line()
    n = rec.numbers
    for label in ("a110", "b4"):
        assert n[f"{label}_plain_ms_step"] > 0 and n[f"{label}_fast_ms_step"] > 0
    assert n["a110_160ep_fast_min"] == pytest.approx(
        160 * math.ceil(50_000 / 128) * n["a110_fast_ms_step"] / 1000 / 60, rel=0.5
    )  # the projection is dominated by the training steps
    assert n["acc_plain_seed0"] == n["acc_fast_seed0"]  # CPU: the fast path computes the same
    assert n["table1_target_met"] is False and "depth 4" in rec.note
    assert "stands in" in rec.note
    # Table 1's 5 seeds as one seed-stacked model (resode.training.seed_batch): timed where
    # the module stacks the Table 1 net, else the note says why the row is 5 sequential runs
    if "b4_seedbatch5_ms_step" in n:
        assert "batched" in rec.note and n["table1_row_seedbatch_h"] > 0
    else:
        assert "seed_batch absent" in rec.note or "seed-batched Table 1 run failed" in rec.note
    assert "cuda_graphs off" in capsys.readouterr().err
