"""Training-speed benchmark (not a test): damping overhead and resode's loop vs a plain loop.

(a) Damping cost: one SGD train step (forward, backward, update) of In-ResNet-20 vs ResNet-20
    (the same network with damping off), same batch, same memory format, measured back to back in
    rounds; ratio t(inresnet20) / t(resnet20) as the median over rounds, in wall time and in the
    process's CPU time (single-threaded, so CPU time is compute time and is far less disturbed
    by other processes on a shared machine). Target: <= 1.03.
(b) Loop speed: one epoch on the digits training set (+ a test-set evaluation) with
    * a straightforward PyTorch loop written here: a pre-act ResNet-20 defined in this file
      (same architecture and parameter count as resode's ``resnet20``), a ``DataLoader`` over a
      ``TensorDataset``-style set with per-sample transforms (pad + random crop + flip in
      ``__getitem__``), torch's default threads, contiguous memory format;
    * ``resode.training.train`` with the ``digits`` preset and ``resnet20`` (in-memory batches,
      vectorised augmentation, channels_last, thread choice; it also writes a checkpoint and the
      history every epoch, which counts against it).
    Ratio t(plain) / t(resode). Target: >= 1.2. A third row runs the plain loop with resode's
    thread count, to separate the thread choice from the rest (format, loader, augmentation).
(c) Fraction of peak (issue 23 §4): a ResNet-20 train step (3×32×32, batch 128, 2 threads) as a
    fraction of the machine's fp32 peak measured in the same run (the best of several 2048²
    float32 matmuls): fraction = (FLOPs of forward + backward, counted by
    ``torch.utils.flop_counter.FlopCounterMode``) / (seconds per step) / peak, in wall time and
    in the process's CPU time (FLOPs per CPU-second against the matmul's, which a shared,
    loaded machine disturbs far less), for the memory
    formats and SGD implementations of ``STEP_VARIANTS`` (interleaved rounds, medians), with the
    top operators of one profiled step (``torch.profiler``).

Every measurement is repeated (interleaved, so both sides see the same machine load) and the
median is reported. Run::

    .venv/bin/python benchmarks/bench_training.py [--repeats 3] [--out results.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import resode  # isort: skip  (first: it pins the CPU kernels before torch starts)
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

DEFAULT_THREADS = torch.get_num_threads()


# ------------------------------------------------------------------------------ plain baseline


class PlainPreActBlock(nn.Module):
    """Pre-activation basic block: f = conv(relu(bn(conv_s(relu(bn(x)))))); out = f + s(x)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 1, stride, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(x)


class PlainPreActResNet20(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, mean: float, std: float) -> None:
        super().__init__()
        self.mean, self.std = mean, std
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        layers: list[nn.Module] = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(PlainPreActBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.stem((x - self.mean) / self.std))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.fc(out)


