"""A throwaway PostgreSQL cluster of a test module's own (initdb, pg_ctl on a free port).

Unlike the shared server CI gives, it can be frozen with SIGSTOP (it accepts connections and
answers nothing), stopped and started again.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.smtp import free_port

NO_CLUSTER = (
    "outage test: needs PostgreSQL's initdb and pg_ctl under /usr/lib/postgresql/*/bin "
    "(Debian: apt-get install postgresql)"
)


class Cluster:
    """A throwaway PostgreSQL: initdb'd into `root`, served on 127.0.0.1:`port`."""

    def __init__(self, bin_dir: Path, root: Path, run_as: list[str]) -> None:
        self.bin_dir, self.root, self.run_as = bin_dir, root, run_as
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin_dir / program), *args],
            cwd=self.root,
            check=check,
            capture_output=True,
            timeout=60,
        )

    def initdb(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -F"
        self._pg(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast", *, check: bool = True) -> None:
        self._pg("pg_ctl", "stop", "-w", "-t", "30", "-D", str(self.data), "-m", mode, check=check)

    def _postmaster(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def _processes(self) -> list[int]:
        """The postmaster first, then its children (each backend is a session of its own)."""
        postmaster = self._postmaster()
        if postmaster is None:
            return []
        children = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except (OSError, ValueError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry))
        return [postmaster, *children]

    def _signal(self, pids: list[int], number: signal.Signals) -> None:
        for pid in pids:
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                pass

    def freeze(self) -> None:
        """SIGSTOP the whole cluster, the postmaster first so it forks no new backend."""
        deadline = time.monotonic() + 10
        while True:
            processes = self._processes()
            self._signal(processes, signal.SIGSTOP)
            if all(map(_stopped, processes)) and set(processes) == set(self._processes()):
                return
            assert time.monotonic() < deadline, "the cluster did not stop"

    def thaw(self) -> None:
        self._signal(list(reversed(self._processes())), signal.SIGCONT)


def _stopped(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True  # gone
    return state in ("T", "t", "Z", "X")  # stopped, or exited (unreaped: the postmaster stopped)


def postgres_bin() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(Path(candidate) / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return Path(candidate)
    pytest.skip(NO_CLUSTER)


def run_as(root: Path) -> list[str]:
    """initdb refuses root: as root the cluster runs as `postgres`, owning its folder."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("outage test: running as root and there is no 'postgres' user for initdb")
    if shutil.which("setpriv") is None:
        pytest.skip("outage test: running as root and setpriv (util-linux) is missing")
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
