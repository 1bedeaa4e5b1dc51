"""The `ivr` command: serve, migrate, seed-demo, call, render-sounds, create-admin, api-key."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ivr.config import Config, ConfigError, ServerConfig, load_config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ivr", description="Masked-call IVR with a small CRM")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the webhooks (and the CRM)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the one port (more than 1 needs PostgreSQL; default 1)",
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    seed = commands.add_parser("seed-demo", help="add the demo data (idempotent)")
    seed.add_argument("--json", action="store_true", help="print the demo data as JSON")
    call = commands.add_parser("call", help="simulate a manager's call against a server")
    call.add_argument("--url", help="server address (default: from the config's server keys)")
    call.add_argument("--from", dest="from_number", help="caller number, E.164")
    call.add_argument(
        "--press",
        action="append",
        default=[],
        help="keys for one <Gather>, e.g. 48123575# (repeat; 'hangup' hangs up)",
    )
    call.add_argument(
        "--dial-result",
        action="append",
        default=[],
        choices=["answered", "busy", "no-answer", "failed", "canceled", "voicemail"],
        help="how the client's leg ends (repeatable)",
    )
    call.add_argument("--talk-seconds", type=int, default=42)
    commands.add_parser("render-sounds", help="render sounds/ from the prompt catalogue")
    admin = commands.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Admin")
    admin.add_argument("--password", help="default: asked for at the terminal")
    api_key = commands.add_parser("api-key", help="issue or revoke a bearer key for the API")
    api_key_actions = api_key.add_subparsers(dest="action", required=True)
    issue = api_key_actions.add_parser(
        "issue", help="print a new key for a user, once (audited as the ivr command's operator)"
    )
    issue.add_argument("--email", required=True, help="whose key it is: the user's email")
    issue.add_argument(
        "--name", default="ivr command", help="who will use it (default: %(default)s)"
    )
    revoke = api_key_actions.add_parser("revoke", help="stop a key from working (audited)")
    revoke.add_argument("id", type=int, help="the key's id, as printed by `ivr api-key issue`")
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as error:
        print(f"ivr: {error}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](config, args)


def _serve(config: Config, args: argparse.Namespace) -> int:
    from aiohttp import web

    from ivr.app import create_app
    from ivr.logging import configure_logging
    from ivr.workers import run_workers, workers_problem

    problem = workers_problem(config, args.workers)
    if problem is not None:
        print(f"ivr serve: {problem}", file=sys.stderr)
        return 2
    log_format = config.log.format or ("json" if config.environment == "production" else "console")
    configure_logging(format=log_format, level=config.log.level)
    host = args.host or config.server.host
    port = args.port or config.server.port
    try:
        if args.workers > 1:
            # Printed before the supervisor binds: run_workers has no hook for after.
            _print_banner(config, host, port)
            return run_workers(config, host=host, port=port, count=args.workers)
        web.run_app(
            create_app(config),
            host=host,
            port=port,
            # aiohttp calls this once every socket is bound, not before.
            print=lambda _running: _print_banner(config, host, port),
        )
    except OSError as error:
        if error.errno not in LISTEN_ERRORS:
            raise
        print(f"ivr serve: {_cannot_listen(host, port, error)}", file=sys.stderr)
        return 1
    return 0


LISTEN_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
"""What binding the server's socket fails with (other OSErrors are not about the port)."""


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    """One line: why `host:port` cannot be listened on, and which settings choose another."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: stop the other server or choose another "
            f"port with --port, the environment variable IVR_PORT (e.g. IVR_PORT={port + 1}) "
            "or the config key server.port"
        )
    return (
        f"cannot listen on {host}:{port}: {error.strerror}; choose another address with "
        "--host/--port, IVR_HOST/IVR_PORT or the config keys server.host/server.port"
    )


def _print_banner(config: Config, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    # `ivr call` in another terminal reads the config files, not this process's IVR_PORT.
    defaults = ServerConfig()
    url = "" if (host, port) == (defaults.host, defaults.port) else f" --url {base}"
    print(
        f"Serving on {base}  (Twilio voice webhook: {config.public_url or base}/ivr/voice,"
        " status callback: /ivr/status)"
    )
    print("Try a demo call in another terminal:")
    print(
        f"  .venv/bin/ivr call{url}          # interactive: type keys, say how the client answers"
    )
    print(f"  .venv/bin/ivr call{url} --from +79990000001 --press 48123573#")
    print("  .venv/bin/ivr seed-demo --json     # demo managers, requests and numbers", flush=True)


def _migrate(config: Config, args: argparse.Namespace) -> int:
    from crm.db import create_engine
    from ivr.migrate import upgrade

    async def run() -> None:
        engine = create_engine(config.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("database schema is up to date")
    return 0


def _seed_demo(config: Config, args: argparse.Namespace) -> int:
    from crm.db import create_engine, create_sessionmaker
    from crm.demo import seed_demo

    async def run() -> dict:
        engine = create_engine(config.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await seed_demo(session)
        finally:
            await engine.dispose()

    data = asyncio.run(run())
    data["service_number"] = config.twilio.service_number
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print(f"Demo data ready. Service number: {data['service_number']}")
    print("Log in at /login as:")
    for account in data["accounts"]:
        print(f"  {account['role']:<8} {account['email']:<24} password {account['password']}")
    for partner in data["partners"]:
        for manager in partner["managers"]:
            print(
                f"  manager {manager['name']} ({partner['name']}): {', '.join(manager['phones'])}"
            )
    for request in data["requests"]:
        print(
            f"  request {request['number']}  {request['status']:<6}  {request['partner']}: "
            f"{request['product']}"
        )
    return 0


def _call(config: Config, args: argparse.Namespace) -> int:
    from ivr.call_cli import run_call

    return asyncio.run(run_call(config, args))


def _render_sounds(config: Config, args: argparse.Namespace) -> int:
    from ivr.sounds import render

    written = render()
    print(f"rendered {len(written)} prompt(s)" + (": " + ", ".join(written) if written else ""))
    return 0


def _create_admin(config: Config, args: argparse.Namespace) -> int:
    import getpass
    from datetime import UTC, datetime

    from crm.auth.service import create_user
    from crm.db import create_engine, create_sessionmaker
    from crm.enums import Role
    from crm.errors import Invalid

    password = args.password or getpass.getpass("password for the new admin: ")

    async def run() -> str:
        engine = create_engine(config.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                user = await create_user(
                    session,
                    email=args.email,
                    name=args.name,
                    password=password,
                    role=Role.ADMIN,
                    now=datetime.now(UTC),
                )
                return user.email
        finally:
            await engine.dispose()

    try:
        email = asyncio.run(run())
    except Invalid as error:
        print(f"ivr create-admin: {error}", file=sys.stderr)
        return 2
    print(f"admin {email} created")
    return 0


class _Refused(Exception):
    """What the operator asked for cannot be done; the message says why."""


def _api_key(config: Config, args: argparse.Namespace) -> int:
    from crm.db import create_engine, create_sessionmaker
    from crm.errors import Invalid, NotFound

    action = _issue_api_key if args.action == "issue" else _revoke_api_key

    async def run() -> list[str]:
        engine = create_engine(config.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await action(session, args)
        finally:
            await engine.dispose()

    try:
        lines = asyncio.run(run())
    except (_Refused, Invalid, NotFound) as error:
        print(f"ivr api-key {args.action}: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


async def _issue_api_key(session: AsyncSession, args: argparse.Namespace) -> list[str]:
    from datetime import UTC, datetime

    from crm.auth.service import OPERATOR, find_user, issue_api_key

    user = await find_user(session, email=args.email)
    if user is None:
        raise _Refused(f"no user with email {args.email.strip().lower()}")
    key, plain = await issue_api_key(
        session, actor=OPERATOR, user_id=user.id, name=args.name, now=datetime.now(UTC)
    )
    return [
        plain,
        f'API key {key.id} ({key.prefix}…, "{key.name}") for {user.email}: copy it now,'
        " it will not be shown again.",
        f"Revoke it with: ivr api-key revoke {key.id}",
    ]


async def _revoke_api_key(session: AsyncSession, args: argparse.Namespace) -> list[str]:
    from datetime import UTC, datetime

    from crm.auth.service import OPERATOR, find_api_key, revoke_api_key

    found = await find_api_key(session, key_id=args.id)
    if found is None:
        raise _Refused(f"no API key with id {args.id}")
    key, owner = found
    described = f'API key {key.id} ({key.prefix}…, "{key.name}") of {owner.email}'
    if key.revoked_at is not None:
        at = f"{key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        raise _Refused(f"{described} was already revoked at {at}; nothing changed")
    await revoke_api_key(session, actor=OPERATOR, key_id=key.id, now=datetime.now(UTC))
    return [f"{described} revoked: it no longer works."]


COMMANDS = {
    "serve": _serve,
    "migrate": _migrate,
    "seed-demo": _seed_demo,
    "call": _call,
    "render-sounds": _render_sounds,
    "create-admin": _create_admin,
    "api-key": _api_key,
}

if __name__ == "__main__":
    raise SystemExit(main())
