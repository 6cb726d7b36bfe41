"""Run the tasks of a grid as submitit jobs: a Slurm job array (``slurm``) or processes on this
machine (``submitit-local``: the same code path, which is how CI tests it without Slurm).

    executor = SubmititExecutor("slurm", slurm_partition="gpu", slurm_gpus_per_task=1)
    outcomes = executor.run(tasks, out)          # {task key: TaskOutcome}

Every job runs :func:`resode.grid.task.run_task` on one task (its own folder, fixed threads,
resumable, folder lock). The driver keeps ``<folder>/jobs.json`` (task key → job id, digest,
submissions; ``folder`` defaults to ``<root>/submitit``) and follows these rules:

* a task whose ``result.json`` holds the result for the same digest is never submitted;
* a task recorded with a job that is still pending or running (a driver was killed and started
  again) is **re-attached**: its job handle is re-created from the id and waited on (Slurm: the
  state from ``sacct``; local: the controller process, if it outlived the driver); a job that is
  gone is **resubmitted** — if it is in fact still running, the folder lock makes the new copy
  wait and then reuse its result;
* a job that dies without returning (SIGKILL, out of memory, preemption, node failure) is
  resubmitted up to ``max_retries`` times and continues from the task's checkpoint (the training
  engine's ``last.pt``); a job that reaches its time limit is requeued by submitit (the submitted
  callable is checkpointable) and continues the same way;
* a task that fails — a user error (:class:`~resode.errors.ResodeError`) or a crash, returned as
  a failed :class:`TaskOutcome` by ``run_task`` — is reported once and never resubmitted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from resode.errors import ResodeError
from resode.grid.options import slurm_parameters
from resode.grid.task import Task, TaskOutcome, cached_outcome, run_task

JOBS_FILE = "jobs.json"
#: submitit's own log (its per-poll warnings such as "Bypassing sacct error"), in the job folder
LOG_FILE = "submitit.log"
#: Slurm states of a job that will still run or is running (``sacct``)
SLURM_ACTIVE = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SUSPENDED",
        "STAGE_OUT",
        "SIGNALING",
        "READY",
    }
)


def _submitit() -> Any:
    try:
        import submitit
    except ImportError as exc:
        raise ResodeError(
            "the submitit executors need the submitit package; install it with "
            "pip install 'resode[slurm]'"
        ) from exc
    return submitit


def slurm_state_status(state: str, *, fresh: bool) -> str:
    """``active`` (pending, running, requeued) or ``ended`` for a ``sacct`` state such as
    ``RUNNING`` or ``CANCELLED by 123``. ``UNKNOWN`` (no accounting record) is ``active`` for a
    job this driver just submitted (``sacct`` lags behind ``sbatch``), ``ended`` for a recorded
    one."""
    word = (state or "UNKNOWN").split()[0].upper().rstrip("+")
    if word == "UNKNOWN":
        return "active" if fresh else "ended"
    return "active" if word in SLURM_ACTIVE else "ended"


class _StderrTo:
    """``subprocess`` for submitit's core module, with the standard error of its ``sacct`` calls
    (``check_output``) sent to ``stream`` instead of the terminal."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        import subprocess

        return getattr(subprocess, name)

    def check_output(self, *args: Any, **kwargs: Any) -> Any:
        import subprocess

        kwargs.setdefault("stderr", self._stream)
        return subprocess.check_output(*args, **kwargs)


@contextlib.contextmanager
def submitit_log_to(path: Path) -> Iterator[None]:
    """Send the ``submitit`` logger, and the standard error of the ``sacct`` it runs, to
    ``path`` (appended) instead of the terminal while the driver runs: on a cluster without
    accounting storage both speak on every status poll."""
    core = _submitit().core.core
    logger = logging.getLogger("submitit")
    handlers, propagate = list(logger.handlers), logger.propagate
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for h in handlers:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.propagate = False
    module = core.subprocess
    core.subprocess = _StderrTo(handler.stream)
    try:
        yield
    finally:
        core.subprocess = module
        logger.removeHandler(handler)
        handler.close()
        for h in handlers:
            logger.addHandler(h)
        logger.propagate = propagate


