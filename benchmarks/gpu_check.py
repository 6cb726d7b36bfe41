"""A prepared GPU check: every CUDA path of resode, one line per check, in a few minutes.

    python benchmarks/gpu_check.py [--json PATH] [--checks a,b] [--budget SECONDS]

Run from the repository root; ``resode`` is imported from this checkout's ``src/`` (installed or
not).
Each check prints one line ``NAME STATUS key=value … (seconds)`` with STATUS PASS, FAIL or SKIP;
a summary line follows, and ``--json PATH`` writes every line and number. Exit status: 0 when no
check failed (so 0 on a machine without CUDA, where the CUDA checks are SKIP), else 1.

Checks (data: the embedded digits, or, without scikit-learn, synthetic CIFAR-format files):

1. ``environment``: torch, CUDA, cuDNN and NCCL versions, the device, its memory, missing deps.
2. ``inresnet20_amp``: the ``digits`` preset (In-ResNet-20) with AMP off, bf16 and fp16
   (GradScaler); test accuracies, which must agree within the sampling tolerance below.
3. ``scaled_convnet_amp``: paper B's net. (a) L = 256 blocks with non-zero branches on CUDA:
   under bf16 autocast the hidden states stay float32 and the summed residual update
   h_L − h_0 matches float32 (TF32 off) to 2 %; (b) the ``cifar10-table1`` preset for a few
   epochs on learnable synthetic 32×32×3 data with AMP off and bf16 (every block output recorded
   float32 during training); test accuracies agree within the sampling tolerance.
4. ``channels_last``: the same In-ResNet-20 and batch, NCHW vs channels-last on CUDA, one step
   in float64: loss to 1e-9 and gradients to 1e-6 relative (any two correct kernels agree to
   ~1e-12 there; a layout bug gives O(1)); the float32 step is reported (different cuDNN
   kernels differ by ~1 % in the gradient at initialisation); then the engine trains two epochs
   each way (TF32 as by default) and the first epoch's losses agree to 2 % (later epochs are
   reported: training amplifies kernel differences).
5. ``attacks_cuda_vs_cpu``: FGSM, PGD-20 and the four noise corruptions (severities 1–5) on the
   trained digits model and test images, once on CPU and once on CUDA: every accuracy agrees
   within the sampling tolerance.
   ``reproduce_tiny_device``: ``resode reproduce --preset tiny --device cuda`` (paper A only, serial
   executor): every attack gradient and the stability analysis ran on CUDA (issue 21).
6. ``ddp_nccl_syncbn``: ``torchrun`` with one process per GPU runs the engine's distributed path
   (NCCL, DistributedDataParallel, SyncBatchNorm); with one GPU the engine would train
   single-process, so the child forces that path at world size 1 (NCCL all-reduces the
   gradients; PyTorch's SyncBatchNorm computes plain batch statistics in a group of one, so its
   cross-GPU reduction needs >= 2 GPUs). Both runs use deterministic cuDNN; the first epoch's
   loss must match a single-process run to 1e-3 at world size 1 (2 % with several GPUs, whose
   batch statistics differ) and every rank must end with the same weights.
7. ``deterministic_reruns``: the digits preset trained twice with ``deterministic=True``
   (``resode.runtime.deterministic_cuda``) gives bit-identical weights; the cost against an
   autotuned-cuDNN run of the same training is reported.
8. ``throughput``: the ``cifar10-paper-a`` preset (In-ResNet-110, batch 128, AMP off) and the
   ``cifar10-table1`` preset (L = 256, batch 64) on synthetic 32×32×3 data: one warm-up epoch,
   then a timed epoch of a subset of steps, and the evaluation throughput; projected wall time of
   the full run, epochs · ⌈50 000/batch⌉ · t_step + evaluations · 10 000 · t_eval/image.
9. ``fast_path`` (issue 23, budget 180 s): the same two presets on the plain path (today's
   engine, float32) and the fast path (``TrainConfig.speed``: data and augmentation resident on
   the GPU, fused SGD, CUDA graphs of forward + backward, one finite check per epoch; bf16
   autocast with channels-last): ms/step of a timed epoch after a capture epoch, projected
   In-ResNet-110 160 epochs (target <= 12 min) and a Table 1 row, 5 seeds × 180 epochs
   (target <= 2 h; 5 sequential runs unless seed batching is timed), then the digits preset
   trained on both paths with the same seeds: the test accuracies agree within the sampling
   tolerance. A missed target is reported (``*_target_met``), not failed. Alone:
   ``--checks environment,fast_path``.

Sampling tolerance. Two accuracies of the same model on the same n images, from runs that differ
only in float rounding (CUDA vs CPU kernels, bf16 vs float32) or in the noise draw (the CUDA and
CPU random generators differ, so the corruption noise differs), are treated as two independent
binomial estimates of one p: |Δ| ≤ 3·√(2·p(1 − p)/n) + 1/n (3 standard errors of a difference,
plus one sample). Paired outcomes differ far less, so this bound is conservative. For two
*trainings* (AMP off vs on) the trajectories differ too, so there it is a sanity bound: it
catches a broken path (accuracy near chance), not a fraction-of-a-point effect.

On this workplace's GPU machine (its image has torch with CUDA and every dependency):
``python3 benchmarks/gpu_check.py --json $OUT/gpu_check.json``; estimated 2-3 minutes on an H100
(not yet run on a GPU), at most ``--budget`` + 60 s.

Time boxes. Each check runs under a SIGALRM time box (its budget, capped by what is left of the
global ``--budget``); the DDP child runs under a subprocess timeout. On a CUDA machine the checks
run in a worker process, which the parent kills at the global budget plus a grace period, so a
hung kernel or collective cannot hang the script: checks that did not report are then FAIL.
``--cpu-smoke`` runs every check on the CPU at toy sizes (AMP is a no-op there, DDP uses gloo),
to test the script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
if SRC.is_dir():  # check this checkout's resode, installed or not
    sys.path.insert(0, str(SRC))

import torch  # noqa: E402

# deps of the package that the checks use: import name -> distribution name
OPTIONAL_DEPS = {
    "numpy": "numpy",
    "tqdm": "tqdm",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "torchdiffeq": "torchdiffeq",
    "matplotlib": "matplotlib",
}
TRAIN_DEPS = ("numpy", "tqdm", "yaml")  # resode.training writes config.yaml, uses tqdm
CIFAR_N_TRAIN, CIFAR_N_TEST = 50_000, 10_000
STATUSES = ("PASS", "FAIL", "SKIP")


# ------------------------------------------------------------------------------ records, lines


@dataclass
class Record:
    """One check's outcome: what the line shows and the JSON holds."""

    name: str
    status: str
    seconds: float = 0.0
    numbers: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def line(self) -> str:
        values = " ".join(f"{k}={_fmt(v)}" for k, v in self.numbers.items())
        note = f"  [{self.note}]" if self.note else ""
        return f"{self.name:<20} {self.status:<4} {values}{note} ({self.seconds:.1f} s)"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "/".join(_fmt(x) for x in v)
    return str(v).replace(" ", "_")


