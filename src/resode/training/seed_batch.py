"""Seed-batched training: the S seeds of one training config as one seed-stacked network.

Seed s is trained exactly as :func:`resode.training.train` trains it alone:

* its initial weights are the engine's (``torch.manual_seed(seed)``, then
  :func:`~resode.training.engine.build_model`), built per seed and then stacked
  (:class:`resode.nn.seed_stack.SeedStack`);
* its batch order and augmentation of epoch e come from its own generator
  ``epoch_generator(seed, e)``;
* its loss is its own batch mean, and the step minimises ``Σ_s (1/b)·Σ_{i∈B_s} CE_i``, whose
  gradient with respect to seed s's parameters is seed s's gradient alone (the stack shares no
  parameter between seeds);
* SGD with momentum and weight decay is elementwise, so one optimizer over the stacked
  parameters is S optimizers.

Exactness (tests/test_seed_batch.py). In float64 (the native ATen kernels) a seed's weights,
BatchNorm statistics and momentum are bit-identical to the single-seed engine's, except the λ
parameters (≤ 1e-12: a scalar λ is expanded over its seed's channels, so its gradient is summed
per channel and then over channels, not in one sum). In float32 the grouped convolution kernel
(oneDNN) rounds differently from the plain one (≈ 1e-7 relative after a step, which training
amplifies like any rounding), so ``seed_batch > 1`` is another float32 rounding of the same
runs; but a seed's result does not depend on which seeds share its batch, nor on how many (bit
for bit for groups of 1, 2 and 4; a group of one is padded with a copy of itself, because one
seed alone would run the ungrouped kernel).

Files. Every seed keeps its own folder with the engine's files (``last.pt`` with weights,
optimizer state, RNG state and history; ``history.json``/``.csv``; ``config.yaml``), written
after every epoch, so each seed's checkpoint is an ordinary one (``load_checkpoint``,
``resode train --resume``). Between epochs the per-seed models are the state; each epoch stacks
the seeds that are behind, so a resume after a crash between two seeds' writes trains the lagging
seeds alone up to the others, then all together (exact, by the independence above).

Speed (``benchmarks/bench_seed_batch.py``, 1 thread, 8×8 digits, batch 128, 4 seeds, one
process, 2026-12-03, two runs on a loaded 2-core Xeon). Candidates for one SGD step of 4
In-ResNet-20 seeds, CPU ms:

=========================================================  ===========  ===========
candidate                                                   run 1        run 2
=========================================================  ===========  ===========
4 separate models (channels-last, as the engine)            171 (1.00×)  205 (1.00×)
(a) channel stacking, grouped convs, channels-last         170 (1.01×)  199 (1.03×)
(a) channel stacking, grouped convs, contiguous            203 (0.84×)  232 (0.88×)
(b) ``stack_module_state`` + ``functional_call`` + ``vmap``  228 (0.75×)  282 (0.73×)
=========================================================  ===========  ===========

The whole default cell (training + evaluation + analyses, 4 seeds): 1.06× and 1.13×
seed-runs per CPU-minute, training alone 1.19×.

(a) is the fastest and is what this module uses, but it is barely faster than separate runs:
at batch 128 every convolution of ResNet-20 on 8×8 images already runs compute-bound (≈ 56
GFLOP/s for a 16-channel 3×3 conv forward+backward on one AVX2 core), so there is little
per-operation overhead for batching to remove. (b) also needs BatchNorm's running statistics
handled as batched buffers and pays functorch's fallbacks (``as_strided_`` in the pooling).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from resode.checkpoint import atomic_write_bytes, read_checkpoint, save_checkpoint
from resode.errors import NumericalError, ResodeError
from resode.nn.seed_stack import SeedStack
from resode.runtime import select_device, torch_threads
from resode.training import engine as _engine
from resode.training.config import TrainConfig, amp_dtype, epoch_generator, lr_at, use_channels_last
from resode.training.engine import (
    TrainResult,
    _autocast,
    _batches,
    _check_resume_config,
    _eval_sums,
    _load_resume_state,
)
from resode.training.history import (
    CHECKPOINT_NAME,
    CONFIG_YAML,
    lambda_values,
    remove_stale_temp_files,
    write_history,
)


def check_seed_batch(configs: Sequence[TrainConfig]) -> None:
    """The configs must differ in their seed only (distinct seeds), and use no feature the
    batched loop does not reproduce per seed (DDP, torch.compile, fp16 loss scaling, skipping
    non-finite steps, and the speed options CUDA graphs, device-resident data and the
    end-of-epoch finite check, which it would silently ignore)."""
    from resode.config import config_diff

    if not configs:
        raise ResodeError("seed batching needs at least one training config")
    first = configs[0].to_dict()
    for c in configs[1:]:
        diff = [k for k in config_diff(first, c.to_dict()) if k != "seed"]
        if diff:
            raise ResodeError(
                f"seed batching trains one config with several seeds, but the configs also "
                f"differ in {', '.join(diff)}; batch only runs that differ in their seed"
            )
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ResodeError(f"seed batching needs distinct seeds, got {seeds}")
    c = configs[0]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ResodeError("seed batching does not run under torchrun/DDP; use seed_batch = 1")
    if c.compile:
        raise ResodeError("seed batching does not support compile=true; use seed_batch = 1")
    if c.nan_policy != "stop":
        raise ResodeError(
            "seed batching supports nan_policy = stop only (a skipped step would have to skip "
            "one seed's update alone); use seed_batch = 1 for nan_policy = skip"
        )
    if c.amp == "fp16":
        raise ResodeError("seed batching does not support fp16 loss scaling; use amp = bf16/off")
    sp = c.speed  # the batched loop has its own per-batch data path and per-step checks
    unsupported = [
        name
        for name, on in (
            ("speed.cuda_graphs = true", sp.cuda_graphs),
            ("speed.data_on_device = true", sp.data_on_device is True),
            ("speed.finite_check = epoch", sp.finite_check == "epoch"),
        )
        if on
    ]
    if unsupported:
        raise ResodeError(
            f"seed batching does not apply {', '.join(unsupported)}; use seed_batch = 1 or "
            "leave these options at their defaults"
        )


class _Seed:
    """One seed's ordinary model, optimizer, RNG state, history and files."""

    def __init__(self, config: TrainConfig, out_dir: Path, train_ds: Any, device: torch.device):
        self.config, self.out_dir = config, out_dir
        self.ckpt = out_dir / CHECKPOINT_NAME
        torch.manual_seed(config.seed)  # exactly as the engine seeds and builds the model
        self.model = _engine.build_model(config, train_ds).to(device)
        self.rng = torch.get_rng_state()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(
            self.params,
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
        )
        self.history: list[dict[str, Any]] = []
        self.epoch = 0

    def restore(self, override: bool) -> None:
        """Weights, optimizer, RNG state and history of ``last.pt`` (the engine's resume)."""
        from resode.config import RESUME_OVERRIDES, record_override

        recorded = read_checkpoint(self.ckpt).get("config")
        diff = _check_resume_config(self.ckpt, recorded, self.config, override)
        if diff:
            record_override(self.out_dir / RESUME_OVERRIDES, diff, recorded, self.config.to_dict())
        payload = _load_resume_state(self.ckpt, self.config, self.model)
        self.optimizer.load_state_dict(payload["optimizer"])
        rng = payload.get("rng", {})
        if "torch" in rng:
            self.rng = rng["torch"]
        self.history = list(payload.get("history", []))
        self.epoch = int(payload["epoch"])

    def save(self) -> None:
        save_checkpoint(
            self.ckpt,
            self.model,
            config=self.config.to_dict(),
            epoch=self.epoch,
            optimizer=self.optimizer.state_dict(),
            scaler=None,
            rng={"torch": self.rng},
            history=self.history,
        )
        write_history(self.out_dir, self.history)


