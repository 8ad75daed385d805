"""A throw-away single-node SLURM cluster on this machine (Debian's munge + slurm-wlm packages).

Facts this relies on (Debian 12, slurm-wlm 22.05, snakemake-executor-plugin-slurm 2.8):

* the node's NodeName and SlurmctldHost equal ``hostname -s``; ``slurmd -C`` reports its CPUs and
  memory, which we copy so slurmd does not drain the node;
* ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (no cgroups in a container);
  SelectType=select/cons_tres; no accounting storage;
* the config must be /etc/slurm/slurm.conf: the ``srun`` inside each job ignores SLURM_CONF;
* munged needs a munge-owned /run/munge;
* without accounting ``sacct`` fails, so the executor must use ``--slurm-status-command squeue``
  and finished jobs must stay visible to squeue (MinJobAge well above the status-check delay).

Every daemon is started in the foreground with ``subprocess.Popen`` so it is stopped by its own PID.
A pre-existing /etc/slurm/slurm.conf that we did not write is never touched (the caller skips).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# mlmpipe single-node test cluster"
DAEMONS = ("munged", "slurmctld", "slurmd")


def missing_requirements() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    for exe in (*DAEMONS, "sbatch", "squeue", "sinfo", "srun"):
        if shutil.which(exe) is None:
            return f"{exe} not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmd and munged needs root"
    if CONF.exists() and MARKER not in CONF.read_text():
        return f"{CONF} exists and was not written by mlmpipe: not touching a real cluster"
    if subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0:
        return "a slurmctld is already running"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')"
    return None


def _node_line() -> str:
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("NodeName="))
    # slurmd may see a little less memory at start-up than it prints: leave a margin
    parts = []
    for tok in line.split():
        if tok.startswith("RealMemory="):
            tok = f"RealMemory={int(int(tok.split('=')[1]) * 0.9)}"
        parts.append(tok)
    return " ".join(parts)


def write_config(state: Path, host: str) -> str:
    text = f"""{MARKER} (written by tests/cluster; safe to delete)
ClusterName=mlmpipe
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
{_node_line()} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(text)
    return text


class SlurmNode:
    """Start munged, slurmctld and slurmd; ``stop()`` ends exactly those processes."""

    def __init__(self, state: Path) -> None:
        self.state = Path(state)
        self.procs: dict[str, subprocess.Popen] = {}
        self.host = socket.gethostname().split(".")[0]

    def _start(self, name: str, cmd: list[str], **kw) -> None:
        log = open(self.state / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)

    def start(self, timeout: float = 60) -> None:
        for sub in ("ctld", "spool"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        write_config(self.state, self.host)
        subprocess.run(
            ["install", "-d", "-o", "munge", "-g", "munge", "-m", "0755", "/run/munge"], check=True
        )
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            self._start("munged", ["munged", "--foreground"], user="munge", group="munge")
        self._wait(
            lambda: (
                subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode
                == 0
            ),
            timeout,
            "munge",
        )
        self._start("slurmctld", ["slurmctld", "-D", "-i"])
        self._start("slurmd", ["slurmd", "-D"])
        self._wait(self._idle, timeout, "node idle in sinfo")

    def _idle(self) -> bool:
        res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        return res.returncode == 0 and res.stdout.strip() in ("idle", "mixed", "allocated")

    def _wait(self, ok, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {p.returncode}: {self.log(name)[-1500:]}"
                    )
            if ok():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}: {self.log('slurmctld')[-1500:]}")

    def log(self, name: str) -> str:
        out = ""
        for f in (self.state / f"{name}.out", self.state / f"{name}.log"):
            if f.exists():
                out += f.read_text(errors="replace")
        return out

    def stop(self) -> None:
        """SIGTERM each daemon we started (by PID), then SIGKILL any that outlive 15 s."""
        for p in reversed(list(self.procs.values())):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if CONF.exists() and MARKER in CONF.read_text():
            CONF.unlink()
