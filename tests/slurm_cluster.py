"""A real single-node Slurm cluster for the tests (docs/cluster.md, "Testing against Slurm").

:func:`start_cluster` writes ``slurm.conf`` into a fresh temporary folder (``SlurmctldHost`` and
the one node are this machine's host name, ``CPUs`` = ``nproc``, one partition ``debug``,
``proctrack/linuxproc``, ``task/none``, ``select/cons_tres``), starts ``munged``, ``slurmctld`` and
``slurmd`` with their state, logs, sockets and pid files inside that folder, waits until
``sinfo`` shows the node idle and returns a :class:`Cluster`; :meth:`Cluster.stop` cancels every
job and stops the daemons again (by the pids they wrote). No ``slurmdbd``: resode's driver reads
job states from ``squeue``/``sacct`` through submitit and treats a job without an accounting
record as ended once its result file exists or it left the queue (measured: the tiny grid, the
cancellation and time-limit tests all complete without accounting; the ``sacct`` errors submitit
logs go to ``<out>/submitit/submitit.log``).

Missing Debian packages are installed with ``apt-get`` when the tests run as root (bounded by
:data:`INSTALL_TIMEOUT_S`); otherwise :func:`unavailable` gives the reason to skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel")
INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 120
PARTITION = "debug"


def _missing() -> list[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [p for p in PROGRAMS if shutil.which(p, path=path) is None]


def install() -> str | None:
    """Install the Debian packages when a program is missing; the reason it could not, or None."""
    if not _missing():
        return None
    if os.geteuid() != 0:
        return f"Slurm is not installed ({', '.join(_missing())} missing) and not root to install"
    if shutil.which("apt-get") is None:
        return "Slurm is not installed and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        ):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"installing {' '.join(PACKAGES)} failed: {exc}"
    return None if not _missing() else f"still missing after apt-get: {', '.join(_missing())}"


def _which(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    assert found, name
    return found


@dataclass
class Cluster:
    """A running single-node cluster: its folder, host name, partition and the daemons' pids."""

    folder: Path
    host: str
    partition: str
    env: dict[str, str]

    def slurm(self, *args: str, timeout: float = 60) -> str:
        """The output of a Slurm command (``squeue``, ``scancel`` …) against this cluster."""
        res = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {res.stderr.strip()}")
        return res.stdout

    def queue(self) -> list[tuple[str, str]]:
        """``(job id, state)`` of every job in the queue."""
        out = self.slurm("squeue", "-h", "-o", "%i %T")
        return [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]  # type: ignore[misc]

    def wait_empty(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.queue():
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still queued: {self.queue()}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel every job, stop slurmd, slurmctld and munged (their pid files), remove nothing
        else of the machine's."""
        try:
            self.slurm("scancel", "--full", "--user", "root", timeout=30)
            self.wait_empty(timeout=30)
        except Exception:
            pass
        for name in ("slurmd", "slurmctld", "munged"):
            pidfile = self.folder / f"{name}.pid"
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


SLURM_CONF = """\
ClusterName=resode-test
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={folder}/munge.socket,cred_expire=30
StateSaveLocation={folder}/ctld
SlurmdSpoolDir={folder}/d
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
InactiveLimit=0
OverTimeLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def start_cluster() -> Cluster:
    """Bring up munged, slurmctld and slurmd in a new temporary folder (see module doc)."""
    folder = Path(tempfile.mkdtemp(prefix="resode-slurm-"))
    os.chmod(folder, 0o755)
    host = socket.gethostname().split(".")[0]
    for sub in ("ctld", "d"):
        (folder / sub).mkdir()
    conf = folder / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(
            host=host,
            folder=folder,
            cpus=os.cpu_count() or 1,
            partition=PARTITION,
            ctld_port=_free_port(),
            d_port=_free_port(),
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(folder, host, PARTITION, env)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))  # a secret, not test data
    os.chmod(key, 0o400)
    try:
        subprocess.run(
            [
                _which("munged"),
                "--force",
                f"--key-file={key}",
                f"--socket={folder}/munge.socket",
                f"--pid-file={folder}/munged.pid",
                f"--log-file={folder}/munged.log",
                f"--seed-file={folder}/munged.seed",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        subprocess.run(
            [_which("slurmctld"), "-c", "-i"], env=env, check=True, capture_output=True, timeout=60
        )
        subprocess.run([_which("slurmd")], env=env, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                state = cluster.slurm("sinfo", "-h", "-N", "-o", "%T", timeout=10).strip()
            except (RuntimeError, subprocess.TimeoutExpired):
                state = ""
            if state.startswith("idle"):
                return cluster
            if time.monotonic() > deadline:
                logs = (folder / "slurmctld.log").read_text()[-2000:]
                raise RuntimeError(f"the node did not become idle (sinfo: {state!r}): {logs}")
            time.sleep(0.5)
    except BaseException:
        cluster.stop()
        raise