def train_seed_batch(
    configs: Sequence[TrainConfig],
    out_dirs: Sequence[str | Path],
    *,
    resume: bool = False,
    resume_override: bool = False,
) -> list[TrainResult]:
    """Train ``configs`` (one config, several seeds) as one seed-stacked network.

    ``out_dirs[s]`` receives seed s's ordinary run folder. ``resume=True`` continues every seed
    from its ``last.pt`` (seeds at different epochs are brought level first); without it an
    existing checkpoint is an error, as for :func:`resode.training.train`. Returns one
    :class:`~resode.training.engine.TrainResult` per seed (model in eval mode).
    """
    from resode.grid.task import folder_lock
    from resode.report import prepare_out_dir

    configs = list(configs)
    dirs = [Path(d) for d in out_dirs]
    if len(dirs) != len(configs):
        raise ResodeError(f"{len(configs)} configs but {len(dirs)} output folders")
    if len({os.path.realpath(d) for d in dirs}) != len(dirs):
        raise ResodeError("seed batching needs one output folder per seed")
    check_seed_batch(configs)
    for d in dirs:
        prepare_out_dir(d, what="training run")
        if (d / CHECKPOINT_NAME).exists() and not resume:
            raise ResodeError(
                f"{str(d)!r} already holds a checkpoint ({CHECKPOINT_NAME}); pass resume=True "
                "to continue it or choose another folder"
            )
    with torch_threads(configs[0].threads), contextlib.ExitStack() as locks:
        for d in dirs:
            locks.enter_context(folder_lock(d, blocking=False, what="resode train"))
        return _train_batch(configs, dirs, resume, resume_override)


