"""`ivr serve` says where it serves only once it listens, and names the settings when it cannot."""

from __future__ import annotations

import select
import socket
import subprocess
import urllib.request
from pathlib import Path

from tests.processes import IVR, stop
from tests.smtp import free_port
from tests.test_cli import cli_env, run

START_SECONDS = 30
"""The test's own bound on a server's start: a server that never says it serves fails it."""


def test_busy_port_exits_one_naming_the_port_and_the_settings_to_change(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        done = run(cli_env(tmp_path), "serve", "--port", str(port))
    assert done.returncode == 1
    assert "Serving on" not in done.stdout + done.stderr
    [message] = [line for line in done.stderr.splitlines() if line.startswith("ivr serve:")]
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "IVR_PORT" in message
    assert "server.port" in message


def first_line(process: subprocess.Popen[str]) -> str:
    """The first line the process prints, or '' when it exits first."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_SECONDS)
    assert ready, f"ivr serve printed nothing in {START_SECONDS} s"
    return process.stdout.readline()


def test_ivr_port_moves_the_server_and_it_listens_when_it_says_so(tmp_path: Path):
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(IVR), "serve"],
            env=cli_env(tmp_path, IVR_PORT=str(port)),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        try:
            banner = first_line(process)
            assert banner.startswith(f"Serving on http://127.0.0.1:{port} "), log_path.read_text()
            # No retries: once the banner is out, the port answers.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
                assert reply.status == 200
        finally:
            stop(process)
