"""The training engine shared by paper A (In-ResNets) and the paper B CIFAR network.

One epoch, for the global batches B_1, B_2, … of a seeded permutation of the training set,

    θ ← SGD_momentum(θ, ∇_θ (1/|B|) Σ_{i∈B} CE(model(augment(x_i)), y_i), lr(epoch), wd),

with a single parameter group, so weight decay also applies to the interpolation coefficients
(paper A uses no dedicated regulariser for k). ``lr(epoch)`` is a pure function of the epoch
(:func:`lr_at`): multistep ``lr·γ^{#milestones ≤ epoch}``, cosine
``lr·(1 + cos(π·epoch/epochs))/2`` or constant.

Reproducibility and resume. ``torch.manual_seed(seed)`` fixes the initialisation; the shuffling
and augmentation of epoch e use a ``torch.Generator`` seeded with (seed, e), so an epoch's batches
do not depend on what ran before it. After every epoch ``last.pt`` is written atomically
(:func:`resode.save_checkpoint`) with the weights, optimizer state (momentum buffers), AMP scaler,
RNG states and history; ``resume=True`` restores all of it, so training e epochs in one go and
training k epochs then resuming give bit-identical weights on CPU (tests/test_checkpoint.py).
A SIGKILL at any moment loses at most the epoch in progress (tests/test_crash_safety.py).

Outputs in ``out_dir``: ``last.pt``, ``history.json``, ``history.csv`` (one row per epoch:
losses, accuracies, lr, seconds, skipped steps and every damped block's λ) and ``config.yaml``.

Numerical faults: a non-finite loss or gradient either stops training (``nan_policy="stop"``:
:class:`~resode.errors.NumericalError` naming epoch, step and the last good checkpoint) or skips
that step (``"skip"``: no parameter update; counted in the history as ``nan_skips``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resode.checkpoint import (
    atomic_write_bytes,
    load_state_dict_checked,
    read_checkpoint,
    save_checkpoint,
)
from resode.config import RESUME_OVERRIDES, record_override
from resode.errors import CheckpointError, NumericalError, ResodeError
from resode.runtime import deterministic_cuda, select_device, torch_threads
from resode.training import distributed as ddp
from resode.training.config import (
    TrainConfig,
    amp_dtype,
    compile_plan,
    epoch_generator,
    lr_at,
    sgd_flags,
    use_channels_last,
    use_data_on_device,
)
from resode.training.graphs import GraphedForward, cuda_graphs_plan
from resode.training.history import (
    CHECKPOINT_NAME,
    CONFIG_YAML,
    lambda_values,
    remove_stale_temp_files,
    write_history,
)


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model (eval mode) and the per-epoch history."""

    model: nn.Module
    history: list[dict[str, Any]]
    checkpoint_path: Path
    out_dir: Path


# --------------------------------------------------------------------------------------------
# small pure helpers


def load_datasets(config: TrainConfig) -> tuple[Any, Any]:
    """Train and test :class:`resode.data.ImageDataset` for ``config`` (subsets applied)."""
    from resode import data

    kw: dict[str, Any] = {"root": config.data_root, "download": config.download}
    if config.image_size is not None:
        kw["image_size"] = config.image_size
    train_ds = data.load(config.dataset, split="train", **kw)
    if not isinstance(train_ds, data.ImageDataset):
        raise ResodeError(
            f"data set {config.dataset!r} is not an image classification set; resode train "
            f"needs one of: digits, cifar10, cifar100"
        )
    test_ds = data.load(config.dataset, split="test", **kw)
    if config.train_subset is not None:
        train_ds = train_ds.subset(config.train_subset)
    if config.test_subset is not None:
        test_ds = test_ds.subset(config.test_subset)
    return train_ds, test_ds


def build_model(config: TrainConfig, dataset: Any) -> nn.Module:
    """``create_model(config.model, num_classes=…, in_channels=…, image_size=…, mean, std)``."""
    from resode.registry import create_model

    kwargs: dict[str, Any] = {
        "num_classes": int(dataset.num_classes),
        "in_channels": int(dataset.in_channels),
        "image_size": int(dataset.image_size),
        "mean": [float(v) for v in dataset.mean],
        "std": [float(v) for v in dataset.std],
    }
    kwargs.update(config.model_kwargs)
    return create_model(config.model, **kwargs)


