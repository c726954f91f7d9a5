"""A private single-node Slurm cluster for tests (CI installs slurm-wlm and munge).

Everything it runs is its own: a munged with a fresh key on its own socket, slurmctld and
slurmd on free ports, config, state, spool and logs in one temp folder. The daemons run in the
foreground as child processes, so they are stopped by their PIDs (after every job of the cluster
is cancelled) and nothing of a system Slurm or munge installation is touched. The node advertises
GPUs backed by plain files: Slurm schedules and counts them like real ones (the node has no
CUDA), which is what the tests check.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

PROGRAMS = (
    "munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo")


def unavailable() -> str | None:
    """Why a private cluster cannot run here, or None when it can."""
    absent = [p for p in PROGRAMS if shutil.which(p) is None]
    if absent:
        return (f"Slurm is not installed ({', '.join(absent)} not found; "
                "apt-get install slurm-wlm munge, as .ci/run does)")
    if os.geteuid() != 0:
        return "slurmd must run as root (the test cluster sets SlurmdUser=root)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(root: Path, node: str, *, cpus: int, gpus: int, memory_mb: int) -> Path:
    """slurm.conf and gres.conf for one node `node` at 127.0.0.1; returns slurm.conf."""
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    devices = []
    for i in range(gpus):
        (root / f"gpu{i}").touch()  # a GRES needs a device file; Slurm only counts it
        devices.append(f"NodeName={node} Name=gpu File={root / f'gpu{i}'}")
    (root / "gres.conf").write_text("\n".join(["AutoDetect=off", *devices]) + "\n")
    conf = root / "slurm.conf"
    conf.write_text(f"""\
ClusterName=dlwpttest
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root / 'munge.socket'}
StateSaveLocation={root / 'state'}
SlurmdSpoolDir={root / 'spool'}
SlurmctldPidFile={root / 'slurmctld.pid'}
SlurmdPidFile={root / 'slurmd.pid'}
SlurmctldLogFile={root / 'log' / 'slurmctld.log'}
SlurmdLogFile={root / 'log' / 'slurmd.log'}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The node may advertise more CPUs than the machine has (a 2-core CI runner): jobs then wait
# for GPUs, not CPUs, and small group jobs run side by side instead of queueing.
SlurmdParameters=config_overrides
GresTypes=gpu
# Finished jobs stay visible to squeue/scontrol for 10 minutes: the Slurm executor's
# squeue status queries (no accounting database here) and the tests read them.
MinJobAge=600
KillWait=5
ReturnToService=2
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:{gpus} State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def run(env: dict[str, str], *command: str, timeout: float = 30) -> str:
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                          timeout=timeout).stdout


def wait_for(what: str, condition, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (subprocess.SubprocessError, OSError):
            pass
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}"
                              for p in sorted(logs.glob("*")) if p.is_file())
            raise RuntimeError(f"test Slurm cluster: {what} within {timeout:.0f} s\n{tails}")
        time.sleep(0.2)


@contextmanager
def daemon(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A foreground daemon as our child; SIGTERM (then SIGKILL) by its PID on exit."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def cancel_everything(env: dict[str, str]) -> None:
    """Cancel every job of the cluster (all are the tests') and wait until none is left
    running, so that no job step outlives slurmd."""
    subprocess.run(["scancel", "--user", str(os.geteuid())], env=env, capture_output=True,
                   timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = subprocess.run(["squeue", "-h", "-o", "%T"], env=env, capture_output=True,
                                text=True, timeout=30).stdout.split()
        if not {"RUNNING", "PENDING", "COMPLETING", "CONFIGURING", "SUSPENDED"} & set(states):
            return
        time.sleep(0.5)


@contextmanager
def slurm_cluster(*, cpus: int = 16, gpus: int = 2, memory_mb: int = 64000
                  ) -> Iterator[dict[str, str]]:
    """Start the cluster; yields the environment its commands need (SLURM_CONF, PATH).

    Jobs find the same config: sbatch exports the submitting process's environment.
    """
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    # A short path of its own: munge's socket path must fit in sockaddr_un (108 bytes).
    root = Path(tempfile.mkdtemp(prefix="dlwpt-slurm-"))
    node = socket.gethostname().split(".")[0]
    conf = write_config(root, node, cpus=cpus, gpus=gpus, memory_mb=memory_mb)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    # The Slurm executor's job step strips SLURM_* variables (SLURM_CONF included) before it
    # calls srun, which then looks for the config at its standard path: this srun finds ours,
    # as srun on a real cluster finds the node's /etc/slurm/slurm.conf.
    shims = root / "bin"
    shims.mkdir()
    (shims / "srun").write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    (shims / "srun").chmod(0o755)
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    logs = root / "log"
    try:
        with ExitStack() as stack:
            stack.enter_context(daemon(
                ["munged", "--foreground", "--force", f"--socket={root / 'munge.socket'}",
                 f"--key-file={key}", f"--pid-file={root / 'munged.pid'}",
                 f"--log-file={logs / 'munged.log'}", f"--seed-file={root / 'munged.seed'}"],
                env, logs / "munged.out"))
            wait_for("munged did not create its socket",
                     lambda: (root / "munge.socket").exists(), 30, logs)
            stack.enter_context(daemon(["slurmctld", "-D", "-i"], env, logs / "slurmctld.out"))
            wait_for("slurmctld did not answer",
                     lambda: "UP" in run(env, "scontrol", "ping"), 60, logs)
            stack.enter_context(daemon(["slurmd", "-D", "-N", node], env, logs / "slurmd.out"))
            # Registered last: runs first on exit, while the daemons are still up.
            stack.callback(cancel_everything, env)
            wait_for("the node did not become idle",
                     lambda: run(env, "sinfo", "-h", "-N", "-o", "%T").split() == ["idle"],
                     60, logs)
            yield {"SLURM_CONF": str(conf), "PATH": env["PATH"]}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def job_records(env: dict[str, str]) -> list[dict[str, str]]:
    """Every job the controller still knows (MinJobAge keeps finished ones), as scontrol's
    key=value fields (one-liner form; values without spaces except the trailing Command)."""
    out = run({**os.environ, **env}, "scontrol", "show", "job", "--oneliner", "--details")
    records = []
    for line in out.splitlines():
        if not line.startswith("JobId="):
            continue
        fields = {}
        for token in line.split():
            if "=" in token:
                key, value = token.split("=", 1)
                fields.setdefault(key, value)
        records.append(fields)
    return records
