"""Engine and session factory; opened by the app's cleanup context, never at import."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

# Every table known before the first flush: a foreign key into a package's table (requests →
# payers) must resolve whichever command or process opened the database.
from crm import schema as _schema  # noqa: F401

if TYPE_CHECKING:
    from ivr.config import DatabaseConfig

UNTIMED_SQLITE_BUSY_SECONDS = 15
"""SQLite's wait for the write lock when no timeouts are given (migrations, the CLI)."""
CLIENT_GRACE_SECONDS = 0.25
"""The client waits this much past `statement_timeout`, so a live server's own answer comes
first; the client's timeout fires only when the server cannot answer at all (frozen)."""
DEFERRED = "sqlite_deferred"
"""Execution option: begin an SQLite transaction DEFERRED, for reads that must not queue
for the write lock (the health checks)."""


def create_engine(database_url: str, *, timeouts: DatabaseConfig | None = None) -> AsyncEngine:
    """An async engine, with connect, pool and statement `timeouts` when given (the server's).

    Without `timeouts` statements may run as long as they need (migrations, the CLI).
    For SQLite the file and its folder are created private first.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, timeouts)
    options: dict[str, Any] = {}
    if timeouts is not None:
        options["pool_timeout"] = timeouts.pool_timeout_seconds
        options["connect_args"] = {
            "timeout": timeouts.connect_timeout_seconds,
            "command_timeout": timeouts.statement_timeout_ms / 1000 + CLIENT_GRACE_SECONDS,
            "server_settings": {"statement_timeout": str(timeouts.statement_timeout_ms)},
        }
    engine = create_async_engine(url, **options)
    _drop_connections_that_timed_out(engine)
    _ping_after_idle(engine)
    return engine


def _sqlite_engine(url: URL, timeouts: DatabaseConfig | None) -> AsyncEngine:
    options: dict[str, Any] = {}
    busy: float = UNTIMED_SQLITE_BUSY_SECONDS
    if url.database not in (None, "", ":memory:"):
        _create_private(Path(url.database or ""))
        if timeouts is not None:
            # The server's one writing connection: its transactions queue for it in asyncio,
            # not in SQLite's sleeping busy handler (health checks and metrics read through
            # `create_reader`'s engine instead).
            options.update(pool_size=1, max_overflow=0, pool_timeout=timeouts.pool_timeout_seconds)
    if timeouts is not None:
        busy = timeouts.statement_timeout_ms / 1000
    engine = create_async_engine(url, async_creator=_sqlite_connector(url, busy), **options)
    _serialize_sqlite_writers(engine)
    return engine


READER_POOL = 2
"""Connections of SQLite's reader engine: a health check and a scrape at once."""


def create_reader(
    database_url: str, engine: AsyncEngine, *, timeouts: DatabaseConfig | None = None
) -> AsyncEngine:
    """The engine for reads that must not queue behind the webhooks: on SQLite a small one
    of its own whose transactions begin DEFERRED; elsewhere `engine` itself."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return engine
    busy = (timeouts.statement_timeout_ms / 1000) if timeouts else UNTIMED_SQLITE_BUSY_SECONDS
    reader = create_async_engine(
        url,
        async_creator=_sqlite_connector(url, busy),
        pool_size=READER_POOL,
        max_overflow=0,
        pool_timeout=timeouts.pool_timeout_seconds if timeouts else 30,
        execution_options={DEFERRED: True},
    )
    _serialize_sqlite_writers(reader)
    return reader


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite, with one trip to its thread per statement.

    SQLAlchemy's adapter asks aiosqlite for a cursor, then executes, fetches and closes it:
    four trips to the database thread per statement, each waking both threads. Here the
    cursor does all of it in one, so a webhook's transaction takes a trip per statement.
    """

    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def run(self, work: Callable[[sqlite3.Cursor], Any]) -> Any:
        """In the database thread: `work` on a cursor of its own, closed after."""
        cursor = self._conn.cursor()
        try:
            return work(cursor)
        finally:
            cursor.close()

    async def trip(self, work: Callable[[sqlite3.Cursor], Any]) -> Any:
        return await self._execute(self.run, work)


Fetched = tuple[Any, int, int | None, list[Any]]
"""A statement's description, row count, last row id and every row it answered."""


