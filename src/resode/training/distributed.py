"""Data-parallel training with PyTorch DDP, launched by ``torchrun``.

    torchrun --nproc_per_node 4 -m resode train --preset cifar10-paper-a --out runs/c10
    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 -m resode train ...

:func:`init_from_env` reads the variables ``torchrun`` sets (``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group: ``nccl`` when
training on CUDA, ``gloo`` on CPU. Without those variables (or with ``WORLD_SIZE=1``) training is
single-process and nothing here does anything. Under ``srun --ntasks N`` (one Slurm task per rank,
no torchrun) they are derived from Slurm's (:func:`slurm_env`).

Sharding. Every rank draws the *same* global permutation and the same augmentation (the
generators are seeded identically), so every rank sees the same global batch B of size b; rank r
keeps the r-th of ``world`` contiguous chunks (:func:`shard`). Each rank minimises
``(world / b) · Σ_{i ∈ local} ℓ_i`` and DDP averages gradients over ranks, so the update is

    (1/world) Σ_r (world/b) Σ_{i ∈ chunk_r} ∇ℓ_i = (1/b) Σ_{i ∈ B} ∇ℓ_i,

exactly the single-process step with global batch b, even when the chunks are unequal. A final
batch smaller than ``world`` is dropped (a rank would get no sample).

BatchNorm. Batch statistics are per rank in plain DDP, so a model with BatchNorm differs from the
single-process run. On CUDA :func:`wrap_model` converts BatchNorm to ``SyncBatchNorm``
(``TrainConfig.sync_batchnorm``, default on), which restores the global-batch statistics;
PyTorch's SyncBatchNorm has no CPU implementation, so on CPU (gloo) BatchNorm stays per rank
(running statistics are broadcast from rank 0 each step by DDP, so ranks stay identical). The
equivalence test therefore uses a model without BatchNorm.

Only rank 0 writes checkpoints, logs and progress bars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job (``world_size == 1``: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def slurm_env() -> dict[str, str]:
    """torchrun's variables for a process started by ``srun`` (one Slurm task per rank), where
    torchrun did not set them: ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` =
    ``SLURM_STEP_NUM_TASKS`` (srun's step, not the batch script), ``LOCAL_RANK`` =
    ``SLURM_LOCALID``, ``MASTER_ADDR`` = the step's first node, ``MASTER_PORT`` = 20000 +
    (job id mod 20000) unless set. Empty outside an srun step of more than one task."""
    env = os.environ
    if "WORLD_SIZE" in env or int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1) <= 1:
        return {}
    if "SLURM_PROCID" not in env:
        return {}
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or "localhost"
    if "[" in nodes or "," in nodes:
        import subprocess

        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodes], capture_output=True, text=True, timeout=60
        ).stdout.split()
        nodes = out[0] if out else nodes.split(",")[0]
    job = int(env.get("SLURM_JOB_ID", "0") or 0)
    return {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": env["SLURM_STEP_NUM_TASKS"],
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
        "MASTER_ADDR": env.get("MASTER_ADDR", nodes),
        "MASTER_PORT": env.get("MASTER_PORT", str(20000 + job % 20000)),
    }


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when not launched by torchrun or by a multi-task
    ``srun``: :func:`slurm_env`)."""
    os.environ.update(slurm_env())
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_rank() -> int:
    """This process's ``RANK`` (torchrun's, or a multi-task ``srun``'s ``SLURM_PROCID``); 0 when
    not distributed. Lets a caller print once per job, after the process group is gone."""
    if env_world_size() <= 1:
        return 0
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def init_from_env(device_type: str, backend: str | None = None) -> DistInfo:
    """Join the process group described by torchrun's environment variables, if any.

    ``backend`` defaults to ``nccl`` for CUDA and ``gloo`` otherwise. An already initialised
    group is reused (and not destroyed by :func:`cleanup`).
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(
            dist.get_rank(),
            dist.get_world_size(),
            int(os.environ.get("LOCAL_RANK", "0")),
            False,
        )
    world = env_world_size()
    if world <= 1 or not dist.is_available():
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend is None:
        backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local_rank, True)


def cleanup(info: DistInfo) -> None:
    """Destroy the process group if :func:`init_from_env` created it."""
    if info.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, info: DistInfo) -> slice:
    """This rank's contiguous chunk of a global batch of ``n`` samples (``tensor_split`` sizes)."""
    if not info.enabled:
        return slice(0, n)
    base, extra = divmod(n, info.world_size)
    start = info.rank * base + min(info.rank, extra)
    stop = start + base + (1 if info.rank < extra else 0)
    return slice(start, stop)


def wrap_model(model: nn.Module, info: DistInfo, device: torch.device, sync_bn: bool) -> nn.Module:
    """``DistributedDataParallel(model)``; BatchNorm → SyncBatchNorm on CUDA if ``sync_bn``."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if sync_bn and device.type == "cuda":
        spec = getattr(model, "resode_spec", None)
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if spec is not None:
            model.resode_spec = spec
    device_ids = [device.index if device.index is not None else info.local_rank]
    return DistributedDataParallel(model, device_ids=device_ids if device.type == "cuda" else None)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over ranks in place (no-op when not distributed)."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_true(flag: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Logical AND of a 0/1 tensor over ranks, so every rank takes the same decision."""
    if info.enabled:
        flag = flag.to(torch.float32)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return flag


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
