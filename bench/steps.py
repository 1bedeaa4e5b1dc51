"""Webhook steps under wrk: the bare ceilings, each step of the service, one worker vs two."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bench import procs, wrk
from bench.report import Report, StepFigure
from crm.db import create_engine
from crm.models import Call
from ivr.simulator import new_sid

ANNA = "+79990000001"
SERVICE_NUMBER = "+15005550006"
IVR = procs.python("-m", "ivr.cli")


def _params(call_sid: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": ANNA,
        "To": SERVICE_NUMBER,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def _measure(
    report: Report,
    name: str,
    server: procs.Server,
    steps: list[tuple[str, dict[str, str]]],
    *,
    folder: Path,
    token: str,
    seconds: float,
    backend: str = "",
) -> StepFigure:
    requests_file = wrk.write_requests(
        folder / f"{name}-{backend or 'bare'}-{uuid.uuid4().hex[:6]}.tsv",
        public_base=server.url,
        token=token,
        steps=steps,
    )
    before, database_before = server.cpu(), procs.postgres_cpu()
    load = wrk.run(server.url, requests_file, seconds=seconds)
    cpu = server.cpu() - before
    database = procs.postgres_cpu() - database_before if backend == "postgresql" else None
    figure = StepFigure(
        name=name, backend=backend, load=load, cpu_seconds=cpu, database_cpu_seconds=database
    )
    report.steps.append(figure)
    print(f"  {figure.describe()}", flush=True)
    return figure


def ceilings(report: Report, home: Path, *, seconds: float, token: str) -> None:
    """Bare aiohttp answering fixed TwiML, without and with Twilio's RequestValidator."""
    print("ceilings: bare aiohttp", flush=True)
    fresh = [("/ivr/voice", _params(new_sid())) for _ in range(120_000)]
    for name, extra in (("bare", []), ("bare + validator", ["--validator", token])):
        port = procs.free_port()
        command = procs.python("-m", "bench.bare", "--port", str(port), *extra)
        with procs.serve(command, env=dict(os.environ), port=port, log=home / "bare.log") as bare:
            _measure(report, name, bare, fresh, folder=home, token=token, seconds=seconds)


class Service:
    """`ivr serve` on a new database of `backend`, migrated and seeded with the demo data."""

    def __init__(
        self,
        home: Path,
        backend: str,
        *,
        token: str,
        postgres: str | None,
        workers: int = 1,
    ) -> None:
        self.home, self.backend, self.token, self.workers = home, backend, token, workers
        self._postgres = postgres
        self._stack = ExitStack()
        self.database_url = ""
        self.demo: dict = {}
        self.server: procs.Server | None = None

    def env(self) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
        return {
            **inherited,
            "IVR_DATABASE_URL": self.database_url,
            "IVR_TWILIO_AUTH_TOKEN": self.token,
            "IVR_SESSION_KEY": "yVtZ0ZqK3mH1Qe2cJm8Zr4o0b9sT6uW1xA2dF5gH7jE=",
            "IVR_CONFIG": str(self._config_file()),
            "IVR_LOG_FORMAT": "json",
        }

    def _config_file(self) -> Path:
        path = self.home / "bench-config.yaml"
        path.write_text("background:\n  enabled: true\n  interval_seconds: 5\n")
        return path

    def __enter__(self) -> Service:
        self.database_url = self._stack.enter_context(
            new_database(self.home, self.backend, self._postgres)
        )
        env = self.env()
        for command in (["migrate"], ["seed-demo", "--json"]):
            done = subprocess.run(
                [*IVR, *command], env=env, capture_output=True, text=True, check=True, timeout=120
            )
        self.demo = json.loads(done.stdout)
        self.server = self.start()
        return self

    def start(self, workers: int | None = None) -> procs.Server:
        port = procs.free_port()
        env = {**self.env(), "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        command = [*IVR, "serve", "--port", str(port), "--workers", str(workers or self.workers)]
        log = self.home / f"serve-{self.backend}-{port}.log"
        return self._stack.enter_context(procs.serve(command, env=env, port=port, log=log))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def open_number(self) -> str:
        return next(
            request["number"]
            for request in self.demo["requests"]
            if request["partner"] == "Polis Insurance" and request["status"] == "open"
        )

    def call_sids(self, stage: str) -> list[str]:
        return asyncio.run(_call_sids(self.database_url, stage))


async def _call_sids(database_url: str, stage: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                select(Call.call_sid).where(Call.stage == stage).order_by(Call.id)
            )
            return list(found.scalars())
    finally:
        await engine.dispose()


@contextmanager
def new_database(home: Path, backend: str, postgres: str | None) -> Iterator[str]:
    """An empty database of its own: a SQLite file, or a database on the PostgreSQL server."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{home}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
        return
    assert postgres is not None
    name = f"ivr_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_postgres(postgres, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres(server_url: str, statement: str) -> None:
    engine = create_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def webhook_steps(report: Report, service: Service, *, seconds: float) -> None:
    """A call's first webhook with fresh CallSids, then the number and the status of those
    calls: three steps with their real database work."""
    assert service.server is not None
    print(f"webhook steps on {service.backend}", flush=True)
    server, token, backend = service.server, service.token, service.backend

    def measure(name: str, steps: list[tuple[str, dict[str, str]]], share: float = 1) -> None:
        _measure(
            report,
            name,
            server,
            steps,
            folder=service.home,
            token=token,
            seconds=seconds * share,
            backend=backend,
        )

    measure("voice", [("/ivr/voice", _params(new_sid())) for _ in range(30_000)])
    # Each later step has only the calls the step before made: shorter runs, so that every
    # request still meets a call in its stage (a run that ran out says so: `repeated`).
    waiting = service.call_sids("awaiting_number")
    typed = [("/ivr/number", _params(sid, Digits=service.open_number)) for sid in waiting]
    measure("number", typed, share=0.6)
    ended = {"CallStatus": "completed", "CallDuration": "30"}
    dialing = service.call_sids("dialing")
    measure("status", [("/ivr/status", _params(sid, **ended)) for sid in dialing], share=0.35)


def workers(report: Report, home: Path, *, token: str, postgres: str, seconds: float) -> None:
    """The first webhook on PostgreSQL with one worker process, then with two."""
    print("workers on postgresql", flush=True)
    for count in (1, 2):
        with Service(home, "postgresql", token=token, postgres=postgres, workers=count) as service:
            assert service.server is not None
            fresh = [("/ivr/voice", _params(new_sid())) for _ in range(40_000)]
            figure = _measure(
                report,
                f"voice, {count} worker{'s' if count > 1 else ''}",
                service.server,
                fresh,
                folder=home,
                token=token,
                seconds=seconds,
                backend="postgresql",
            )
            report.workers[count] = figure