def _train_batch(
    configs: list[TrainConfig], dirs: list[Path], resume: bool, override: bool
) -> list[TrainResult]:
    config = configs[0]
    device = select_device(config.device)
    train_ds, test_ds = _engine.load_datasets(config)
    if device.type != "cpu":
        train_ds, test_ds = train_ds.to(device), test_ds.to(device)
    seeds = [_Seed(c, d, train_ds, device) for c, d in zip(configs, dirs)]
    for s in seeds:
        remove_stale_temp_files(s.out_dir)
        if resume and s.ckpt.exists():
            s.restore(override)
        text = s.config.to_yaml()
        atomic_write_bytes(s.out_dir / CONFIG_YAML, lambda fh, t=text: fh.write(t.encode()))
    channels_last = use_channels_last(config, device)
    autocast = amp_dtype(config, device)
    while True:
        behind = min(s.epoch for s in seeds)
        if behind >= config.epochs:
            break
        group = [s for s in seeds if s.epoch == behind]
        # seeds left behind by a crash between two seeds' writes train alone, padded with
        # copies of themselves to the batch's size (at least 2: one seed alone would run the
        # ungrouped convolution kernel, which rounds differently in float32): the kernels
        # see the very same shapes, so every seed's numbers are those of the full batch
        members = (group * max(2, len(seeds)))[: max(2, len(seeds))]
        rows = _train_epoch(members, behind, train_ds, device, channels_last, autocast)
        for s, row in zip(group, rows):
            if (behind + 1) % config.eval_every == 0 or behind + 1 == config.epochs:
                s.model.eval()
                sums = _eval_sums(
                    s.model,
                    test_ds.images,
                    test_ds.labels,
                    config.eval_batch_size,
                    device,
                    channels_last=channels_last,
                    autocast=autocast,
                )
                n = max(float(sums[2]), 1.0)
                row["test_loss"], row["test_acc"] = float(sums[0]) / n, float(sums[1]) / n
            row["lambdas"] = lambda_values(s.model)
            s.history.append(row)
            s.epoch = behind + 1
            s.save()
    out = []
    for s in seeds:
        s.model.eval()
        out.append(TrainResult(s.model, s.history, s.ckpt, s.out_dir))
    return out


def _stacked_optimizer(stack: SeedStack, group: list[_Seed], lr: float) -> torch.optim.SGD:
    """One SGD over the stacked parameters whose state is the seeds' stacked states."""
    c = group[0].config
    params = [p for p in stack.parameters() if p.requires_grad]
    opt = torch.optim.SGD(
        params, lr=lr, momentum=c.momentum, weight_decay=c.weight_decay, nesterov=c.nesterov
    )
    for i, p in enumerate(params):
        bufs = [s.optimizer.state.get(s.params[i], {}).get("momentum_buffer") for s in group]
        if all(b is not None for b in bufs):
            opt.state[p]["momentum_buffer"] = torch.stack([b.detach().clone() for b in bufs])
        elif any(b is not None for b in bufs):  # pragma: no cover - seeds of one epoch agree
            raise ResodeError("seeds of one epoch disagree in their optimizer state")
    return opt


def _unstack_into(stack: SeedStack, opt: torch.optim.SGD, group: list[_Seed]) -> None:
    """Copy every seed's slice of the stacked weights and momentum back to its own model."""
    params = [p for p in stack.parameters() if p.requires_grad]
    for j, s in enumerate(group):
        s.model.load_state_dict(stack.seed_state_dict(j))
        for i, p in enumerate(params):
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                s.optimizer.state[s.params[i]]["momentum_buffer"] = buf[j].detach().clone()
        for g in s.optimizer.param_groups:
            g["lr"] = opt.param_groups[0]["lr"]