class PerSampleAugmented(Dataset):
    """Images + labels with a per-sample random crop (after padding) and optional flip."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pad: int, flip: bool) -> None:
        self.images, self.labels, self.pad, self.flip = images, labels, pad, flip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        h, w = img.shape[-2:]
        if self.pad:
            img = F.pad(img, (self.pad,) * 4)
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2,)).tolist()
            img = img[:, dy : dy + h, dx : dx + w]
        if self.flip and torch.rand(()) < 0.5:
            img = img.flip(-1)
        return img, self.labels[i]


def plain_epoch(
    model: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, test: Any
) -> float:
    """One epoch of the straightforward loop plus a test evaluation; returns seconds."""
    t0 = time.perf_counter()
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for x, y in DataLoader(list(zip(test.images, test.labels)), batch_size=500):
            model(x).argmax(1).eq(y).sum()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------ measurements


def damping_cost(batch: int, image_size: int, channels: int, repeats: int, steps: int) -> dict:
    """Median train-step seconds of resnet20 and inresnet20 (resode's default memory format)."""

    torch.set_num_threads(1)  # one thread per run, as resode's grids run them
    kw = {"num_classes": 10, "in_channels": channels, "image_size": image_size}
    x0 = torch.rand(batch, channels, image_size, image_size)
    y = torch.randint(0, 10, (batch,))
    setups = {}
    for name in ("resnet20", "inresnet20"):
        torch.manual_seed(0)
        model = resode.create_model(name, **kw).to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        setups[name] = (model, opt)
    x = x0.contiguous(memory_format=torch.channels_last)
    wall: dict[str, list[float]] = {n: [] for n in setups}
    cpu: dict[str, list[float]] = {n: [] for n in setups}
    for rep in range(repeats + 1):  # the first round warms up
        for name, (model, opt) in setups.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if rep:
                wall[name].append((time.perf_counter() - w0) / steps)
                cpu[name].append((time.process_time() - c0) / steps)

    def paired(t: dict[str, list[float]]) -> float:
        """Median over rounds of t(inresnet20)/t(resnet20) measured back to back."""
        return statistics.median(a / b for a, b in zip(t["inresnet20"], t["resnet20"]))

    return {
        "batch": batch,
        "image_size": image_size,
        "channels": channels,
        "threads": torch.get_num_threads(),
        "resnet20_step_s": statistics.median(wall["resnet20"]),
        "inresnet20_step_s": statistics.median(wall["inresnet20"]),
        "resnet20_step_cpu_s": statistics.median(cpu["resnet20"]),
        "inresnet20_step_cpu_s": statistics.median(cpu["inresnet20"]),
        "ratio": paired(wall),
        "ratio_cpu": paired(cpu),
        "ratio_cpu_quartiles": statistics.quantiles(
            [a / b for a, b in zip(cpu["inresnet20"], cpu["resnet20"])], n=4
        )
        if repeats >= 2
        else None,
        "wall_samples": wall,
        "cpu_samples": cpu,
    }


def loop_speed(repeats: int, epochs: int) -> dict:
    """Median seconds per epoch: plain loop vs resode.train (digits preset, resnet20)."""
    from resode.data import load
    from resode.training import get_preset, train

    config = get_preset("digits", model="resnet20", epochs=epochs, device="cpu", threads=1)
    kw = {"image_size": config.image_size} if config.image_size else {}
    train_ds, test_ds = load("digits", split="train", **kw), load("digits", split="test", **kw)
    ref = resode.create_model("resnet20", num_classes=10, in_channels=train_ds.in_channels)
    plain_params = sum(
        p.numel() for p in PlainPreActResNet20(train_ds.in_channels, 10, 0.5, 0.25).parameters()
    )
    assert plain_params == sum(p.numel() for p in ref.parameters()), "architectures differ"

    times: dict[str, list[float]] = {"plain": [], "plain_same_threads": [], "resode": []}
    threads_used: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            ours = 1  # what a resode grid task uses (one thread per worker process)
            threads_used.append(ours)
            for variant, threads in (("plain", DEFAULT_THREADS), ("plain_same_threads", ours)):
                torch.set_num_threads(threads)
                torch.manual_seed(rep)
                model = PlainPreActResNet20(train_ds.in_channels, 10, 0.5, 0.25)
                opt = torch.optim.SGD(
                    model.parameters(),
                    lr=config.lr,
                    momentum=0.9,
                    weight_decay=config.weight_decay,
                )
                data = PerSampleAugmented(
                    train_ds.images, train_ds.labels, config.crop_padding, config.flip
                )
                loader = DataLoader(data, batch_size=config.batch_size, shuffle=True)
                times[variant] += [plain_epoch(model, opt, loader, test_ds) for _ in range(epochs)]
            torch.set_num_threads(DEFAULT_THREADS)
            result = train(config.replace(seed=rep), Path(tmp) / f"r{rep}", progress=False)
            times["resode"] += [h["seconds"] for h in result.history]
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "dataset": f"digits {train_ds.image_size}x{train_ds.image_size}, {len(train_ds)} train",
        "batch": config.batch_size,
        "default_threads": DEFAULT_THREADS,
        "resode_threads": threads_used,
        "plain_epoch_s": med["plain"],
        "plain_same_threads_epoch_s": med["plain_same_threads"],
        "resode_epoch_s": med["resode"],
        "speedup": med["plain"] / med["resode"],
        "speedup_same_threads": med["plain_same_threads"] / med["resode"],
        "samples": times,
    }


# ------------------------------------------------------------------------------ fraction of peak


def matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """The machine's measured fp32 peak in FLOP/s: best of ``repeats`` (n×n)·(n×n) float32
    matmuls (2·n³ FLOPs each) on ``threads`` threads, after one warm-up (wall time)."""
    return matmul_peaks(threads, n, repeats)[0]