class JobBook:
    """``jobs.json``: the job submitted for every task key, with the task's digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.jobs: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.jobs = {}

    def job_id(self, task: Task) -> str | None:
        """The recorded job of ``task`` (None when none, or when it ran other parameters)."""
        entry = self.jobs.get(task.key)
        if entry is None or entry.get("digest") != task.digest():
            return None
        return str(entry["job_id"])

    def record(self, task: Task, job_id: str) -> None:
        old = self.jobs.get(task.key, {})
        self.jobs[task.key] = {
            "job_id": job_id,
            "digest": task.digest(),
            "submissions": int(old.get("submissions", 0)) + 1,
            "submitted": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def save(self) -> None:
        from resode.checkpoint import atomic_write_bytes

        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.jobs, indent=1, sort_keys=True)
        atomic_write_bytes(self.path, lambda fh: fh.write(text.encode()))


try:  # the class must live at module level so that jobs can unpickle it
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover - submitit missing: the executor raises before use
    _Checkpointable = object  # type: ignore[assignment,misc]


class TaskJob(_Checkpointable):  # type: ignore[misc,valid-type]
    """``TaskJob()(task, root)`` = ``run_task(task, root)`` inside a submitit job; a submitit
    ``Checkpointable``, so a job that reaches its time limit is requeued with the same arguments
    (the task continues from its own checkpoint)."""

    def __call__(self, task: Task, root: str) -> TaskOutcome:
        return run_task(task, root)


class _Orphan:
    """``poll()`` of a local submitit controller that an earlier driver started (not our child):
    alive while ``/proc/<pid>`` is that controller for this folder."""

    def __init__(self, pid: int, folder: Path) -> None:
        self.pid, self.folder = pid, folder

    def poll(self) -> int | None:
        return None if _controller_alive(self.pid, self.folder) else 0

    def send_signal(self, sig: int) -> None:
        if _controller_alive(self.pid, self.folder):
            os.kill(self.pid, sig)


def _controller_alive(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is a running (not zombie) submitit local controller of ``folder``."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or no /proc (then resubmit: the folder lock makes that harmless)
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return b"submitit.local._local" in cmd and str(folder).encode() in cmd


#: how long one ``squeue`` listing of this user's jobs is reused (one call per poll round, not
#: one per job: the controller is shared)
SQUEUE_EVERY_S = 5.0
_squeue_cache: dict[str, Any] = {"at": -float("inf"), "states": None}


def squeue_states(max_age: float = SQUEUE_EVERY_S) -> dict[str, str] | None:
    """``{job id: state}`` of this user's jobs as the controller lists them (``squeue -r``: one
    line per array task), at most ``max_age`` seconds old; None when ``squeue`` cannot answer."""
    import pwd
    import subprocess

    now = time.monotonic()
    if now - _squeue_cache["at"] < max_age:
        return _squeue_cache["states"]
    user = pwd.getpwuid(os.getuid()).pw_name
    try:
        res = subprocess.run(
            ["squeue", "-h", "-r", "-u", user, "-o", "%i %T"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        states = None
        if res.returncode == 0:
            states = dict(ln.split()[:2] for ln in res.stdout.splitlines() if len(ln.split()) > 1)
    except (OSError, subprocess.SubprocessError):
        states = None
    _squeue_cache.update(at=now, states=states)
    return states


def squeue_state(job_id: str) -> str | None:
    """The state ``squeue`` shows for ``job_id`` (``RUNNING``, ``CANCELLED`` …); ``"GONE"`` when
    the controller no longer lists it; None when ``squeue`` cannot be asked."""
    states = squeue_states()
    return None if states is None else states.get(str(job_id), "GONE")


def _known_state(state: str, job_id: str) -> str:
    """``state`` from ``sacct``; where that is ``UNKNOWN`` (a cluster without accounting storage,
    or ``sacct`` lagging) the controller's own view from ``squeue``: a job cancelled or killed
    there is seen to end, instead of being waited on for ever."""
    if (state or "UNKNOWN").split()[0].upper() != "UNKNOWN":
        return state
    seen = squeue_state(str(job_id))
    if seen is None:
        return state
    return "COMPLETED" if seen == "GONE" else seen


def state_line(bar: Any, message: str) -> None:
    """One line per change of a grid's state (submitted, re-attached, resubmitted, failed): in the
    terminal above the progress bar when it is shown, and always in the submitit log."""
    logging.getLogger("submitit").info(message)
    if not getattr(bar, "disable", True):
        bar.write(message)


class SubmititExecutor:
    """Tasks as submitit jobs; ``kind`` is ``"slurm"`` (a job array) or ``"local"``."""

    poll_s = 1.0  # seconds between two looks at the running jobs
    result_lag_s = 30.0  # Slurm: how long an ended job's result file may take to appear

    def __init__(
        self,
        kind: str = "slurm",
        *,
        workers: int | None = None,
        threads: int = 1,
        slurm_folder: str | Path | None = None,
        slurm_max_retries: int = 2,
        **options: Any,
    ) -> None:
        if kind not in ("slurm", "local"):
            raise ValueError(f"kind must be 'slurm' or 'local', got {kind!r}")
        self.kind = kind
        self.name = "slurm" if kind == "slurm" else "submitit-local"
        self.params = slurm_parameters(threads=threads, **options)
        self.folder = None if slurm_folder is None else Path(slurm_folder)
        self.max_retries = int(slurm_max_retries)
        if kind == "local":
            self.workers = max(1, workers or os.cpu_count() or 1)
        else:
            self.workers = int(self.params["array_parallelism"])
        self.submitted = 0  # jobs submitted by the last run()
        self.reattached = 0  # recorded jobs the last run() found running and waited on
        self._ex: Any = None
        self._ex_folder: Path | None = None

    # ---- submitit handles ----------------------------------------------------------------------

    def _executor(self, folder: Path) -> Any:
        """The submitit executor writing into ``folder`` (built once per folder)."""
        if self._ex is not None and self._ex_folder == folder:
            return self._ex
        submitit = _submitit()
        if self.kind == "slurm":
            try:
                ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=3)
            except RuntimeError as exc:  # no srun on this machine
                raise ResodeError(
                    f"--executor slurm needs a Slurm cluster ({exc}); run on a login node, or use "
                    "--executor submitit-local to run the same path on this machine"
                ) from exc
            ex.update_parameters(**self.params)
        else:
            ex = submitit.LocalExecutor(folder=folder, max_num_timeout=3)
            ex.update_parameters(
                timeout_min=self.params["time"],
                gpus_per_node=self.params.get("gpus_per_node", 0),
                setup=self.params.get("setup", []),
            )
        self._ex, self._ex_folder = ex, folder
        return ex

    def _attach(self, job_id: str, folder: Path) -> Any | None:
        """The job handle of a recorded job if it is still pending or running, else None."""
        submitit = _submitit()
        ex = self._executor(folder)
        if self.kind == "slurm":
            job = submitit.SlurmJob(folder=ex.folder, job_id=job_id)
            state = _known_state(job.watcher.get_state(job_id, mode="force"), job_id)
            return job if slurm_state_status(state, fresh=False) == "active" else None
        try:
            pid = int(job_id)
        except ValueError:
            return None
        if not _controller_alive(pid, ex.folder):
            return None
        job = submitit.LocalJob(folder=ex.folder, job_id=job_id)
        job._process = _Orphan(pid, ex.folder)
        return job

    def _ended(self, job: Any) -> bool:
        """Whether ``job`` has stopped (with or without a result)."""
        if job.paths.result_pickle.exists():
            return True
        if self.kind == "slurm":
            state = _known_state(job.watcher.get_state(job.job_id, mode="standard"), job.job_id)
            return slurm_state_status(state, fresh=True) == "ended"
        return job._process is None or job._process.poll() is not None

    def _has_result(self, job: Any) -> bool:
        """Whether an ended job left its result file (Slurm: allow ``result_lag_s`` for a shared
        file system to show it; submitit's own wait would hang on a job left PREEMPTED)."""
        deadline = time.monotonic() + (self.result_lag_s if self.kind == "slurm" else 0.0)
        while True:
            if job.paths.result_pickle.exists():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(1.0)

    def _outcome(self, task: Task, job: Any) -> TaskOutcome | None:
        """The outcome an ended job returned; None when it died without one (resubmit)."""
        submitit = _submitit()
        if not self._has_result(job):
            return None
        try:
            result = job.result()
        except submitit.core.utils.UncompletedJobError:
            return None
        except submitit.core.utils.FailedJobError as exc:  # raised outside run_task: final
            lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("-")]
            msg = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "")
            return TaskOutcome(task.key, "failed", error=f"job {job.job_id} failed: {msg.strip()}")
        if isinstance(result, TaskOutcome):
            return result
        return TaskOutcome(task.key, "failed", error=f"job {job.job_id} returned {result!r}")

    def _submit(self, batch: list[Task], root: Path, folder: Path) -> list[Any]:
        """Submit ``batch`` (Slurm: one job array) and return the job handles."""
        submitit = _submitit()
        ex = self._executor(folder)
        try:
            jobs = ex.map_array(TaskJob(), batch, [str(root)] * len(batch))
        except submitit.core.utils.FailedJobError as exc:  # sbatch refused the script
            reason = " ".join(str(exc).split()) or "no message"
            raise ResodeError(
                f"submitting {len(batch)} task(s) failed: {reason}; check the --slurm-* options "
                f"(the script is in {folder})"
            ) from exc
        self.submitted += len(jobs)
        _squeue_cache["at"] = -float("inf")  # the next look lists the new jobs
        return list(jobs)

    # ---- the driver loop ----------------------------------------------------------------------

    def run(
        self, tasks: Sequence[Task], root: str | Path, *, progress: bool = False, desc: str = ""
    ) -> dict[str, TaskOutcome]:
        """Run every task not finished yet; returns one outcome per task key (see module doc)."""
        from resode.grid.local import _progress

        root = Path(root).absolute()
        folder = (self.folder or root / "submitit").absolute()
        self.submitted = self.reattached = 0
        _squeue_cache["at"] = -float("inf")
        out: dict[str, TaskOutcome] = {}
        todo = []
        for task in tasks:
            cached = cached_outcome(task, root)
            if cached is not None:
                out[task.key] = cached
            else:
                todo.append(task)
        todo.sort(key=lambda t: -t.cost)  # longest first in the array (and the local pool)
        if todo:
            folder.mkdir(parents=True, exist_ok=True)
            book = JobBook(folder / JOBS_FILE)
            with submitit_log_to(folder / LOG_FILE):
                running, pending = self._reattach(todo, book, folder)
                with _progress(len(tasks), desc or "tasks", progress) as bar:
                    bar.update(len(out))
                    if running:
                        state_line(bar, f"re-attached {len(running)} running job(s)")
                    self._drive(running, pending, root, folder, book, out, bar)
        return {t.key: out[t.key] for t in tasks}

    def _reattach(
        self, todo: list[Task], book: JobBook, folder: Path
    ) -> tuple[dict[str, tuple[Task, Any]], list[Task]]:
        """Split ``todo`` into recorded jobs still running (re-attached) and tasks to submit."""
        running: dict[str, tuple[Task, Any]] = {}
        pending = []
        for task in todo:
            job_id = book.job_id(task)
            job = self._attach(job_id, folder) if job_id is not None else None
            if job is None:
                pending.append(task)
            else:
                running[task.key] = (task, job)
                self.reattached += 1
        return running, pending

    def _drive(
        self,
        running: dict[str, tuple[Task, Any]],
        pending: list[Task],
        root: Path,
        folder: Path,
        book: JobBook,
        out: dict[str, TaskOutcome],
        bar: Any,
    ) -> None:
        """Submit (Slurm: all at once, the array throttles; local: ``workers`` at a time), wait,
        collect, resubmit the jobs that died."""
        deaths: dict[str, int] = {}
        while pending or running:
            room = len(pending) if self.kind == "slurm" else self.workers - len(running)
            if pending and room > 0:
                batch, pending[:] = pending[:room], pending[room:]
                jobs = self._submit(batch, root, folder)
                for task, job in zip(batch, jobs):
                    running[task.key] = (task, job)
                    book.record(task, str(job.job_id))
                book.save()
                ids = sorted({str(job.job_id).split("_")[0] for job in jobs})
                state_line(bar, f"{len(batch)} task(s) submitted (job {', '.join(ids)})")
            ended = [k for k, (_, job) in running.items() if self._ended(job)]
            for key in ended:
                task, job = running.pop(key)
                outcome = self._outcome(task, job)
                if outcome is None:
                    deaths[key] = deaths.get(key, 0) + 1
                    if deaths[key] <= self.max_retries:
                        pending.append(task)  # continues from its checkpoint
                        state_line(
                            bar,
                            f"{task.label or key}: job {job.job_id} ended without a result; "
                            f"resubmitted ({deaths[key]}/{self.max_retries})",
                        )
                        continue
                    outcome = TaskOutcome(
                        key,
                        "failed",
                        error=f"its job died without a result {deaths[key]} times (killed, "
                        f"preempted or out of memory; last job {job.job_id}, logs in {folder})",
                    )
                out[key] = outcome
                if not outcome.ok:
                    state_line(bar, f"{task.label or key} failed: {outcome.error}")
                bar.set_postfix_str(task.label or key)
                bar.update(1)
            if not ended:
                time.sleep(self.poll_s)


__all__ = [
    "JOBS_FILE",
    "LOG_FILE",
    "JobBook",
    "SubmititExecutor",
    "TaskJob",
    "slurm_state_status",
    "squeue_state",
    "squeue_states",
    "state_line",
    "submitit_log_to",
]