# --------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def _eval_sums(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
    *,
    channels_last: bool = False,
    autocast: torch.dtype | None = None,
) -> torch.Tensor:
    """``[Σ CE, #correct, n]`` over the given images (float64 accumulators on ``device``)."""
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device, non_blocking=True)
        y = labels[start : start + batch_size].to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, autocast):
            logits = model(x)
        logits = logits.float()
        sums[0] += F.cross_entropy(logits, y, reduction="sum").double()
        sums[1] += (logits.argmax(1) == y).sum()
        sums[2] += len(y)
    return sums


def evaluate(
    model: nn.Module,
    dataset: Any,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (eval mode) on an ImageDataset.

    Returns ``(loss, acc)`` with ``loss = (1/N) Σ CE(model(x_i), y_i)`` and ``acc`` in [0, 1].
    The model's train/eval mode is restored afterwards.
    """
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        sums = _eval_sums(model, dataset.images, dataset.labels, batch_size, device)
    finally:
        model.train(was_training)
    n = max(float(sums[2]), 1.0)
    return float(sums[0]) / n, float(sums[1]) / n


def _autocast(
    device: torch.device, dtype: torch.dtype | None, cache: bool = True
) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` (None: off); ``cache=False`` for CUDA graph capture."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=cache)


# --------------------------------------------------------------------------------------------
# output files


# --------------------------------------------------------------------------------------------
# resume


def _check_resume_config(
    path: Path, recorded: Any, config: TrainConfig, override: bool
) -> list[str]:
    """Refuse to resume ``path`` with another effective config (unless ``override``).

    Returns the differing dotted keys (empty: the same run). Every key is compared (also
    ``threads`` and ``device``): a resumed run is the recorded one or an explicit, recorded
    override. Another model is refused even with ``override``."""
    from resode.config import config_diff

    if not isinstance(recorded, dict):
        raise CheckpointError(
            f"{str(path)!r} records no training config; it cannot be resumed safely. "
            "Start a new run in another --out folder"
        )
    if recorded.get("model") != config.model:  # another network: never, override or not
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: it holds model {recorded.get('model')!r} but the "
            f"config asks for {config.model!r}; pass --model {recorded.get('model')} or choose "
            "another --out folder"
        )
    current = config.to_dict()
    defaults = TrainConfig().to_dict()
    # a field added after the run was recorded counts as recorded at its default
    recorded = {**{k: defaults[k] for k in current if k not in recorded}, **recorded}
    diff = config_diff(recorded, current)
    if diff and not override:
        raise ResodeError(
            f"--resume: {str(path)!r} was trained with other settings ({', '.join(diff)}); "
            "give the same options (see its config.yaml), pass --resume-override to continue "
            "with the new ones (recorded in resume_overrides.json), or choose another --out"
        )
    return diff


def _load_resume_state(path: Path, config: TrainConfig, model: nn.Module) -> dict[str, Any]:
    """Read ``path`` safely, check it belongs to ``config.model`` and load its weights."""
    payload = read_checkpoint(path)
    spec = payload.get("model")
    if not isinstance(spec, dict) or not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(
            f"{str(path)!r} is not a valid resode training checkpoint (no model spec or "
            "state_dict mapping); start a new run in another --out folder"
        )
    name = spec.get("name")
    if name != config.model:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: it holds model {name!r} but the config asks for "
            f"{config.model!r}; pass --model {name} or choose another --out folder"
        )
    if (
        not isinstance(payload.get("optimizer"), dict)
        or isinstance(payload.get("epoch"), bool)
        or not isinstance(payload.get("epoch"), int)
        or not isinstance(payload.get("history", []), list)
    ):
        raise CheckpointError(
            f"{str(path)!r} has no training state (optimizer, epoch); it cannot be resumed. "
            "Start a new run in another --out folder"
        )
    load_state_dict_checked(model, payload["state_dict"], source=str(path))
    return payload


# --------------------------------------------------------------------------------------------
# the loop


def _batches(
    train_ds: Any,
    config: TrainConfig,
    epoch: int,
    generator: torch.Generator,
    resident: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The epoch's shuffled, augmented batches: per-batch (:func:`resode.data.batches`) or with
    the epoch's draws uploaded once (``resident``, :func:`resode.data.resident_batches`); the
    same batches either way."""
    from resode.data import Augment, batches, resident_batches

    augment = None
    if config.augment and (config.crop_padding > 0 or config.flip):
        augment = Augment(padding=config.crop_padding, mode=config.padding_mode, flip=config.flip)
    loader = resident_batches if resident else batches
    return loader(train_ds, config.batch_size, shuffle=True, generator=generator, augment=augment)


def _grads_finite(params: list[torch.Tensor], clip: float | None) -> torch.Tensor:
    """0-d bool: all gradients finite (clipping to ``clip`` on the way if given)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(True)
    if clip is not None:
        total = torch.nn.utils.clip_grad_norm_(params, clip, error_if_nonfinite=False)
        return torch.isfinite(total)
    norms = torch._foreach_norm(grads)
    return torch.isfinite(torch.stack(norms).sum())


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    resume_override: bool = False,
) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; checkpoint and log every epoch in ``out_dir``.

    ``resume=True`` continues from ``out_dir/last.pt`` if it exists (exactly: same weights as an
    uninterrupted run), else starts fresh. Without ``resume`` an existing checkpoint in
    ``out_dir`` is an error, so finished work is never overwritten by accident.
    Resuming with an effective config other than the recorded one is refused (naming the
    differing keys) unless ``resume_override``, which appends the change to
    ``out_dir/resume_overrides.json``. Rank 0 holds the grid's folder lock (``out_dir/.lock``)
    for the whole run: a second run into the same folder fails at once with one line.
    Under ``torchrun`` every rank calls this; only rank 0 writes files.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ResodeError(f"--out {str(out_dir)!r} is a file, not a folder; choose a folder")
    if os.environ.get("RANK", "0") != "0":
        return _train_unlocked(config, out_dir, resume, progress, resume_override)
    from resode.grid.task import folder_lock
    from resode.report import prepare_out_dir

    prepare_out_dir(out_dir, what="training run")  # one line for an unwritable --out
    with folder_lock(out_dir, blocking=False, what="resode train"):
        return _train_unlocked(config, out_dir, resume, progress, resume_override)


def _train_unlocked(
    config: TrainConfig, out_dir: Path, resume: bool, progress: bool, resume_override: bool
) -> TrainResult:
    ckpt_path = out_dir / CHECKPOINT_NAME
    if resume and ckpt_path.exists():
        recorded = read_checkpoint(ckpt_path).get("config")
        diff = _check_resume_config(ckpt_path, recorded, config, resume_override)
        if diff and os.environ.get("RANK", "0") == "0":
            record_override(out_dir / RESUME_OVERRIDES, diff, recorded, config.to_dict())
    if ckpt_path.exists() and not resume:
        raise ResodeError(
            f"{str(out_dir)!r} already holds a checkpoint ({CHECKPOINT_NAME}); pass --resume "
            "(resume=True) to continue it or choose another --out folder"
        )
    from resode.registry import model_entry

    model_entry(config.model)  # unknown name: error listing the valid ones, before loading data

    device = select_device(config.device)
    info = ddp.init_from_env(device.type)
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    try:
        cuda = device.type == "cuda"
        with (
            torch_threads(config.threads),
            deterministic_cuda(config.deterministic) if cuda else contextlib.nullcontext(),
        ):
            return _train(config, out_dir, ckpt_path, device, info, resume, progress)
    finally:
        ddp.cleanup(info)


@dataclass
class _Run:
    """Everything one training run carries from epoch to epoch."""

    config: TrainConfig
    out_dir: Path
    ckpt_path: Path
    device: torch.device
    info: ddp.DistInfo
    train_ds: Any
    test_ds: Any
    model: nn.Module
    train_model: nn.Module
    params: list[torch.Tensor]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    channels_last: bool
    autocast: torch.dtype | None
    history: list[dict[str, Any]]
    start_epoch: int = 0
    total_skips: int = 0
    resident: bool = False  # speed.data_on_device resolved for this device
    cudagraphs: bool = False  # the compiled model replays CUDA graphs (reduce-overhead)
    graphs: GraphedForward | None = None  # speed.cuda_graphs: captured forward + backward
    first_bad: torch.Tensor | None = None  # finite_check "epoch": first non-finite step or -1


def _train(
    config: TrainConfig,
    out_dir: Path,
    ckpt_path: Path,
    device: torch.device,
    info: ddp.DistInfo,
    resume: bool,
    progress: bool,
) -> TrainResult:
    from tqdm.auto import tqdm

    run = _prepare(config, out_dir, ckpt_path, device, info, resume)
    for epoch in range(run.start_epoch, config.epochs):
        row = _train_epoch(run, epoch, progress)
        if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
            row["test_loss"], row["test_acc"] = _evaluate_sharded(
                run.model, run.test_ds, config, device, info, run.channels_last, run.autocast
            )
        row["lambdas"] = lambda_values(run.model)
        run.history.append(row)
        if info.is_main:
            _save_state(run, epoch + 1)
            write_history(out_dir, run.history)
            if progress:
                tqdm.write(_epoch_line(row, config.epochs))
        ddp.barrier(info)
    if run.graphs is not None:
        run.graphs.release()
    model = run.model
    model.eval()
    if run.channels_last:  # hand back the same layout a loaded checkpoint has
        model.to(memory_format=torch.contiguous_format)
    return TrainResult(model=model, history=run.history, checkpoint_path=ckpt_path, out_dir=out_dir)


def _prepare(
    config: TrainConfig,
    out_dir: Path,
    ckpt_path: Path,
    device: torch.device,
    info: ddp.DistInfo,
    resume: bool,
) -> _Run:
    """Data, model (seeded), optimizer and AMP scaler; the state of ``last.pt`` on resume."""
    train_ds, test_ds = load_datasets(config)
    resident = use_data_on_device(config, device)
    if device.type != "cpu" or resident:  # keep the whole (small) data set on the accelerator
        train_ds, test_ds = train_ds.to(device), test_ds.to(device)
    torch.manual_seed(config.seed)
    model = build_model(config, train_ds).to(device)
    channels_last = use_channels_last(config, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    autocast = amp_dtype(config, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
        **sgd_flags(config, device),
    )
    scaler = torch.amp.GradScaler("cuda", enabled=autocast is torch.float16)
    run = _Run(
        config,
        out_dir,
        ckpt_path,
        device,
        info,
        train_ds,
        test_ds,
        model,
        model,
        params,
        optimizer,
        scaler,
        channels_last,
        autocast,
        history=[],
        resident=resident,
    )
    if info.is_main:
        from resode.report import prepare_out_dir

        prepare_out_dir(out_dir, what="training run")
        remove_stale_temp_files(out_dir)
    if resume and ckpt_path.exists():
        _restore(run)
    ddp.barrier(info)  # every rank has read the checkpoint before rank 0 may overwrite it
    if info.is_main:
        text = config.to_yaml()
        atomic_write_bytes(out_dir / CONFIG_YAML, lambda fh: fh.write(text.encode()))
    run.train_model = ddp.wrap_model(model, info, device, config.sync_batchnorm)
    mode, note = compile_plan(config, device)
    if note and info.is_main:
        _note(note)
    if mode is not None:  # static shapes: the last partial batch compiles once more
        run.train_model = torch.compile(run.train_model, mode=mode, dynamic=False)
        run.cudagraphs = mode == "reduce-overhead"
    graphs, note = cuda_graphs_plan(
        config.speed.cuda_graphs, device, compiled=mode is not None, distributed=info.enabled
    )
    if note and info.is_main:
        _note(note)
    if graphs:
        run.graphs = GraphedForward(run.train_model, config.batch_size)
    run.total_skips = sum(int(h.get("nan_skips", 0)) for h in run.history)
    return run


def _restore(run: _Run) -> None:
    """Weights, optimizer, scaler, RNG states and history of ``last.pt`` (exact resume)."""
    payload = _load_resume_state(run.ckpt_path, run.config, run.model)
    flags = {k: g[k] for g in run.optimizer.param_groups for k in ("foreach", "fused") if k in g}
    run.optimizer.load_state_dict(payload["optimizer"])
    for group in run.optimizer.param_groups:  # the implementation is this run's choice
        group.update(flags)
    if payload.get("scaler"):
        run.scaler.load_state_dict(payload["scaler"])
    rng = payload.get("rng", {})
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "cuda" in rng and run.device.type == "cuda":
        torch.cuda.set_rng_state_all(list(rng["cuda"]))
    run.history = list(payload.get("history", []))
    run.start_epoch = int(payload["epoch"])


def _train_epoch(run: _Run, epoch: int, progress: bool) -> dict[str, Any]:
    """One epoch of SGD steps; returns the history row (train loss/accuracy, lr, seconds)."""
    from tqdm.auto import tqdm

    config, device, info = run.config, run.device, run.info
    t0 = time.perf_counter()
    lr = lr_at(config, epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    run.train_model.train()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # Σ loss, #correct, n
    skips = 0
    steps = -(-len(run.train_ds) // config.batch_size)
    bar = tqdm(
        total=steps,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        leave=False,
        disable=not progress or not info.is_main,
        dynamic_ncols=True,
    )
    gen = epoch_generator(config.seed, epoch)
    batches = _batches(run.train_ds, config, epoch, gen, run.resident)
    run.first_bad = None
    if config.speed.finite_check == "epoch":
        run.first_bad = torch.full((), -1, dtype=torch.int64, device=device)
    try:
        for step, (x_all, y_all) in enumerate(batches):
            if len(y_all) >= info.world_size and not _step(
                run, x_all, y_all, sums, epoch, step, lr
            ):
                skips += 1
            bar.update(1)
            if not bar.disable and (step % 10 == 0 or step == steps - 1):
                n = max(float(sums[2]), 1.0)
                bar.set_postfix(loss=f"{float(sums[0]) / n:.4f}", acc=f"{float(sums[1]) / n:.3f}")
    finally:
        bar.close()
    # finite_check "epoch": one host sync per epoch
    if run.first_bad is not None and not bool(ddp.all_true(run.first_bad < 0, info)):
        _deferred_non_finite(run, epoch, int(run.first_bad), lr)
    ddp.all_reduce_sum(sums, info)
    n = max(float(sums[2]), 1.0)
    return {
        "epoch": epoch + 1,
        "train_loss": float(sums[0]) / n,
        "train_acc": float(sums[1]) / n,
        "test_loss": None,
        "test_acc": None,
        "lr": lr,
        "seconds": time.perf_counter() - t0,
        "nan_skips": skips,
    }


def _step(
    run: _Run,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    sums: torch.Tensor,
    epoch: int,
    step: int,
    lr: float,
) -> bool:
    """One SGD step on this rank's shard of a global batch; False when it was skipped
    (non-finite loss or gradient under ``nan_policy="skip"``)."""
    config, info = run.config, run.info
    b = len(y_all)
    part = ddp.shard(b, info)
    x, y = x_all[part].to(run.device), y_all[part].to(run.device)
    if run.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if run.cudagraphs:  # a new iteration: the graphs' previous outputs may be overwritten
        torch.compiler.cudagraph_mark_step_begin()
    forward = run.graphs or run.train_model
    with _autocast(run.device, run.autocast, cache=run.graphs is None):
        logits = forward(x)
    loss_sum = F.cross_entropy(logits.float(), y, reduction="sum")
    # (world/b)·Σ_local ℓ: after DDP's gradient average this is the global-batch mean.
    loss = loss_sum * (info.world_size / b)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if run.scaler.is_enabled():
        run.scaler.unscale_(run.optimizer)
        ok = torch.isfinite(loss_sum)  # the scaler itself skips inf/NaN gradients
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(run.params, config.grad_clip)
    else:
        ok = torch.isfinite(loss_sum) & _grads_finite(run.params, config.grad_clip)
    if run.first_bad is not None:  # deferred: remember the first bad step, no host sync
        first = run.first_bad
        run.first_bad = torch.where((first < 0) & ~ok.to(first.device), step, first)
    elif not bool(ddp.all_true(ok, info)):
        _non_finite(run, epoch, step, loss_sum, len(y), lr)
        return False
    run.scaler.step(run.optimizer)
    run.scaler.update()
    with torch.no_grad():
        sums[0] += loss_sum.detach().double()
        sums[1] += (logits.detach().argmax(1) == y).sum()
        sums[2] += len(y)
    return True


def _deferred_non_finite(run: _Run, epoch: int, step: int, lr: float) -> None:
    """``speed.finite_check = "epoch"`` found a non-finite step: stop; the epoch is not saved."""
    ckpt = run.ckpt_path
    last = str(ckpt) if ckpt.exists() else "none (no epoch finished)"
    where = f"step {step + 1}" if step >= 0 else "a step on another rank"
    raise NumericalError(
        f"non-finite loss or gradient at epoch {epoch + 1}, {where} (found by the end-of-epoch "
        f"check, speed.finite_check 'epoch'; lr {lr:g}); last good checkpoint: {last}. Lower "
        "--lr, add --grad-clip, or use --speed.finite-check step with --nan-policy skip"
    )


def _note(text: str) -> None:
    """A one-line note on stderr (through tqdm so a progress bar is not broken)."""
    import sys

    from tqdm.auto import tqdm

    tqdm.write(text, file=sys.stderr)


def _non_finite(
    run: _Run, epoch: int, step: int, loss_sum: torch.Tensor, n: int, lr: float
) -> None:
    """A non-finite loss or gradient: stop with an error naming where, or skip the step."""
    config, ckpt = run.config, run.ckpt_path
    if config.nan_policy == "stop":
        last = str(ckpt) if ckpt.exists() else "none (no epoch finished)"
        raise NumericalError(
            f"non-finite loss or gradient at epoch {epoch + 1}, step {step + 1} "
            f"(loss {float(loss_sum.detach()) / max(n, 1):.4g}, lr {lr:g}); "
            f"last good checkpoint: {last}. Lower --lr, add --grad-clip or use --nan-policy skip"
        )
    run.total_skips += 1
    run.optimizer.zero_grad(set_to_none=True)
    if run.total_skips > config.max_nan_skips:
        raise NumericalError(
            f"more than {config.max_nan_skips} non-finite steps skipped (epoch {epoch + 1}, "
            f"step {step + 1}); training diverged. Last good checkpoint: "
            f"{ckpt if ckpt.exists() else 'none'}. Lower --lr"
        )
    if run.scaler.is_enabled():
        run.scaler.update()


def _evaluate_sharded(
    model: nn.Module,
    test_ds: Any,
    config: TrainConfig,
    device: torch.device,
    info: ddp.DistInfo,
    channels_last: bool,
    autocast: torch.dtype | None,
) -> tuple[float, float]:
    """Test loss/accuracy, each rank evaluating its chunk of the test set, summed over ranks."""
    part = ddp.shard(len(test_ds), info)
    model.eval()
    sums = _eval_sums(
        model,
        test_ds.images[part],
        test_ds.labels[part],
        config.eval_batch_size,
        device,
        channels_last=channels_last,
        autocast=autocast,
    )
    model.train()
    ddp.all_reduce_sum(sums, info)
    n = max(float(sums[2]), 1.0)
    return float(sums[0]) / n, float(sums[1]) / n


def _save_state(run: _Run, epoch: int) -> None:
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if run.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state_all()
    save_checkpoint(
        run.ckpt_path,
        run.model,
        config=run.config.to_dict(),
        epoch=epoch,
        optimizer=run.optimizer.state_dict(),
        scaler=run.scaler.state_dict() if run.scaler.is_enabled() else None,
        rng=rng,
        history=run.history,
    )


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    text = (
        f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f}  "
        f"acc {100 * row['train_acc']:.2f}%"
    )
    if row["test_acc"] is not None:
        text += f"  test loss {row['test_loss']:.4f}  test acc {100 * row['test_acc']:.2f}%"
    text += f"  lr {row['lr']:.3g}  {row['seconds']:.1f}s"
    if row["nan_skips"]:
        text += f"  skipped {row['nan_skips']} non-finite steps"
    return text
