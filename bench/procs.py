"""Server processes for a measurement: started on free ports, waited for, their CPU read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _family(pid: int) -> list[int]:
    """The process and every descendant (the workers of `ivr serve --workers`)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        queue.extend(int(child) for child in children)
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the process and its descendants so far."""
    total = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def postgres_cpu() -> float:
    """User and system CPU of every PostgreSQL process on this machine so far (the
    database's share of a run; SQLite's is inside the server's own)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


@dataclass
class Server:
    process: subprocess.Popen
    url: str

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


@contextmanager
def serve(command: Sequence[str], *, env: dict[str, str], port: int, log: Path) -> Iterator[Server]:
    """Run `command` (listening on `port`) until the block ends; SIGTERM, then kill."""
    with log.open("w") as out:
        process = subprocess.Popen(
            list(command), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = Server(process, f"http://127.0.0.1:{port}")
        try:
            _wait_healthy(server, log)
            yield server
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_healthy(server: Server, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{server.url} did not start; its output: {log}")
        time.sleep(0.1)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