def summary_line(records: list[Record], seconds: float, device: str) -> str:
    counts = {s: sum(r.status == s for r in records) for s in STATUSES}
    verdict = "FAIL" if counts["FAIL"] else "PASS"
    parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    return (
        f"{'SUMMARY':<20} {verdict:<4} {len(records)} checks: {parts} on {device} ({seconds:.1f} s)"
    )


def exit_code(records: list[Record]) -> int:
    return 1 if any(r.status == "FAIL" for r in records) else 0


# ------------------------------------------------------------------------------ arithmetic


def sampling_tolerance(p: float, n: int) -> float:
    """3·√(2·p(1 − p)/n) + 1/n: the largest |Δ| of two accuracies of one model on n images that
    differ by float rounding or noise draws (two independent binomial estimates of p)."""
    if n <= 0:
        return math.inf
    p = min(max(p, 0.0), 1.0)
    return 3.0 * math.sqrt(2.0 * p * (1.0 - p) / n) + 1.0 / n


def compare_accuracies(
    a: dict[str, float], b: dict[str, float], n: int
) -> tuple[bool, dict[str, Any]]:
    """Every shared key: |a − b| ≤ sampling_tolerance((a + b)/2, n). Returns (ok, worst case)."""
    worst: dict[str, Any] = {"key": None, "diff": 0.0, "tol": 0.0, "ratio": 0.0}
    ok = True
    for key in sorted(set(a) & set(b)):
        diff = abs(a[key] - b[key])
        tol = sampling_tolerance(0.5 * (a[key] + b[key]), n)
        ratio = diff / tol
        ok &= diff <= tol
        if worst["key"] is None or ratio > worst["ratio"]:
            worst = {"key": key, "diff": diff, "tol": tol, "ratio": ratio}
    return ok, worst


def flatten_result(res: Any) -> dict[str, float]:
    """A robustness ModelResult as {metric: accuracy}: clean, corruption@severity, attack@eps."""
    flat = {"clean": res.clean}
    for c, by_sev in res.corruptions.items():
        flat.update({f"{c}@{s}": v for s, v in by_sev.items()})
    for a, by_eps in res.attacks.items():
        flat.update({f"{a}@{e}": v for e, v in by_eps.items()})
    flat.update({f"robust@{e}": v for e, v in res.robust.items()})
    return flat


def evaluations(epochs: int, eval_every: int) -> int:
    """How many test evaluations the engine runs: every ``eval_every`` epochs and the last."""
    return epochs // eval_every + (1 if epochs % eval_every else 0)


def project_wall_time(
    *,
    step_seconds: float,
    eval_seconds_per_image: float,
    epochs: int,
    batch_size: int,
    eval_every: int = 1,
    n_train: int = CIFAR_N_TRAIN,
    n_test: int = CIFAR_N_TEST,
) -> float:
    """epochs·⌈n_train/batch⌉·t_step + evaluations(epochs, eval_every)·n_test·t_eval (seconds)."""
    steps = math.ceil(n_train / batch_size)
    return (
        epochs * steps * step_seconds
        + evaluations(epochs, eval_every) * n_test * eval_seconds_per_image
    )


# ------------------------------------------------------------------------------ time boxes


class CheckTimeout(Exception):
    """Raised inside a check when its time box runs out."""


@contextlib.contextmanager
def time_box(seconds: float) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in the main thread after ``seconds`` (SIGALRM, else no-op)."""
    usable = hasattr(signal, "SIGALRM") and threading_is_main()
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"time box of {seconds:.0f} s ran out")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# ------------------------------------------------------------------------------ context, sizes


@dataclass(frozen=True)
class Sizes:
    """How much each check does: ``FULL`` on a GPU, ``SMOKE`` for --cpu-smoke."""

    digits_epochs: int | None  # None: the digits preset's own (15)
    min_digits_acc: float
    convnet_depth: int
    convnet_epochs: int
    convnet_train: int
    min_synth_acc: float
    stream_depth: int
    synth_test: int
    cl_epochs: int
    pgd_steps: int
    attack_n: int | None  # test images attacked (None: all)
    ddp_epochs: int
    tp_steps: int
    table1_depth: int


FULL = Sizes(None, 0.9, 64, 4, 2048, 0.3, 256, 1000, 2, 20, None, 2, 40, 256)
SMOKE = Sizes(1, 0.0, 4, 1, 128, 0.0, 16, 64, 1, 2, 32, 1, 2, 4)


@dataclass
class Context:
    """What the checks share: device, sizes, a scratch folder, results of earlier checks."""

    device: str
    sizes: Sizes
    tmp: Path
    missing: list[str]
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic_root(self) -> Path:
        root = self.tmp / "synthetic-cifar"
        if not (root / "cifar-10-batches-py" / "test_batch").exists():
            n = max(self.sizes.convnet_train, 128 * self.sizes.tp_steps, 64 * self.sizes.tp_steps)
            write_synthetic_cifar(root, n_train=n, n_test=self.sizes.synth_test)
        return root

    def small_data(self) -> dict[str, Any]:
        """Overrides for the small-image checks: digits, or 8×8 synthetic without scikit-learn."""
        if "sklearn" not in self.missing:
            return {"dataset": "digits"}
        return {"dataset": "cifar10", "data_root": str(self.synthetic_root), "image_size": 8}


def write_synthetic_cifar(root: Path, *, n_train: int, n_test: int, seed: int = 0) -> Path:
    """CIFAR-10 python-pickle files of learnable images: x = 0.2·T_y + 0.8·U, T_y a random
    4×4×3 class template upsampled to 32×32 (8×8 blocks), U uniform noise; uint8 like CIFAR.
    Not trivially separable: an 8-block Table 1 net reached 62 % test accuracy at 0.15·T_y and
    94 % at 0.25·T_y after 4 epochs of 2048 images (CPU), so AMP differences can show."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    templates = np.kron(rng.uniform(0, 1, (10, 3, 4, 4)), np.ones((1, 1, 8, 8)))
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def batch(n: int, name: str) -> dict[bytes, Any]:
        y = rng.integers(0, 10, n)
        x = 0.2 * templates[y] + 0.8 * rng.uniform(0, 1, (n, 3, 32, 32))
        data = np.clip(np.round(255 * x), 0, 255).astype(np.uint8).reshape(n, 3072)
        return {b"batch_label": name.encode(), b"data": data, b"labels": y.tolist()}

    sizes = [n_train // 5 + (1 if i < n_train % 5 else 0) for i in range(5)]
    files = [(f"data_batch_{i + 1}", s) for i, s in enumerate(sizes)] + [("test_batch", n_test)]
    for name, n in files:
        with open(folder / name, "wb") as fh:
            pickle.dump(batch(n, name), fh, protocol=2)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, fh, protocol=2)
    return root


