"""A PostgreSQL connection the server closed is replaced before a webhook uses it."""

from __future__ import annotations

from sqlalchemy import text

from crm.db import create_engine
from ivr.app import create_app
from ivr.simulator import ScriptedCaller, TwilioSimulator
from tests.conftest import AUTH_TOKEN, make_config
from tests.helpers import ANNA, open_polis
from tests.test_workers import postgres  # noqa: F401  (a module fixture)

APOLOGY = ("something went wrong", "/error.wav")
OTHERS = (
    "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


async def test_a_call_right_after_the_servers_backends_were_terminated_is_answered(
    postgres,  # noqa: F811
    aiohttp_server,
    http,
):
    url, demo = postgres
    server = await aiohttp_server(create_app(make_config(url)))
    twilio = TwilioSimulator(http, server_url=str(server.make_url("")), auth_token=AUTH_TOKEN)
    number = open_polis(demo)["number"]

    async def call() -> list[str]:
        """What the manager heard (and "bridged" once the client was on the line)."""
        record = await twilio.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
        return [h.kind if h.kind == "bridged" else h.text + h.url for h in record.heard]

    assert "bridged" in await call()  # the pool now holds connections used just now
    admin = create_engine(url)
    try:
        async with admin.connect() as connection:
            await connection.execute(
                text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {OTHERS}")
            )
            # Until the server has closed them all (each query lets the loop see it too; a
            # new transaction each time, since one keeps its snapshot of the statistics).
            while await connection.scalar(
                text(f"SELECT count(*) FROM pg_stat_activity WHERE {OTHERS}")
            ):
                await connection.commit()
    finally:
        await admin.dispose()
    heard = await call()
    assert not [line for line in heard if any(mark in line for mark in APOLOGY)]
    assert "bridged" in heard
