"""`ivr serve --workers N`: N server processes on one port, one supervisor.

The supervisor opens the listening socket and every worker accepts from it (as gunicorn
does), so a worker that stops leaves no connection behind in a queue of its own. SIGTERM or
Ctrl-C stops them gracefully: each stops accepting, finishes the webhooks in flight and
closes. SIGHUP restarts them one at a time, a new one accepting before the old one stops,
so the port never goes quiet. A worker that dies is started again. A call's state lives in
the database, so any worker answers any step; SQLite has one writer, so more than one
worker needs PostgreSQL. Metrics: the supervisor gives the workers a fresh
PROMETHEUS_MULTIPROC_DIR, so whichever worker is scraped reports them all; it forgets a
worker's live gauges when that worker exits and removes the folder when it stops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog
from prometheus_client import multiprocess
from sqlalchemy.engine import make_url

from ivr.config import Config
from ivr.metrics import MULTIPROC_DIR

log = structlog.get_logger("ivr.workers")
STOP_SECONDS = 30.0
"""How long a stopping worker may take to finish its webhooks before it is killed."""
STARTED_SECONDS = 1.0
"""A restarted worker gets this long to bind before the one it replaces is stopped."""


def workers_problem(config: Config, count: int) -> str | None:
    """Why `count` workers cannot serve this configuration, or None."""
    if count < 1:
        return "--workers must be 1 or more"
    if count > 1 and make_url(config.database_url).get_backend_name() == "sqlite":
        return (
            f"--workers {count} needs PostgreSQL: SQLite allows one writer, so several "
            "processes would queue on its lock. Set IVR_DATABASE_URL=postgresql+asyncpg://… "
            "or serve with --workers 1."
        )
    return None


def _worker(config: Config, listening: socket.socket) -> None:
    from aiohttp import web

    from ivr.app import create_app

    # The supervisor's handlers were copied by the fork: until run_app installs its own, a
    # SIGTERM must stop this worker, not set a flag nobody here reads.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's signal, not ours
    _die_with_the_supervisor()
    web.run_app(create_app(config), sock=listening, print=None, shutdown_timeout=STOP_SECONDS - 5)


PR_SET_PDEATHSIG = 1


def _die_with_the_supervisor() -> None:
    """Linux: a supervisor killed outright (SIGKILL) takes its workers with it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: an orphaned worker keeps serving until stopped by hand


CRASHES_ALLOWED = 5
CRASH_WINDOW_SECONDS = 30.0
"""More worker deaths than this within the window: something is wrong at start (a bad
database URL, a missing migration); the supervisor stops instead of forking forever."""


class Supervisor:
    def __init__(self, config: Config, listening: socket.socket, count: int) -> None:
        self.config, self.listening, self.count = config, listening, count
        self._context = multiprocessing.get_context("fork")
        self._workers: list[BaseProcess] = []
        self._stopping = False
        self._restart = False

    def _start_one(self) -> BaseProcess:
        worker = self._context.Process(
            target=_worker, args=(self.config, self.listening), name="ivr-worker"
        )
        worker.start()
        return worker

    def _stop(self, worker: BaseProcess) -> None:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
        worker.join(STOP_SECONDS)
        if worker.is_alive():
            log.warning("worker_killed", pid=worker.pid, after_seconds=STOP_SECONDS)
            worker.kill()
            worker.join()
        self._forget(worker)

    def _forget(self, worker: BaseProcess) -> None:
        """A worker that exited: its live gauges (pool use) stop counting."""
        if worker.pid is not None:
            multiprocess.mark_process_dead(worker.pid)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._restart = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        self._workers = [self._start_one() for _ in range(self.count)]
        log.info("workers_started", count=self.count, pids=[w.pid for w in self._workers])
        crashes: list[float] = []
        failed = False
        while not self._stopping:
            time.sleep(0.2)
            if self._restart:
                self._restart = False
                self._rolling_restart()
            for index, worker in enumerate(self._workers):
                if not worker.is_alive() and not self._stopping:
                    log.warning("worker_died", pid=worker.pid, exitcode=worker.exitcode)
                    self._forget(worker)
                    now = time.monotonic()
                    crashes = [at for at in crashes if now - at < CRASH_WINDOW_SECONDS] + [now]
                    if len(crashes) > CRASHES_ALLOWED:
                        log.error(
                            "workers_keep_dying",
                            deaths=len(crashes),
                            within_seconds=CRASH_WINDOW_SECONDS,
                        )
                        self._stopping = failed = True
                        break
                    self._workers[index] = self._start_one()
        for worker in self._workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        for worker in self._workers:
            self._stop(worker)
        log.info("workers_stopped", count=self.count)
        return 1 if failed else 0

    def _rolling_restart(self) -> None:
        for index, old in enumerate(list(self._workers)):
            if self._stopping:
                return  # a SIGTERM during the restart: stop now, not after every worker
            new = self._start_one()
            time.sleep(STARTED_SECONDS)
            self._workers[index] = new
            self._stop(old)
        log.info("workers_restarted", pids=[w.pid for w in self._workers])


def run_workers(config: Config, *, host: str, port: int, count: int) -> int:
    """Serve with `count` worker processes until SIGTERM or Ctrl-C."""
    listening = socket.create_server((host, port), backlog=1024)  # OSError: port taken
    folder = tempfile.mkdtemp(prefix="ivr-metrics-")
    os.environ[MULTIPROC_DIR] = folder  # read by the workers, which inherit it at fork
    try:
        return Supervisor(config, listening, count).run()
    finally:
        listening.close()
        del os.environ[MULTIPROC_DIR]
        shutil.rmtree(folder, ignore_errors=True)