def missing_deps() -> list[str]:
    return [name for name in OPTIONAL_DEPS if importlib.util.find_spec(name) is None]


# ------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], Record]
    budget: float
    cuda: bool = True
    needs: tuple[str, ...] = TRAIN_DEPS


def check_environment(ctx: Context) -> Record:
    nums: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    import resode

    nums["resode"] = resode.__version__
    note = ""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        nums.update(
            gpus=torch.cuda.device_count(),
            device=props.name,
            memory_gib=props.total_memory / 2**30,
            capability=f"{props.major}.{props.minor}",
            cudnn=torch.backends.cudnn.version(),
            bf16=torch.cuda.is_bf16_supported(),
        )
        with contextlib.suppress(Exception):
            v = torch.cuda.nccl.version()
            nums["nccl"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
    else:
        note = "CUDA not available: the CUDA checks are SKIP"
    if ctx.sizes == SMOKE:
        note = "--cpu-smoke: every check runs on the CPU at toy sizes"
    if ctx.missing:
        need = ", ".join(OPTIONAL_DEPS[m] for m in ctx.missing)
        note = (note + "; " if note else "") + f"missing packages: {need}"
    return Record("environment", "PASS", numbers=nums, note=note)


def _train(ctx: Context, preset: str, out: str, **over: Any) -> Any:
    from resode.training import get_preset, train

    config = get_preset(preset, device=ctx.device, **over)
    return config, train(config, ctx.tmp / out, progress=False)


def check_inresnet20_amp(ctx: Context) -> Record:
    """digits preset (In-ResNet-20) with AMP off, bf16 and fp16: accuracies agree."""
    over = dict(ctx.small_data())
    if ctx.sizes.digits_epochs is not None:
        over["epochs"] = ctx.sizes.digits_epochs
    accs: dict[str, float] = {}
    for amp in ("off", "bf16", "fp16"):
        config, res = _train(ctx, "digits", f"inresnet20-{amp}", amp=amp, **over)
        accs[amp] = float(res.history[-1]["test_acc"])
        if amp == "off":
            ctx.shared["digits_model"] = (res.model, config)
    n = _test_size(config)
    amp_on = {k: accs[k] for k in ("bf16", "fp16")}
    same, worst = compare_accuracies(dict.fromkeys(amp_on, accs["off"]), amp_on, n)
    high = min(accs.values()) >= ctx.sizes.min_digits_acc
    nums = {f"acc_{k}": v for k, v in accs.items()}
    nums.update(n_test=n, tol=worst["tol"], min_acc=ctx.sizes.min_digits_acc)
    status = "PASS" if same and high else "FAIL"
    return Record("inresnet20_amp", status, numbers=nums)


def _test_size(config: Any) -> int:
    from resode.training.engine import load_datasets

    return len(load_datasets(config)[1])


def _stream_error(ctx: Context) -> tuple[float, bool]:
    """L-block net, branches non-zero: rel. error of h_L − h_0 under bf16 autocast, all float32?"""
    from resode import create_model

    dev = torch.device(ctx.device)
    torch.manual_seed(0)
    model = create_model("scaled_convnet", depth=ctx.sizes.stream_depth, init="iid")
    with torch.no_grad():
        for block in model.blocks:
            block.bn2.weight.fill_(1.0)
    model = model.to(dev).eval().to(memory_format=torch.channels_last)
    x = torch.rand(8, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
    tf32 = torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = False
        with torch.no_grad():
            ref = model.hidden_states(x)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                amp = model.hidden_states(x)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    upd_ref, upd_amp = ref[-1] - ref[0], amp[-1] - amp[0]
    rel = float((upd_amp - upd_ref).norm() / upd_ref.norm())
    return rel, all(h.dtype == torch.float32 for h in amp)


@contextlib.contextmanager
def record_block_dtypes(dtypes: set[torch.dtype]) -> Iterator[None]:
    """Collect the output dtype of every ScaledConvBlock forward while the context is open."""
    from resode.nn.scaled_convnet import ScaledConvBlock

    def hook(module: torch.nn.Module, args: Any, out: Any) -> None:
        if isinstance(module, ScaledConvBlock):
            dtypes.add(out.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def check_scaled_convnet_amp(ctx: Context) -> Record:
    """Float32 residual stream under bf16, and the Table 1 preset trained with AMP off and on."""
    s = ctx.sizes
    rel, stream32 = _stream_error(ctx)
    over = {
        "data_root": str(ctx.synthetic_root),
        "train_subset": s.convnet_train,
        "test_subset": s.synth_test,
        "epochs": s.convnet_epochs,
        "model_kwargs": {"depth": s.convnet_depth},
    }
    accs: dict[str, float] = {}
    dtypes: set[torch.dtype] = set()
    for amp in ("off", "bf16"):
        with record_block_dtypes(dtypes) if amp == "bf16" else contextlib.nullcontext():
            _, res = _train(ctx, "cifar10-table1", f"convnet-{amp}", amp=amp, **over)
        accs[amp] = float(res.history[-1]["test_acc"])
    same, worst = compare_accuracies({"a": accs["off"]}, {"a": accs["bf16"]}, s.synth_test)
    trained32 = dtypes == {torch.float32}
    nums = {
        "L_stream": s.stream_depth,
        "stream_rel_err": rel,
        "stream_fp32": stream32,
        "train_blocks_fp32": trained32,
        "L_train": s.convnet_depth,
        "acc_off": accs["off"],
        "acc_bf16": accs["bf16"],
        "tol": worst["tol"],
    }
    ok = rel <= 2e-2 and stream32 and trained32 and same and accs["off"] >= s.min_synth_acc
    return Record("scaled_convnet_amp", "PASS" if ok else "FAIL", numbers=nums)


def _loss_and_grads(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Any:
    import torch.nn.functional as F

    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])


def check_channels_last(ctx: Context) -> Record:
    """NCHW vs channels-last: one step on the same batch in float64 (where any two correct
    kernels agree to ~1e-12 and a layout bug gives O(1)), then engine epochs in float32.

    The float32 step is reported but not judged: at initialisation (batch norm in train mode)
    different cuDNN kernels gave gradients 1.4 % apart on an H200 with TF32 off, and training
    amplifies such differences (epoch-2 losses 0.93 vs 0.85), so only the first epoch's loss is
    compared (2 %)."""
    from resode import create_model
    from resode.training import get_preset
    from resode.training.engine import load_datasets

    dev = torch.device(ctx.device)
    config = get_preset("digits", device=ctx.device, **ctx.small_data())
    train_ds, _ = load_datasets(config)
    x, y = train_ds.images[:128].to(dev), train_ds.labels[:128].to(dev)
    torch.manual_seed(0)
    base = create_model(
        "inresnet20",
        num_classes=10,
        in_channels=train_ds.in_channels,
        image_size=train_ds.image_size,
    ).to(dev)
    rel = {}
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        m0 = copy.deepcopy(base).to(dtype)
        m1 = copy.deepcopy(m0).to(memory_format=torch.channels_last)
        xd = x.to(dtype)
        tf32 = torch.backends.cudnn.allow_tf32
        try:
            torch.backends.cudnn.allow_tf32 = False
            l0, g0 = _loss_and_grads(m0.train(), xd, y)
            l1, g1 = _loss_and_grads(
                m1.train(), xd.contiguous(memory_format=torch.channels_last), y
            )
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
        rel[f"{name}_loss_rel"] = float((l1 - l0).abs() / l0.abs())
        rel[f"{name}_grad_rel"] = float((g1 - g0).norm() / g0.norm())
    losses = {}
    for cl in (False, True):
        _, res = _train(
            ctx,
            "digits",
            f"channels-last-{cl}",
            channels_last=cl,
            epochs=ctx.sizes.cl_epochs,
            deterministic=True,
            **ctx.small_data(),
        )
        losses[cl] = [h["train_loss"] for h in res.history]
    epoch1_rel = abs(losses[True][0] - losses[False][0]) / abs(losses[False][0])
    ok = rel["f64_loss_rel"] <= 1e-9 and rel["f64_grad_rel"] <= 1e-6 and epoch1_rel <= 2e-2
    nums = {
        **rel,
        "epoch1_loss_rel": epoch1_rel,
        "losses_nchw": losses[False],
        "losses_nhwc": losses[True],
    }
    return Record("channels_last", "PASS" if ok else "FAIL", numbers=nums)


def compare_devices(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: Any,
    device_a: str,
    device_b: str,
) -> tuple[bool, dict[str, Any], dict[str, float], dict[str, float]]:
    """Robustness accuracies of one model on the same images on two devices, compared with
    :func:`compare_accuracies`. Returns (ok, worst, flat_a, flat_b)."""
    from resode.robustness import evaluate_models

    flats = []
    for dev in (device_a, device_b):
        m = copy.deepcopy(model)
        [res] = evaluate_models(
            [("model", m)], images, labels, config, dataset="digits", progress=False, device=dev
        )
        flats.append(flatten_result(res))
    ok, worst = compare_accuracies(flats[0], flats[1], len(labels))
    return ok, worst, flats[0], flats[1]


@contextlib.contextmanager
def cpu_threads() -> Iterator[None]:
    """A fixed CPU thread count for the CPU reference (resode.runtime.default_threads: one per
    physical core; the GPU machine's cores are otherwise idle during the check)."""
    from resode.runtime import torch_threads

    with torch_threads(None):
        yield


def robustness_config(pgd_steps: int) -> Any:
    from resode.robustness import DEFAULT_EPS_LINF, RobustnessConfig

    return RobustnessConfig.from_dict(
        {
            "attacks": ["fgsm", "pgd"],
            "eps": DEFAULT_EPS_LINF["digits"],
            "steps": pgd_steps,
            "severities": [1, 2, 3, 4, 5],
            "batch_size": 256,
        }
    )


def check_attacks(ctx: Context) -> Record:
    """FGSM, PGD and the noise corruptions: CPU and CUDA agree within the sampling tolerance."""
    from resode.training.engine import load_datasets

    if "digits_model" not in ctx.shared:  # inresnet20_amp did not run: train the model here
        over = dict(ctx.small_data(), amp="off")
        if ctx.sizes.digits_epochs is not None:
            over["epochs"] = ctx.sizes.digits_epochs
        config, res = _train(ctx, "digits", "attack-model", **over)
        ctx.shared["digits_model"] = (res.model, config)
    model, config = ctx.shared["digits_model"]
    _, test_ds = load_datasets(config)
    if ctx.sizes.attack_n is not None:
        test_ds = test_ds.subset(ctx.sizes.attack_n)
    rcfg = robustness_config(ctx.sizes.pgd_steps)
    with cpu_threads():
        ok, worst, cpu, dev = compare_devices(
            model.cpu(), test_ds.images, test_ds.labels, rcfg, "cpu", ctx.device
        )
    top = [k for k in cpu if k.startswith("pgd@")][-1]  # the largest ε (eps are sorted)
    nums = {
        "n": len(test_ds),
        "metrics": len(cpu),
        "clean_cpu/dev": [cpu["clean"], dev["clean"]],
        f"{top}_cpu/dev": [cpu[top], dev[top]],
        "worst": worst["key"],
        "worst_diff": worst["diff"],
        "worst_tol": worst["tol"],
    }
    return Record("attacks_cuda_vs_cpu", "PASS" if ok else "FAIL", numbers=nums)


def check_reproduce_device(ctx: Context) -> Record:
    """``resode reproduce --preset tiny --device <dev>`` (paper A only, serial executor, so the
    tasks run in this process): every attack's gradient and forward pass and the stability
    analysis run on the configured device (issue 21: they used to run on the CPU)."""
    from resode.analysis import stability
    from resode.attacks.base import Attack
    from resode.cli import main

    seen: dict[str, set[str]] = {"attack": set(), "stability": set()}
    real_grad, real_stab = Attack.loss_and_grad, stability.analyze_stability

    def grad_spy(self: Attack, x: torch.Tensor, *a: Any) -> Any:
        seen["attack"].add(x.device.type)
        return real_grad(self, x, *a)

    def stab_spy(model: torch.nn.Module, *a: Any, **k: Any) -> Any:
        seen["stability"].add(next(model.parameters()).device.type)
        return real_stab(model, *a, **k)

    Attack.loss_and_grad = grad_spy  # type: ignore[method-assign]
    stability.analyze_stability = stab_spy  # type: ignore[assignment]
    import resode.analysis as analysis_pkg

    real_pkg = analysis_pkg.analyze_stability
    analysis_pkg.analyze_stability = stab_spy  # type: ignore[assignment]
    try:
        args = ["reproduce", "--preset", "tiny", "--device", ctx.device, "--executor", "serial"]
        args += ["--out", str(ctx.tmp / "reproduce-tiny"), "--no-progress"]
        args += ["--no-paper-b.enabled", "--no-sweep.enabled"]
        code = main(args)
    finally:
        Attack.loss_and_grad = real_grad  # type: ignore[method-assign]
        stability.analyze_stability = real_stab  # type: ignore[assignment]
        analysis_pkg.analyze_stability = real_pkg  # type: ignore[assignment]
    want = torch.device(ctx.device).type
    ok = code == 0 and seen["attack"] == {want} and seen["stability"] == {want}
    nums = {
        "exit": code,
        "attack_devices": sorted(seen["attack"]),
        "stability_devices": sorted(seen["stability"]),
    }
    return Record("reproduce_tiny_device", "PASS" if ok else "FAIL", numbers=nums)


DDP_CHILD = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist
    from resode.training import TrainConfig, train
    from resode.training import distributed as ddp

    out, config = sys.argv[1], TrainConfig.from_dict(json.loads(sys.argv[2]))
    cuda = config.device.startswith("cuda")
    world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    if world == 1:  # the engine trains single-process at world size 1: force its DDP path
        if cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if cuda else "gloo")
        ddp.DistInfo.enabled = property(lambda self: dist.is_initialized())
    seen = {}
    wrap = ddp.wrap_model

    def recording_wrap(model, info, device, sync_bn):
        wrapped = wrap(model, info, device, sync_bn)
        seen["wrapper"] = type(wrapped).__name__
        seen["backend"] = str(dist.get_backend())
        seen["sync_bn"] = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in wrapped.modules())
        return wrapped

    ddp.wrap_model = recording_wrap
    result = train(config, os.path.join(out, "run"), progress=False)
    weights = sum(float(p.double().sum()) for p in result.model.parameters())
    seen.update(world=world, history=[h["train_loss"] for h in result.history], weights=weights)
    seen["test_acc"] = result.history[-1]["test_acc"]
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump(seen, fh)
    if dist.is_initialized():
        dist.destroy_process_group()
    """
)


def check_ddp(ctx: Context) -> Record:
    """torchrun, one process per GPU, the engine's DDP path with NCCL and SyncBatchNorm."""
    from resode.training import get_preset

    world = torch.cuda.device_count() if ctx.device == "cuda" else 1
    # deterministic cuDNN in both runs: with benchmark-chosen kernels two runs of the same
    # training drift apart (4.6 % after two epochs on an H200), which says nothing about DDP
    over = dict(ctx.small_data(), epochs=ctx.sizes.ddp_epochs, deterministic=True, threads=1)
    config = get_preset("digits", device=ctx.device, **over)
    out = ctx.tmp / "ddp"
    out.mkdir(parents=True, exist_ok=True)
    script = out / "child.py"
    script.write_text(DDP_CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += ["--nproc_per_node", str(world), str(script), str(out), json.dumps(config.to_dict())]
    proc = run_group(
        cmd, _ddp_timeout(ctx), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Record("ddp_nccl_syncbn", "FAIL", note=f"torchrun rc {proc.returncode}: {tail}")
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]
    _, single = _train(ctx, "digits", "ddp-reference", **over)
    ref = [h["train_loss"] for h in single.history]
    rels = [abs(a - b) / abs(b) for a, b in zip(ranks[0]["history"], ref)]
    rel = rels[0]
    same_weights = len({r["weights"] for r in ranks}) == 1
    expect_sync = ctx.device == "cuda"
    sync_ok = (ranks[0]["sync_bn"] > 0) == expect_sync
    nums = {
        "world": world,
        "backend": ranks[0]["backend"],
        "wrapper": ranks[0]["wrapper"],
        "sync_bn_layers": ranks[0]["sync_bn"],
        "epoch1_loss_rel_vs_single": rel,
        "max_loss_rel_vs_single": max(rels),
        "ranks_equal": same_weights,
        "acc_ddp/single": [ranks[0]["test_acc"], single.history[-1]["test_acc"]],
    }
    ddp_used = ranks[0]["wrapper"] == "DistributedDataParallel"
    ok = rel <= (1e-3 if world == 1 else 2e-2) and same_weights and sync_ok and ddp_used
    note = ""
    if world == 1:  # torch's SyncBatchNorm.forward syncs only when the group has > 1 rank
        note = (
            "world 1: SyncBatchNorm layers in place but their cross-GPU statistics need >= 2 GPUs"
        )
    return Record("ddp_nccl_syncbn", "PASS" if ok else "FAIL", numbers=nums, note=note)


def _ddp_timeout(ctx: Context) -> float:
    return float(ctx.shared.get("time_left", 120.0))


def time_preset(ctx: Context, preset: str, steps: int, **over: Any) -> dict[str, float]:
    """Train 3 epochs of ``steps`` steps (no evaluation before the last); t_step from epoch 2,
    evaluation seconds per image from a timed :func:`resode.training.evaluate` after a warm-up."""
    from resode.training import evaluate, get_preset
    from resode.training.engine import load_datasets

    batch = get_preset(preset).batch_size
    config, res = _train(
        ctx,
        preset,
        f"throughput-{preset}",
        data_root=str(ctx.synthetic_root),
        train_subset=batch * steps,
        test_subset=ctx.sizes.synth_test,
        epochs=3,
        eval_every=10**6,
        **over,
    )
    step = res.history[1]["seconds"] / steps
    test_ds = load_datasets(config)[1].to(torch.device(ctx.device))
    model = res.model.to(ctx.device)
    evaluate(model, test_ds.subset(config.eval_batch_size), config.eval_batch_size, ctx.device)
    _sync(ctx)
    t0 = time.perf_counter()
    evaluate(model, test_ds, config.eval_batch_size, ctx.device)
    _sync(ctx)
    per_image = (time.perf_counter() - t0) / len(test_ds)
    loss = res.history[-1]["train_loss"]
    return {
        "step": step,
        "eval_per_image": per_image,
        "batch": batch,
        "finite": math.isfinite(loss),
    }


def _sync(ctx: Context) -> None:
    if ctx.device.startswith("cuda"):
        torch.cuda.synchronize()


def check_deterministic_reruns(ctx: Context) -> Record:
    """Two identical deterministic trainings (resode.runtime.deterministic_cuda: deterministic
    algorithms, no cuDNN autotuning, fixed cuBLAS workspace) end with bit-identical weights; the
    cost is the wall time against the same training with autotuned cuDNN."""
    import time

    over = dict(ctx.small_data(), epochs=ctx.sizes.ddp_epochs, threads=1)
    seconds: dict[str, float] = {}
    weights = []
    for name, det in (("det-a", True), ("det-b", True), ("autotuned", False)):
        _sync(ctx)
        t0 = time.perf_counter()
        _, res = _train(ctx, "digits", f"rerun-{name}", deterministic=det, **over)
        _sync(ctx)
        seconds[name] = time.perf_counter() - t0
        weights.append({k: v.detach().cpu() for k, v in res.model.state_dict().items()})
    identical = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    worst = max(
        float((weights[0][k].double() - weights[2][k].double()).abs().max())
        for k in weights[0]
        if weights[0][k].is_floating_point()
    )
    nums = {
        "reruns_bit_identical": identical,
        "seconds_deterministic": seconds["det-b"],
        "seconds_autotuned": seconds["autotuned"],
        "cost_deterministic/autotuned": seconds["det-b"] / seconds["autotuned"],
        "max_abs_weight_diff_autotuned": worst,
    }
    return Record("deterministic_reruns", "PASS" if identical else "FAIL", numbers=nums)


def check_throughput(ctx: Context) -> Record:
    """In-ResNet-110 (cifar10-paper-a) and the L=256 Table 1 net: step time and projections."""
    from resode.training import get_preset

    s = ctx.sizes
    nums: dict[str, Any] = {}
    finite = True
    for preset, label, over in (
        ("cifar10-paper-a", "a110", {}),
        ("cifar10-table1", f"b{s.table1_depth}", {"model_kwargs": {"depth": s.table1_depth}}),
    ):
        t = time_preset(ctx, preset, s.tp_steps, **over)
        cfg = get_preset(preset)
        hours = (
            project_wall_time(
                step_seconds=t["step"],
                eval_seconds_per_image=t["eval_per_image"],
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                eval_every=cfg.eval_every,
            )
            / 3600
        )
        nums[f"{label}_ms_step"] = 1000 * t["step"]
        nums[f"{label}_img_s"] = t["batch"] / t["step"]
        nums[f"{label}_epoch_s"] = math.ceil(CIFAR_N_TRAIN / t["batch"]) * t["step"]
        nums[f"{label}_{cfg.epochs}ep_h"] = hours
        finite &= bool(t["finite"])
    return Record("throughput", "PASS" if finite else "FAIL", numbers=nums)


def check_attack_table(ctx: Context) -> Record:
    """Issue 20 §3 on the device: the worst-case table (FGSM, IFGSM, PGD at 3 ε, the digits
    model, every test image) by resode's cascade and by a loop over torchattacks
    (``benchmarks/bench_attacks.py``'s two functions, the same PGD starts); PASS when the
    per-point worst cases agree within the sampling tolerance; the wall-time ratio is reported.
    SKIP without torchattacks (``pip install 'resode[bench]'``)."""
    import importlib.util as ilu

    if ilu.find_spec("torchattacks") is None:
        return Record("attack_table_cuda", "SKIP", note="torchattacks not installed")
    import torchattacks

    from resode.robustness import RobustnessConfig
    from resode.training.engine import load_datasets

    spec = ilu.spec_from_file_location(
        "bench_attacks", Path(__file__).with_name("bench_attacks.py")
    )
    bench = ilu.module_from_spec(spec)
    spec.loader.exec_module(bench)
    if "digits_model" not in ctx.shared:  # inresnet20_amp did not run: train the model here
        over = dict(ctx.small_data(), amp="off")
        if ctx.sizes.digits_epochs is not None:
            over["epochs"] = ctx.sizes.digits_epochs
        config, res = _train(ctx, "digits", "table-model", **over)
        ctx.shared["digits_model"] = (res.model, config)
    model, config = ctx.shared["digits_model"]
    model = copy.deepcopy(model).to(ctx.device).eval()
    _, test_ds = load_datasets(config)
    if ctx.sizes.attack_n is not None:
        test_ds = test_ds.subset(ctx.sizes.attack_n)
    x, y = test_ds.images.to(ctx.device), test_ds.labels.to(ctx.device)
    cfg = RobustnessConfig(
        attacks=["fgsm", "ifgsm", "pgd"],
        per_attack=["none"],
        eps=[8 / 255, 16 / 255, 24 / 255],
        steps=ctx.sizes.pgd_steps,
        step_rule="reach",
        corruptions=["none"],
        batch_size=500,
        n_samples=None,
        device=ctx.device,
    )
    eps = cfg.resolved_eps("digits")
    clean = bench.correct(model, x, y, cfg.batch_size)
    dev = torch.device(ctx.device)
    _sync(ctx)
    t0 = time.perf_counter()
    ta = bench.table_torchattacks(model, x, y, clean, eps, cfg, torchattacks)
    _sync(ctx)
    t1 = time.perf_counter()
    ours, _ = bench.table_resode(model, x, y, eps, cfg, True)
    _sync(ctx)
    t2 = time.perf_counter()
    n = len(y)
    differ = [int((a.to(dev) != b.to(dev)).sum()) for a, b in zip(ta, ours)]
    acc_ta = [float(a.float().mean()) for a in ta]
    acc_ours = [float(b.float().mean()) for b in ours]
    ok = all(abs(a - b) <= sampling_tolerance(a, n) for a, b in zip(acc_ta, acc_ours))
    nums = {
        "n": n,
        "worst_ta/resode@24/255": [acc_ta[-1], acc_ours[-1]],
        "points_differing": sum(differ),
        "wall_ta_s": t1 - t0,
        "wall_resode_s": t2 - t1,
        "speedup_wall": (t1 - t0) / max(t2 - t1, 1e-9),
    }
    return Record("attack_table_cuda", "PASS" if ok else "FAIL", numbers=nums)


# ------------------------------------------------------------------------- fast path (issue 23)


TABLE1_DEPTH = 256  # the cifar10-table1 preset's scaled_convnet


@dataclass(frozen=True)
class FastSizes:
    """How much :func:`check_fast_path` does (FULL on a GPU, SMOKE for --cpu-smoke)."""

    steps: int  # timed steps per epoch (2 epochs: capture/warm-up, then timed)
    table1_depth: int
    acc_seeds: int  # digits trainings per path for the accuracy comparison
    acc_epochs: int | None  # None: the digits preset's own
    a_model: str | None = None  # None: the preset's In-ResNet-110 (smoke: a smaller stand-in)


FAST_FULL = FastSizes(steps=40, table1_depth=TABLE1_DEPTH, acc_seeds=2, acc_epochs=10)
FAST_SMOKE = FastSizes(steps=1, table1_depth=4, acc_seeds=1, acc_epochs=1, a_model="inresnet20")
A110_TARGET_H = 12 / 60  # issue 23: In-ResNet-110, 160 epochs, <= 12 min
TABLE1_ROW_TARGET_H = 2.0  # issue 23: a Table 1 row (5 seeds, 180 epochs), <= 2 h
TABLE1_SEEDS = 5
# the plain path is today's engine (torch's default foreach SGD on CUDA, per-batch loader,
# per-step NaN check); the fast path: data resident on the device, fused SGD, CUDA graphs of
# forward + backward, bf16 autocast (the paper-B residual stream stays float32: check 3),
# channels-last (on by default on CUDA) and one finite check per epoch
PLAIN_PATH: dict[str, Any] = {"amp": "off", "speed": {"sgd": "foreach", "data_on_device": False}}
FAST_PATH: dict[str, Any] = {
    "amp": "bf16",
    "speed": {
        "data_on_device": True,
        "sgd": "fused",
        "cuda_graphs": True,
        "finite_check": "epoch",
    },
}


def _time_path(ctx: Context, preset: str, tag: str, steps: int, **over: Any) -> float:
    """Seconds per step of epoch 2 of a 2-epoch run of ``steps`` full batches (epoch 1 captures
    graphs and warms up); the epoch's end-of-epoch sync is inside the timed epoch."""
    from resode.training import get_preset

    batch = get_preset(preset).batch_size
    _, res = _train(
        ctx,
        preset,
        f"fast-{tag}",
        data_root=str(ctx.synthetic_root),
        train_subset=batch * steps,
        test_subset=min(ctx.sizes.synth_test, 500),
        epochs=2,
        eval_every=10**6,
        **over,
    )
    if not math.isfinite(res.history[-1]["train_loss"]):
        raise RuntimeError(f"{tag}: non-finite training loss")
    return float(res.history[1]["seconds"]) / steps


def _eval_seconds_per_image(ctx: Context, preset: str, **over: Any) -> float:
    """Timed :func:`resode.training.evaluate` of a fresh model on the synthetic test split."""
    from resode.training import evaluate, get_preset
    from resode.training.engine import build_model, load_datasets

    config = get_preset(preset, data_root=str(ctx.synthetic_root), device=ctx.device, **over)
    test_ds = load_datasets(config)[1].to(torch.device(ctx.device))
    model = build_model(config, test_ds).to(ctx.device)
    evaluate(model, test_ds.subset(config.eval_batch_size), config.eval_batch_size, ctx.device)
    _sync(ctx)
    t0 = time.perf_counter()
    evaluate(model, test_ds, config.eval_batch_size, ctx.device)
    _sync(ctx)
    return (time.perf_counter() - t0) / len(test_ds)


def _time_seed_batch(ctx: Context, steps: int, depth: int) -> tuple[float | None, str]:
    """Seconds per step of the Table 1 net with its 5 seeds in one seed-stacked model
    (``resode.training.seed_batch``, issue 23 §1; its own loop, float32 as the preset), epoch 2
    of 2; (None, why) when the module is absent or the run fails."""
    if importlib.util.find_spec("resode.training.seed_batch") is None:
        return None, "resode.training.seed_batch absent: the row is 5 sequential runs"
    from resode.training import get_preset
    from resode.training.seed_batch import train_seed_batch

    batch = get_preset("cifar10-table1").batch_size
    configs = [
        get_preset(
            "cifar10-table1",
            device=ctx.device,
            seed=seed,
            data_root=str(ctx.synthetic_root),
            train_subset=batch * steps,
            test_subset=min(ctx.sizes.synth_test, 500),
            epochs=2,
            eval_every=10**6,
            model_kwargs={"depth": depth},
        )
        for seed in range(TABLE1_SEEDS)
    ]
    dirs = [ctx.tmp / f"fast-seedbatch-{s}" for s in range(TABLE1_SEEDS)]
    try:
        results = train_seed_batch(configs, dirs)
    except Exception as exc:  # report, do not hide the rest of the section
        return None, (
            f"seed-batched Table 1 run failed ({type(exc).__name__}: {exc}); the row is 5 "
            "sequential runs"
        )
    return float(results[0].history[1]["seconds"]) / steps, "Table 1 seeds batched (5 in one)"


def check_fast_path(ctx: Context) -> Record:
    """Issue 23 §2: plain vs fast path on In-ResNet-110 (cifar10-paper-a) and the Table 1 net
    (cifar10-table1): ms/step, projected wall time of the full run (160 epochs; a row of 5 seeds
    × 180 epochs) against the targets, and the fast path's test accuracy against the plain
    path's (digits preset, same seeds, the sampling tolerance: a broken path fails, a
    fraction-of-a-point effect does not). Targets missed are reported, not failed."""
    from resode.training import get_preset

    fs = FAST_SMOKE if ctx.sizes == SMOKE else FAST_FULL
    steps = max(1, min(fs.steps, ctx.sizes.tp_steps))  # the synthetic set holds that many
    nums: dict[str, Any] = {}
    hours: dict[str, float] = {}
    evals: dict[str, float] = {}  # evaluation seconds per image
    a_over = {"model": fs.a_model} if fs.a_model else {}
    for preset, label, over in (
        ("cifar10-paper-a", "a110", a_over),
        ("cifar10-table1", f"b{fs.table1_depth}", {"model_kwargs": {"depth": fs.table1_depth}}),
    ):
        cfg = get_preset(preset)
        per_image = evals[label] = _eval_seconds_per_image(ctx, preset, **over)
        for path, path_over in (("plain", PLAIN_PATH), ("fast", FAST_PATH)):
            step = _time_path(ctx, preset, f"{label}-{path}", steps, **over, **path_over)
            h = (
                project_wall_time(
                    step_seconds=step,
                    eval_seconds_per_image=per_image,
                    epochs=cfg.epochs,
                    batch_size=cfg.batch_size,
                    eval_every=cfg.eval_every,
                )
                / 3600
            )
            nums[f"{label}_{path}_ms_step"] = 1000 * step
            hours[f"{label}_{path}"] = h
        nums[f"{label}_speedup"] = hours[f"{label}_plain"] / hours[f"{label}_fast"]
    a, b = "a110", f"b{fs.table1_depth}"
    nums["a110_160ep_plain_min"] = 60 * hours[f"{a}_plain"]
    nums["a110_160ep_fast_min"] = 60 * hours[f"{a}_fast"]
    nums["a110_target_min"] = 60 * A110_TARGET_H
    nums["table1_row_plain_h"] = TABLE1_SEEDS * hours[f"{b}_plain"]
    nums["table1_row_fast_h"] = TABLE1_SEEDS * hours[f"{b}_fast"]
    cfg = get_preset("cifar10-table1")
    batched_step, seed_note = _time_seed_batch(ctx, steps, fs.table1_depth)
    row_best = nums["table1_row_fast_h"]
    if batched_step is not None:  # the whole row is one run of the stacked model
        nums[f"{b}_seedbatch5_ms_step"] = 1000 * batched_step
        nums["table1_row_seedbatch_h"] = (
            project_wall_time(
                step_seconds=batched_step,
                eval_seconds_per_image=TABLE1_SEEDS * evals[b],
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                eval_every=cfg.eval_every,
            )
            / 3600
        )
        row_best = min(row_best, nums["table1_row_seedbatch_h"])
    nums["table1_row_target_h"] = TABLE1_ROW_TARGET_H
    full_depth = fs.table1_depth == TABLE1_DEPTH
    nums["a110_target_met"] = hours[f"{a}_fast"] <= A110_TARGET_H
    nums["table1_target_met"] = full_depth and row_best <= TABLE1_ROW_TARGET_H
    # accuracy: the digits preset, plain vs fast, the same seeds
    acc_over = dict(ctx.small_data())
    if fs.acc_epochs is not None:
        acc_over["epochs"] = fs.acc_epochs
    accs: dict[str, dict[str, float]] = {"plain": {}, "fast": {}}
    config = None
    for seed in range(fs.acc_seeds):
        for path, path_over in (("plain", PLAIN_PATH), ("fast", FAST_PATH)):
            config, res = _train(
                ctx, "digits", f"fast-acc-{path}-{seed}", seed=seed, **acc_over, **path_over
            )
            accs[path][f"seed{seed}"] = float(res.history[-1]["test_acc"])
    assert config is not None
    n = _test_size(config)
    same, worst = compare_accuracies(accs["plain"], accs["fast"], n)
    for path in accs:
        for key, v in accs[path].items():
            nums[f"acc_{path}_{key}"] = v
    nums.update(acc_n_test=n, acc_worst_diff=worst["diff"], acc_tol=worst["tol"])
    note = seed_note
    if fs.a_model:
        note += f"; {fs.a_model} stands in for In-ResNet-110"
    if not full_depth:
        note += f"; Table 1 timed at depth {fs.table1_depth}, not {TABLE1_DEPTH}"
    return Record("fast_path", "PASS" if same else "FAIL", numbers=nums, note=note)


CHECKS: list[Check] = [
    Check("environment", check_environment, 30, cuda=False, needs=()),
    Check("inresnet20_amp", check_inresnet20_amp, 90),
    Check("scaled_convnet_amp", check_scaled_convnet_amp, 90),
    Check("channels_last", check_channels_last, 90),
    Check("attacks_cuda_vs_cpu", check_attacks, 90),
    Check("reproduce_tiny_device", check_reproduce_device, 120),
    Check("ddp_nccl_syncbn", check_ddp, 120),
    Check("deterministic_reruns", check_deterministic_reruns, 90),
    Check("throughput", check_throughput, 120),
    Check("attack_table_cuda", check_attack_table, 120),
    Check("fast_path", check_fast_path, 180),
]


# ------------------------------------------------------------------------------ runner


def run_checks(
    checks: list[Check],
    ctx: Context,
    *,
    budget: float,
    cuda_ok: bool = True,
    emit: Callable[[Record], None] = lambda r: print(r.line(), flush=True),
) -> list[Record]:
    """Run ``checks`` in order, each under min(its budget, what is left of ``budget``).

    Without CUDA (``cuda_ok=False``) the CUDA checks are SKIP; a check needing a missing package
    is SKIP; an exception or a time-out is FAIL with the reason in the note.
    """
    records = []
    start = time.perf_counter()
    for check in checks:
        left = budget - (time.perf_counter() - start)
        rec = _skip_reason(check, ctx, left, cuda_ok)
        if rec is None:
            box = min(check.budget, left)
            ctx.shared["time_left"] = box
            t0 = time.perf_counter()
            try:
                with time_box(box):
                    rec = check.run(ctx)
            except CheckTimeout as exc:
                rec = Record(check.name, "FAIL", note=str(exc))
            except Exception as exc:  # a failing check must not stop the others
                rec = Record(check.name, "FAIL", note=f"{type(exc).__name__}: {exc}"[:300])
            rec.seconds = time.perf_counter() - t0
        records.append(rec)
        emit(rec)
    return records


def _skip_reason(check: Check, ctx: Context, left: float, cuda_ok: bool) -> Record | None:
    if check.cuda and not cuda_ok:
        return Record(check.name, "SKIP", note="no CUDA device")
    gone = [OPTIONAL_DEPS[n] for n in check.needs if n in ctx.missing]
    if gone:
        return Record(check.name, "SKIP", note=f"missing packages: {', '.join(gone)}")
    if left < 5:
        return Record(check.name, "SKIP", note="global --budget spent")
    return None


def fill_missing(names: list[str], records: list[Record], reason: str) -> list[Record]:
    """The records in ``names`` order; checks that never reported become FAIL with ``reason``."""
    by_name = {r.name: r for r in records}
    return [by_name.get(n) or Record(n, "FAIL", note=reason) for n in names]


def run_group(cmd: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a new process group, the whole group killed on timeout or error
    (torchrun's workers too)."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def supervise(argv: list[str], names: list[str], budget: float) -> list[Record]:
    """Run the checks in a worker process (its lines pass through); kill it at budget + 60 s."""
    with tempfile.TemporaryDirectory() as tmp:
        records_file = Path(tmp) / "records.jsonl"
        cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--worker", str(records_file)]
        reason = ""
        try:
            proc = run_group(cmd, budget + 60)
            if proc.returncode != 0:
                reason = f"worker exited with {proc.returncode} before reporting"
        except subprocess.TimeoutExpired:
            reason = f"killed: the worker outlived the global budget ({budget:.0f} s + 60 s)"
        done = []
        if records_file.exists():
            done = [Record(**json.loads(x)) for x in records_file.read_text().splitlines()]
    records = fill_missing(names, done, reason or "no report")
    reported = {r.name for r in done}
    for r in records:
        if r.name not in reported:
            print(r.line(), flush=True)
    return records


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write every line and number to this JSON file")
    parser.add_argument("--checks", help="comma-separated subset of: " + ", ".join(_names()))
    parser.add_argument("--budget", type=float, default=300.0, help="global time box (seconds)")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="run every check on the CPU at toy sizes"
    )
    parser.add_argument("--in-process", action="store_true", help="no worker process")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _names() -> list[str]:
    return [c.name for c in CHECKS]


def select(spec: str | None) -> list[Check]:
    if not spec:
        return list(CHECKS)
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(_names()))
    if unknown:
        raise SystemExit(f"unknown checks {unknown}; choose from {', '.join(_names())}")
    return [c for c in CHECKS if c.name in wanted]


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    checks = select(args.checks)
    cuda = torch.cuda.is_available()
    device = "cpu" if args.cpu_smoke or not cuda else "cuda"
    t0 = time.perf_counter()
    if cuda and not (args.worker or args.in_process or args.cpu_smoke):
        records = supervise(raw, [c.name for c in checks], args.budget)
    else:
        records = _run_here(args, checks, device, cuda_ok=cuda or args.cpu_smoke)
        if args.worker:
            return 0
    seconds = time.perf_counter() - t0
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"cpu ({platform.machine()})"
    summary = summary_line(records, seconds, name)
    print(summary, flush=True)
    if args.json:
        payload = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "device": name,
            "lines": [r.line() for r in records] + [summary],
            "checks": [asdict(r) for r in records],
            "exit_code": exit_code(records),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))
    return exit_code(records)


def _run_here(
    args: argparse.Namespace, checks: list[Check], device: str, *, cuda_ok: bool
) -> list[Record]:
    sink = Path(args.worker) if args.worker else None

    def emit(rec: Record) -> None:
        print(rec.line(), flush=True)
        if sink is not None:
            with open(sink, "a") as fh:
                fh.write(json.dumps(asdict(rec), default=str) + "\n")

    sizes = SMOKE if args.cpu_smoke else FULL
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        ctx = Context(device, sizes, Path(tmp), missing_deps())
        return run_checks(checks, ctx, budget=args.budget, cuda_ok=cuda_ok, emit=emit)


if __name__ == "__main__":
    sys.exit(main())
