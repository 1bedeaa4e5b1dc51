"""`ivr serve` as real processes for tests: started with an environment, waited for, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import AUTH_TOKEN, SESSION_KEY
from tests.smtp import free_port

IVR = Path(sys.executable).parent / "ivr"


def service_env(folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    """What every process of one service shares: its database, secrets and config file."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    return {
        **inherited,
        "HOME": str(folder),
        "IVR_DATABASE_URL": database_url,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_SESSION_KEY": SESSION_KEY,
        **extra,
    }


@contextmanager
def serving(
    folder: Path, env: dict[str, str], *args: str, name: str = "serve"
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`ivr serve` on a free port until the block ends (SIGTERM, then kill); (process, URL)."""
    port = free_port()
    with (folder / f"{name}-{port}.log").open("w") as log:
        process = subprocess.Popen(
            [str(IVR), "serve", "--port", str(port), *args],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, url)
            yield process, url
        finally:
            stop(process)


def wait_until_up(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ivr serve did not start at {url}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> int:
    """SIGTERM the process (and its workers), then kill what is left; its exit code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (the workers of `ivr serve --workers`)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