def _fetched(cursor: sqlite3.Cursor) -> Fetched:
    rows = cursor.fetchall() if cursor.description else []
    return cursor.description, cursor.rowcount, cursor.lastrowid, rows


def _execute(sql: str, parameters: Any, cursor: sqlite3.Cursor) -> Fetched:
    cursor.execute(sql, parameters)
    return _fetched(cursor)


def _execute_many(sql: str, parameters: Any, cursor: sqlite3.Cursor) -> Fetched:
    cursor.executemany(sql, parameters)
    return _fetched(cursor)


class OneTripCursor:
    """The part of aiosqlite's cursor SQLAlchemy uses; its rows are fetched with the
    statement (SQLAlchemy's adapter fetches every row at once anyway)."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> OneTripCursor:
        fetched = await self._connection.trip(partial(_execute, sql, parameters))
        self.description, self.rowcount, self.lastrowid, self._rows = fetched
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneTripCursor:
        fetched = await self._connection.trip(partial(_execute_many, sql, parameters))
        self.description, self.rowcount, self.lastrowid, self._rows = fetched
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int = 1) -> list[Any]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _sqlite_connector(url: URL, busy: float) -> Callable[[], Any]:
    """How the engine opens a connection: aiosqlite's, one trip per statement."""
    database = url.database or ":memory:"

    async def connect() -> OneTripConnection:
        connection = OneTripConnection(
            partial(sqlite3.connect, database, timeout=busy, isolation_level=None),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy's own connect does
        await connection
        return connection

    return connect


def _create_private(path: Path) -> None:
    """The database's folder (0700) and file (0600), when they are new: client data inside."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # SQLite gives its journal files the database file's mode


def _drop_connections_that_timed_out(engine: AsyncEngine) -> None:
    """A connection whose statement timed out is closed at once, never waited on again.

    After a client-side timeout asyncpg asks the server to cancel, and every later use of
    that connection (the rollback, even a graceful close) waits for an answer a frozen
    server never sends (MagicStack/asyncpg#1356). So a timeout counts as a disconnect, and
    an invalidated connection is terminated instead of closed politely.
    """

    @event.listens_for(engine.sync_engine, "handle_error")
    def _timeout_is_a_disconnect(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, TimeoutError):
            context.is_disconnect = True
            # One slow answer says nothing of the other connections; pre-ping checks each.
            context.invalidate_pool_on_disconnect = False

    @event.listens_for(engine.sync_engine.pool, "invalidate")
    def _terminate(_dbapi: Any, record: ConnectionPoolEntry, _error: Any) -> None:
        if record.driver_connection is not None:
            record.driver_connection.terminate()


IDLE_BEFORE_PING_SECONDS = 2.0
"""A pooled PostgreSQL connection unused this long is pinged before use (not every time)."""


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Check a connection that sat idle before handing it out; a busy pool skips the ping.

    A restarted or failed-over server leaves idle connections dead: the ping finds them and
    the pool connects anew, so the first webhook after an outage still gets its answer.
    """

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _note(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _ping(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        driver = record.driver_connection  # asyncpg's Connection
        if driver is not None and driver.is_closed():
            # The server closed it (a restart, a terminated backend): known without a round
            # trip, whatever its age.
            raise DisconnectionError("the server closed this connection")
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError(f"an idle connection died: {type(error).__name__}") from error


def _serialize_sqlite_writers(engine: AsyncEngine) -> None:
    """Begin every SQLite transaction IMMEDIATE, taking the write lock up front.

    SQLite ignores SELECT ... FOR UPDATE; without this, two webhooks of one call (the dial
    result and the status callback) could both read the row and the later write would win.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # Readers (the reader engine, the `ivr` command) never wait for the writer.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        deferred = connection.get_execution_options().get(DEFERRED, False)
        statement = "BEGIN" if deferred else "BEGIN IMMEDIATE"
        # On the driver's cursor: SQLAlchemy's execution of a statement (its events, its
        # result) would cost a webhook more than the BEGIN itself. Its error is wrapped as
        # SQLAlchemy's, as a statement's would be ("database is locked": OperationalError).
        try:
            connection.connection.cursor().execute(statement)
        except sqlite3.Error as error:
            raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
