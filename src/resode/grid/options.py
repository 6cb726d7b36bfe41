"""Where the tasks of a grid run: the executor and its options, as config keys.

:class:`ExecutorOptions` is inherited by ``ReproduceConfig`` (so every key is a YAML key and a
``--kebab-case`` flag of ``resode reproduce``) and added to the ``resode ode`` commands. The
``slurm_*`` keys configure the submitit executors (``slurm`` and ``submitit-local``); each maps to
one ``sbatch`` parameter (see ``docs/cluster.md`` and :func:`slurm_parameters`).

This module imports no torch: the CLI reads it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from resode.config import Config, option
from resode.errors import ConfigError

#: every executor name (``--executor``)
EXECUTORS = ("local", "serial", "submitit-local", "slurm")
ExecutorName = Literal["local", "serial", "submitit-local", "slurm"]
#: the executors that run tasks as submitit jobs
SUBMITIT_EXECUTORS = ("submitit-local", "slurm")


@dataclass
class ExecutorOptions(Config):
    """Where the tasks of a grid run (see :mod:`resode.grid`)."""

    executor: ExecutorName = option(
        "local",
        "local: a pool of worker processes on this machine; serial: in this process; slurm: a "
        "Slurm job array through submitit; submitit-local: the same submitit path on this machine",
    )
    workers: int | None = option(
        None,
        "local and submitit-local executors: tasks at a time (None: one per CPU core)",
        min=1,
    )
    threads: int = option(
        1, "torch threads of every task (fixed, so results never depend on machine load)", min=1
    )
    slurm_partition: str | None = option(None, "slurm: partition (sbatch --partition)")
    slurm_time_min: int = option(
        1440,
        "slurm and submitit-local: time limit of one task in minutes (sbatch --time); a task that "
        "reaches it is requeued and continues from its checkpoint",
        min=1,
    )
    slurm_gpus_per_task: int = option(
        0, "slurm: GPUs of every task (sbatch --gpus-per-node; one task per job)", min=0
    )
    slurm_cpus_per_task: int | None = option(
        None, "slurm: CPUs of every task (sbatch --cpus-per-task; None: the task's threads)", min=1
    )
    slurm_mem_gb: float | None = option(
        None, "slurm: memory of every task in GB (sbatch --mem; None: the cluster default)", min=0.0
    )
    slurm_array_parallelism: int = option(
        64, "slurm: array tasks running at a time (the throttle of sbatch --array)", min=1
    )
    slurm_additional: list[str] = option(
        [],
        "slurm: further sbatch parameters as KEY=VALUE, e.g. account=proj qos=high "
        "constraint=a100 (sbatch --KEY=VALUE)",
    )
    slurm_setup: list[str] = option(
        [],
        "slurm: shell lines run in the job script before the task, e.g. "
        "'source ~/venvs/resode/bin/activate'",
    )
    slurm_folder: str | None = option(
        None, "submitit: folder of job scripts, logs and jobs.json (None: OUT/submitit)"
    )
    slurm_max_retries: int = option(
        2,
        "submitit: resubmissions of a task whose job died without a result (killed, preempted, "
        "node failure); a task that raised an error is never resubmitted",
        min=0,
    )

    def check(self) -> None:
        for item in self.slurm_additional:
            key, sep, _ = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(
                    f"slurm_additional: {item!r} is not KEY=VALUE; write e.g. account=myproject"
                )

    def executor_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`resode.grid.make_executor` for these options."""
        return {
            "workers": self.workers,
            "threads": self.threads,
            **{f: getattr(self, f) for f in self.field_names() if f.startswith("slurm_")},
        }


def additional_parameters(items: list[str]) -> dict[str, str]:
    """``["account=proj", "qos=high"]`` → ``{"account": "proj", "qos": "high"}``."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.strip().lstrip("-")] = value.strip()
    return out


def slurm_parameters(
    *,
    threads: int = 1,
    slurm_partition: str | None = None,
    slurm_time_min: int = 1440,
    slurm_gpus_per_task: int = 0,
    slurm_cpus_per_task: int | None = None,
    slurm_mem_gb: float | None = None,
    slurm_array_parallelism: int = 64,
    slurm_additional: list[str] | None = None,
    slurm_setup: list[str] | None = None,
    job_name: str = "resode",
    **_: Any,
) -> dict[str, Any]:
    """The parameters of ``submitit.SlurmExecutor.update_parameters`` for the options.

    ====================  ===================================  =================================
    option                submitit                             sbatch
    ====================  ===================================  =================================
    partition             ``partition``                        ``--partition``
    time_min              ``time``                             ``--time`` (minutes)
    gpus_per_task         ``gpus_per_node`` (one task per job) ``--gpus-per-node``
    cpus_per_task         ``cpus_per_task`` (default threads)  ``--cpus-per-task``
    mem_gb                ``mem``                              ``--mem``
    array_parallelism     ``array_parallelism``                ``--array=0-(N-1)%P``
    additional KEY=VALUE  ``additional_parameters``            ``--KEY=VALUE``
    setup                 ``setup``                            lines before ``srun`` in the script
    ====================  ===================================  =================================
    """
    params: dict[str, Any] = {
        "job_name": job_name,
        "time": int(slurm_time_min),
        "cpus_per_task": int(slurm_cpus_per_task or threads),
        "array_parallelism": int(slurm_array_parallelism),
    }
    if slurm_partition:
        params["partition"] = slurm_partition
    if slurm_gpus_per_task:
        params["gpus_per_node"] = int(slurm_gpus_per_task)
    if slurm_mem_gb:
        gb = float(slurm_mem_gb)  # submitit's convention: whole GB, else MB
        params["mem"] = f"{int(gb)}GB" if gb.is_integer() else f"{round(gb * 1024)}MB"
    if slurm_additional:
        params["additional_parameters"] = additional_parameters(list(slurm_additional))
    if slurm_setup:
        params["setup"] = list(slurm_setup)
    return params


__all__ = [
    "EXECUTORS",
    "SUBMITIT_EXECUTORS",
    "ExecutorName",
    "ExecutorOptions",
    "additional_parameters",
    "slurm_parameters",
]
