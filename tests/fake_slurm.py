"""A fake Slurm for tests: ``sbatch``, ``srun``, ``sacct``, ``scontrol`` and ``scancel`` as small
Python scripts that run every job (every array index) at once as a local process and keep its
state in ``$FAKE_SLURM_DIR/<jobid>.state``. Enough for submitit's Slurm executor: it writes the
script, calls ``sbatch``, reads ``sacct``; the jobs run ``srun python -m submitit.core._submit``.

    install(bin_dir)    # then PATH=bin_dir:$PATH and FAKE_SLURM_DIR=<folder>
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

COMMANDS = ("sbatch", "srun", "sacct", "scontrol", "scancel")


def install(bin_dir: Path) -> None:
    """Write the fake commands into ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    for name in COMMANDS:
        path = bin_dir / name
        path.write_text(
            f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(here)!r})\n"
            f"import fake_slurm\nsys.exit(fake_slurm.main({name!r}, sys.argv[1:]))\n"
        )
        path.chmod(0o755)
    # no squeue in the fake: the executor keeps sacct's view (and never asks a real cluster the
    # session may run, tests/slurm_cluster.py)
    squeue = bin_dir / "squeue"
    squeue.write_text("#!/bin/sh\necho 'squeue: not in the fake Slurm' >&2\nexit 1\n")
    squeue.chmod(0o755)


def _state_dir() -> Path:
    path = Path(os.environ["FAKE_SLURM_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _set_state(key: str, state: str) -> None:
    path = _state_dir() / f"{key}.state"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state)
    tmp.replace(path)


def _next_id() -> int:
    path = _state_dir() / "next_id"
    jid = int(path.read_text()) if path.exists() else int(os.environ.get("FAKE_SLURM_FIRST", 1000))
    path.write_text(str(jid + 1))
    return jid


def sbatch(args: list[str]) -> int:
    """Start every array index of the script in the background; print the job id."""
    text = Path(args[-1]).read_text()  # read now: submitit moves the file after sbatch returns
    jid = _next_id()
    script = _state_dir() / f"{jid}.sh"
    script.write_text(text)
    m = re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, flags=re.M)
    indices: list[int | None] = list(range(int(m[1]), int(m[2]) + 1)) if m else [None]
    for i in indices:
        key = str(jid) if i is None else f"{jid}_{i}"
        env = {**os.environ, "SLURM_JOB_ID": str(jid), "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
        if i is not None:
            env |= {"SLURM_ARRAY_JOB_ID": str(jid), "SLURM_ARRAY_TASK_ID": str(i)}
        _set_state(key, "PENDING")
        subprocess.Popen(
            [sys.executable, __file__, key, str(script)],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    print(f"Submitted batch job {jid}")
    return 0


def srun(args: list[str]) -> int:
    """``srun [--unbuffered] [--output F] [--error F] cmd ...``: run cmd with its logs in F."""
    files = {"--output": None, "--error": None}
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag in files:
            files[flag] = _expand(args.pop(0))
    out = open(files["--output"], "a") if files["--output"] else None  # noqa: SIM115
    err = open(files["--error"], "a") if files["--error"] else out  # noqa: SIM115
    return subprocess.call(args, stdout=out, stderr=err)


def _expand(pattern: str) -> str:
    env = os.environ
    return (
        pattern.replace("%A", env.get("SLURM_ARRAY_JOB_ID", ""))
        .replace("%a", env.get("SLURM_ARRAY_TASK_ID", ""))
        .replace("%j", env["SLURM_JOB_ID"])
        .replace("%t", "0")
    )


def sacct(args: list[str]) -> int:
    """``sacct -o JobID,State,NodeList --parsable2 -j ID ...``: the states of those jobs."""
    ids = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
    print("JobID|State|NodeList")
    for path in sorted(_state_dir().glob("*.state")):
        key = path.stem
        if any(key == j or key.startswith(f"{j}_") for j in ids):
            print(f"{key}|{path.read_text()}|fakenode")
    return 0


def main(name: str, args: list[str]) -> int:
    if name == "sbatch":
        return sbatch(args)
    if name == "srun":
        return srun(args)
    if name == "sacct":
        return sacct(args)
    return 0  # scontrol, scancel


def _run(key: str, script: str) -> None:
    """One job: RUNNING, the script, then COMPLETED or FAILED by its exit status."""
    _set_state(key, "RUNNING")
    rc = subprocess.call(["bash", script])
    _set_state(key, "COMPLETED" if rc == 0 else "FAILED")


if __name__ == "__main__":
    _run(sys.argv[1], sys.argv[2])