def matmul_peaks(threads: int, n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """(FLOP/s of wall time, FLOP per CPU-second of the process) of the best matmuls: the
    second is what a machine without other load would give per core-second used."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.rand(n, n, generator=g), torch.rand(n, n, generator=g)
        a @ b
        best = best_cpu = math.inf
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            a @ b
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    finally:
        torch.set_num_threads(old)
    return 2.0 * n**3 / best, 2.0 * n**3 / best_cpu


def step_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs of one forward + backward (torch.utils.flop_counter: convolutions and matmuls,
    2 per multiply-add; element-wise ops, BN and the optimizer are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


# variant -> (channels_last, SGD implementation: None = torch's default, the for-loop on CPU)
STEP_VARIANTS: dict[str, tuple[bool, str | None]] = {
    "plain: NCHW, for-loop SGD": (False, None),
    "before: channels_last, for-loop SGD": (True, None),
    "now: channels_last, foreach SGD": (True, "foreach"),
    "channels_last, fused SGD": (True, "fused"),
}
BEFORE, NOW = "before: channels_last, for-loop SGD", "now: channels_last, foreach SGD"


def _sgd(params: Any, impl: str | None) -> torch.optim.Optimizer:
    kw: dict[str, Any] = {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}
    if impl is not None:
        kw[impl] = True
    return torch.optim.SGD(params, **kw)


def profile_step(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, top: int = 8
) -> list[dict[str, Any]]:
    """torch.profiler of one train step: the ``top`` operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {"op": e.key, "calls": e.count, "self_share": e.self_cpu_time_total / total}
        for e in events[:top]
    ]


def fraction_of_peak(threads: int, batch: int, rounds: int, steps: int) -> dict[str, Any]:
    """ResNet-20 train steps (3×32×32, ``batch``) on ``threads`` threads as a fraction of the
    measured matmul peak: fraction = (FLOPs per step / seconds per step) / peak. Every variant
    of :data:`STEP_VARIANTS` starts from the same weights; rounds are interleaved (peak measured
    before and after, the larger kept) and the median seconds per step is used. ``before`` is
    resode's engine until issue 23 (channels-last, torch's for-loop SGD on CPU), ``now`` its
    default since (``speed.sgd`` auto: foreach, the same updates bit for bit)."""

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    torch.manual_seed(0)
    base = resode.create_model("resnet20", num_classes=10, in_channels=3, image_size=32)
    flops = step_flops(base, x0, y)
    peak_before = matmul_peaks(threads)
    setups = {}
    for name, (cl, impl) in STEP_VARIANTS.items():
        model = copy.deepcopy(base)
        x = x0
        if cl:
            model = model.to(memory_format=torch.channels_last)
            x = x0.contiguous(memory_format=torch.channels_last)
        setups[name] = (model, _sgd(model.parameters(), impl), x)
    times: dict[str, list[float]] = {n: [] for n in setups}
    cpu: dict[str, list[float]] = {n: [] for n in setups}
    for rnd in range(rounds + 1):  # round 0 warms up
        for name, (model, opt, x) in setups.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if rnd:
                times[name].append((time.perf_counter() - t0) / steps)
                cpu[name].append((time.process_time() - c0) / steps)
    peak_after = matmul_peaks(threads)
    peak, peak_cpu = (max(a, b) for a, b in zip(peak_before, peak_after))
    med = {n: statistics.median(v) for n, v in times.items()}
    med_cpu = {n: statistics.median(v) for n, v in cpu.items()}
    base_name = next(iter(STEP_VARIANTS))
    profiles = {n: profile_step(*setups[n][:2], setups[n][2], y) for n in (BEFORE, NOW)}
    return {
        "threads": threads,
        "batch": batch,
        "flops_per_step": flops,
        "peak_flop_s": peak,
        "step_s": med,
        "fraction": {n: flops / t / peak for n, t in med.items()},
        "peak_flop_per_cpu_s": peak_cpu,
        "step_cpu_s": med_cpu,
        "fraction_cpu": {n: flops / t / peak_cpu for n, t in med_cpu.items()},
        "speedup_vs_plain": {n: med[base_name] / t for n, t in med.items()},
        "now_over_before": med[BEFORE] / med[NOW],
        "now_over_before_cpu": med_cpu[BEFORE] / med_cpu[NOW],
        "profiles": profiles,
        "samples": times,
        "samples_cpu": cpu,
    }