def _clip_per_seed(params: list[torch.Tensor], clip: float, seeds: int) -> None:
    """Each seed's gradient scaled by min(1, clip/(‖g_s‖ + 1e-6)), as ``clip_grad_norm_``."""
    grads = [p.grad for p in params if p.grad is not None]
    for s in range(seeds):
        norms = torch.stack([torch.linalg.vector_norm(g[s]) for g in grads])
        coef = (clip / (torch.linalg.vector_norm(norms) + 1e-6)).clamp(max=1.0)
        for g in grads:
            g[s].mul_(coef)


def _train_epoch(
    group: list[_Seed],
    epoch: int,
    train_ds: Any,
    device: torch.device,
    channels_last: bool,
    autocast: torch.dtype | None,
) -> list[dict[str, Any]]:
    """One epoch of every seed of ``group`` in one stacked network; one history row per seed."""
    config = group[0].config
    t0 = time.perf_counter()
    lr = lr_at(config, epoch)
    for s in group:
        s.model.train()
    stack = SeedStack([s.model for s in group]).to(device)
    stack.train()  # (channels-last applies to the inputs: the stacked weights are 5-D)
    opt = _stacked_optimizer(stack, group, lr)
    params = [p for p in stack.parameters() if p.requires_grad]
    n_seeds = len(group)
    sums = torch.zeros(n_seeds, 3, dtype=torch.float64, device=device)
    streams = [
        _batches(train_ds, s.config, epoch, epoch_generator(s.config.seed, epoch)) for s in group
    ]
    for step, pairs in enumerate(zip(*streams)):
        xs = torch.stack([x for x, _ in pairs]).to(device)
        ys = [y.to(device) for _, y in pairs]
        b = len(ys[0])
        x = stack.stack_inputs(xs)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, autocast):
            logits = stack(x)  # (b, S, K)
        logits = logits.float()
        loss_sums = [F.cross_entropy(logits[:, j], ys[j], reduction="sum") for j in range(n_seeds)]
        loss = sum(ls * (1.0 / b) for ls in loss_sums)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        if config.grad_clip is not None:
            _clip_per_seed(params, config.grad_clip, n_seeds)
        _check_finite(group, params, loss_sums, epoch, step, lr, b)
        opt.step()
        with torch.no_grad():
            for j in range(n_seeds):
                sums[j, 0] += loss_sums[j].detach().double()
                sums[j, 1] += (logits[:, j].detach().argmax(1) == ys[j]).sum()
                sums[j, 2] += b
    _unstack_into(stack, opt, group)
    seconds = time.perf_counter() - t0
    rows = []
    for j in range(n_seeds):
        n = max(float(sums[j, 2]), 1.0)
        rows.append(
            {
                "epoch": epoch + 1,
                "train_loss": float(sums[j, 0]) / n,
                "train_acc": float(sums[j, 1]) / n,
                "test_loss": None,
                "test_acc": None,
                "lr": lr,
                "seconds": seconds,
                "nan_skips": 0,
                "seed_batch": n_seeds,
            }
        )
    return rows


def _check_finite(
    group: list[_Seed],
    params: list[torch.Tensor],
    loss_sums: list[torch.Tensor],
    epoch: int,
    step: int,
    lr: float,
    b: int,
) -> None:
    """``nan_policy = stop``: a non-finite loss or gradient of any seed stops with the engine's
    error, naming the seed."""
    grads = [p.grad.reshape(len(group), -1) for p in params if p.grad is not None]
    finite = torch.isfinite(torch.stack(loss_sums))
    if grads:  # (P, S) → per seed: every gradient entry finite (NaN/inf survive amax)
        finite &= torch.isfinite(torch.stack([g.abs().amax(1) for g in grads])).all(0)
    if bool(finite.all()):
        return
    for j, s in enumerate(group):
        if not bool(finite[j]):
            last = str(s.ckpt) if s.ckpt.exists() else "none (no epoch finished)"
            raise NumericalError(
                f"seed {s.config.seed}: non-finite loss or gradient at epoch {epoch + 1}, step "
                f"{step + 1} (loss {float(loss_sums[j].detach()) / max(b, 1):.4g}, lr {lr:g}); "
                f"last good checkpoint: {last}. Lower --lr or add --grad-clip"
            )


__all__ = ["check_seed_batch", "train_seed_batch"]