def print_peak(c: dict[str, Any]) -> None:
    from resode.runtime import cpu_name

    print(
        f"(c) ResNet-20 train step, batch {c['batch']} of 3x32x32, {c['threads']} threads, "
        f"{c['flops_per_step'] / 1e9:.2f} GFLOP (forward + backward, FlopCounterMode) against "
        f"the measured fp32 matmul peak {c['peak_flop_s'] / 1e9:.1f} GFLOP/s ({cpu_name()})"
    )
    print(
        f"    {'variant':<40} {'s/step':>8} {'of peak':>8} {'vs plain':>9} "
        f"{'CPU s/step':>11} {'of CPU peak':>12}"
    )
    for name, t in c["step_s"].items():
        print(
            f"    {name:<40} {t:>8.4f} {100 * c['fraction'][name]:>7.1f}% "
            f"{c['speedup_vs_plain'][name]:>8.2f}x {c['step_cpu_s'][name]:>11.4f} "
            f"{100 * c['fraction_cpu'][name]:>11.1f}%"
        )
    print(
        f"    now/before (resode's default step): {c['now_over_before']:.3f}x faster in wall "
        f"time, {c['now_over_before_cpu']:.3f}x in CPU time (of CPU peak: FLOPs per "
        "CPU-second against the matmul's, far less disturbed by other load)"
    )
    for name, ops in c["profiles"].items():
        top = ", ".join(
            f"{o['op'].removeprefix('aten::')} {100 * o['self_share']:.0f}%" for o in ops[:5]
        )
        print(f"    profile ({name}): {top}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of (b), median")
    parser.add_argument("--repeats-step", type=int, default=10, help="paired rounds in (a)")
    parser.add_argument("--steps", type=int, default=3, help="train steps per timing in (a)")
    parser.add_argument("--batch", type=int, default=128, help="batch size in (a)")
    parser.add_argument("--image-size", type=int, default=32, help="image size in (a)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per repetition in (b)")
    parser.add_argument("--skip-loop", action="store_true", help="skip (b)")
    parser.add_argument("--skip-peak", action="store_true", help="skip (c)")
    parser.add_argument("--peak-threads", type=int, default=2, help="threads in (c)")
    parser.add_argument("--peak-rounds", type=int, default=5, help="interleaved rounds in (c)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    a = damping_cost(args.batch, args.image_size, 3, args.repeats_step, args.steps)
    print(
        f"(a) damping cost, train step, batch {a['batch']} of 3x{a['image_size']}x"
        f"{a['image_size']}, {a['threads']} thread(s), channels_last, {args.repeats_step} rounds"
    )
    print(f"    {'model':<12} {'wall s/step':>12} {'CPU s/step':>11}")
    for name in ("resnet20", "inresnet20"):
        print(f"    {name:<12} {a[name + '_step_s']:>12.4f} {a[name + '_step_cpu_s']:>11.4f}")
    q = a["ratio_cpu_quartiles"]
    spread = f", quartiles {q[0]:.3f}-{q[2]:.3f}" if q else ""
    print(
        f"    inresnet20/resnet20 (median of paired rounds): wall {a['ratio']:.3f}, "
        f"CPU time {a['ratio_cpu']:.3f}{spread}  (target <= 1.03)"
    )
    results: dict[str, Any] = {"machine": info, "damping": a}
    if not args.skip_loop:
        b = loop_speed(args.repeats, args.epochs)
        print(f"(b) one epoch + test evaluation, {b['dataset']}, batch {b['batch']}")
        print(f"    {'loop':<44} {'s/epoch':>9}")
        label = f"plain PyTorch, default {b['default_threads']} threads"
        print(f"    {label:<44} {b['plain_epoch_s']:>9.3f}")
        label = f"plain PyTorch, resode's threads {b['resode_threads']}"
        print(f"    {label:<44} {b['plain_same_threads_epoch_s']:>9.3f}")
        print(f"    {'resode.train':<44} {b['resode_epoch_s']:>9.3f}")
        print(
            f"    speedup plain/resode = {b['speedup']:.2f}x; with the same threads "
            f"{b['speedup_same_threads']:.2f}x  (target >= 1.2)"
        )
        results["loop"] = b
    if not args.skip_peak:
        c = fraction_of_peak(args.peak_threads, args.batch, args.peak_rounds, args.steps)
        print_peak(c)
        results["peak"] = c
    print(f"    machine: {info}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
