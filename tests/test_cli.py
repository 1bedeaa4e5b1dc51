"""The `ivr` command as a newcomer runs it: real subprocesses, a real server, SQLite.

`ivr api-key` runs against the migrated database of each backend (conftest's `database_url`).
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crm.audit import OPERATOR, AuditEntry
from crm.auth.models import ApiKey, User
from ivr.flows.prompts import PROMPTS
from tests.api_helpers import AGENT, MANAGER, Api
from tests.helpers import ANNA
from tests.processes import serving
from tests.smtp import free_port

IVR = Path(sys.executable).parent / "ivr"
TIMEOUT = 60


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IVR), *args], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=TIMEOUT
    )


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    return {
        **inherited,
        "HOME": str(folder),
        "IVR_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/cli.sqlite3",
        "IVR_TWILIO_AUTH_TOKEN": "cli-test-token-0123456789abcdef",
        **extra,
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A migrated, twice-seeded database: (env, migrate run, first seed, second seed)."""
    env = cli_env(tmp_path_factory.mktemp("cli"))
    migrated = run(env, "migrate")
    first, second = run(env, "seed-demo", "--json"), run(env, "seed-demo", "--json")
    return env, migrated, first, second


@pytest.fixture(scope="module")
def served(seeded):
    """`ivr serve` in the background on a free port; yields (env, url, demo data)."""
    env, _, first, _ = seeded
    with serving(Path(env["HOME"]), env) as (_, url):
        yield env, url, json.loads(first.stdout)


def test_migrate_brings_an_empty_database_up_to_date(seeded):
    _, migrated, _, _ = seeded
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout


def test_seed_demo_is_idempotent(seeded):
    _, _, first, second = seeded
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_seed_demo_describes_what_a_newcomer_needs(seeded):
    data = json.loads(seeded[2].stdout)
    assert data["service_number"] == "+15005550006"
    phones = {
        phone
        for partner in data["partners"]
        for manager in partner["managers"]
        for phone in manager["phones"]
    }
    assert ANNA in phones
    requests = data["requests"]
    assert {"open", "closed"} <= {request["status"] for request in requests}
    assert len({request["partner"] for request in requests}) >= 2
    assert all(len(request["number"]) == 8 for request in requests)


def anna_open_request(demo: dict) -> dict:
    return next(
        r for r in demo["requests"] if r["partner"] == "Polis Insurance" and r["status"] == "open"
    )


def forms_of(phone: str) -> list[str]:
    return [phone, phone.lstrip("+"), phone[2:]]


def test_call_to_an_open_request_is_bridged(served):
    env, url, demo = served
    request = anna_open_request(demo)
    done = run(env, "call", "--url", url, "--from", ANNA, "--press", f"{request['number']}#")
    assert done.returncode == 0, done.stderr
    assert "Bridged" in done.stdout
    assert "Dialing the client +7******" in done.stdout
    output = done.stdout + done.stderr
    assert [form for form in forms_of(request["client_phone"]) if form in output] == []


def test_call_with_a_busy_client_then_a_retry(served):
    env, url, demo = served
    request = anna_open_request(demo)
    done = run(
        env,
        "call",
        "--url",
        url,
        "--from",
        ANNA,
        "--press",
        f"{request['number']}#",
        "--dial-result",
        "busy",
        "--press",
        "1",
        "--dial-result",
        "answered",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    busy = lines.index("Client leg: busy")
    assert any(line.startswith("Bridged") for line in lines[busy:])
    output = done.stdout + done.stderr
    assert [form for form in forms_of(request["client_phone"]) if form in output] == []


def test_call_with_an_unreachable_client_ends_politely(served):
    env, url, demo = served
    request = anna_open_request(demo)
    done = run(
        env,
        "call",
        "--url",
        url,
        "--from",
        ANNA,
        "--press",
        f"{request['number']}#",
        "--dial-result",
        "no-answer",
    )
    assert done.returncode == 0, done.stderr
    assert "Client leg: no-answer" in done.stdout
    assert "Bridged" not in done.stdout
    assert "ended by the IVR" in done.stdout


def test_call_against_no_server_fails_with_exit_one(tmp_path):
    done = run(
        cli_env(tmp_path),
        "call",
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "--from",
        ANNA,
        "--press",
        "1#",
    )
    assert done.returncode == 1
    assert done.stderr.startswith("ivr call:")


def first_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.splitlines()[0]


@pytest.mark.parametrize("typed", ["8 999 000-00-01", "8 (999) 000 00 01", "+7 999 000 00 01"])
def test_call_from_a_russian_number_typed_the_usual_way_is_read_as_e164(served, typed):
    env, url, demo = served
    request = anna_open_request(demo)
    done = run(env, "call", "--url", url, "--from", typed, "--press", f"{request['number']}#")
    assert done.returncode == 0, done.stderr
    assert first_line(done) == (f"Calling +15005550006 from {ANNA} via {url} (config language: en)")
    assert "Bridged" in done.stdout


@pytest.mark.parametrize("typed", ["12", "call me"])
def test_call_from_an_unreadable_number_exits_two_naming_from(tmp_path, typed):
    url = f"http://127.0.0.1:{free_port()}"
    done = run(cli_env(tmp_path), "call", "--url", url, "--from", typed, "--press", "1#")
    assert done.returncode == 2
    assert done.stderr.startswith(f"ivr call: --from {typed!r}: ")
    assert "Calling" not in done.stdout


def test_interactive_call_reads_the_caller_typed_at_the_prompt(served):
    env, url, demo = served
    request = anna_open_request(demo)
    # A terminal for stdin: `ivr call` without flags asks, reading one line per question.
    terminal, stdin = pty.openpty()
    typed = ["call me maybe", "8 (999) 000 00 01", f"{request['number']}#", "a"]
    os.write(terminal, "".join(f"{line}\n" for line in typed).encode())
    try:
        done = subprocess.run(
            [str(IVR), "call", "--url", url],
            env=env,
            cwd=env["HOME"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(stdin)
        os.close(terminal)
    assert done.returncode == 0, done.stderr
    assert "'call me maybe': enter a phone number such as" in done.stdout
    assert f"Calling +15005550006 from {ANNA} via {url} (config language: en)" in done.stdout
    assert "Bridged" in done.stdout


def test_call_prints_the_sentences_of_the_language_the_server_speaks(seeded):
    env, _, first, _ = seeded
    request = anna_open_request(json.loads(first.stdout))
    with serving(Path(env["HOME"]), {**env, "IVR_LANGUAGE": "ru"}, name="serve-ru") as (_, url):
        done = run(env, "call", "--url", url, "--from", ANNA, "--press", f"{request['number']}#")
    assert done.returncode == 0, done.stderr
    # The CLI's own config says en, and its first line says whose language that is.
    assert first_line(done).endswith("(config language: en)")
    assert (
        f"IVR plays enter_number.wav: {PROMPTS['enter_number']['ru']}" in done.stdout.splitlines()
    )


def test_invalid_config_fails_at_start_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("ivr:\n  max_attempts: 0\n")
    done = run(cli_env(tmp_path, IVR_CONFIG=str(config)), "migrate")
    assert done.returncode == 2
    assert "ivr.max_attempts" in done.stderr
    assert not (tmp_path / "cli.sqlite3").exists()


async def ivr(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`ivr ARGS` against the test's database, off the event loop that serves the app."""
    return await asyncio.to_thread(run, cli_env(tmp_path, IVR_DATABASE_URL=database_url), *args)


async def key_with_prefix(sessions, plain: str) -> ApiKey:
    async with sessions() as session:
        return await session.scalar(select(ApiKey).where(ApiKey.prefix == plain[:12]))


async def api_key_audit(sessions) -> list[tuple]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                AuditEntry.action,
                AuditEntry.actor,
                AuditEntry.user_id,
                AuditEntry.entity_id,
                AuditEntry.details,
            )
            .where(AuditEntry.entity == "api_key")
            .order_by(AuditEntry.id)
        )
        return [
            (action, actor, user, entity, json.loads(details))
            for action, actor, user, entity, details in rows
        ]


async def test_api_key_issue_prints_a_working_key_once_and_revoke_stops_it(
    server, http, sessions, demo, database_url, tmp_path
):
    issued = await ivr(
        tmp_path, database_url, "api-key", "issue", "--email", AGENT.upper(), "--name", "site"
    )
    assert issued.returncode == 0, issued.stderr
    plain, notice, *_ = issued.stdout.splitlines()
    assert plain.startswith("ivr_") and " " not in plain
    key = await key_with_prefix(sessions, plain)
    assert (key.name, key.revoked_at) == ("site", None)
    assert f"API key {key.id} ({key.prefix}…" in notice and AGENT in notice
    assert "will not be shown again" in notice
    api = Api(http, str(server.make_url("")), plain)
    listed = await api.get("/api/v1/clients")
    assert listed.status == 200 and listed.json["total"] == 2

    revoked = await ivr(tmp_path, database_url, "api-key", "revoke", str(key.id))
    assert revoked.returncode == 0, revoked.stderr
    assert f"API key {key.id} ({key.prefix}…" in revoked.stdout and "revoked" in revoked.stdout
    assert (await api.get("/api/v1/clients")).status == 401
    assert await api_key_audit(sessions) == [
        ("issue", OPERATOR, None, str(key.id), {"user_id": key.user_id, "name": "site"}),
        ("revoke", OPERATOR, None, str(key.id), {}),
    ]


async def test_api_key_revoked_twice_says_so_and_changes_nothing(
    sessions, demo, database_url, tmp_path
):
    issued = await ivr(tmp_path, database_url, "api-key", "issue", "--email", MANAGER)
    assert issued.returncode == 0, issued.stderr
    key = await key_with_prefix(sessions, issued.stdout.splitlines()[0])
    assert key.name == "ivr command"
    first = await ivr(tmp_path, database_url, "api-key", "revoke", str(key.id))
    assert first.returncode == 0, first.stderr
    revoked_at = (await key_with_prefix(sessions, key.prefix)).revoked_at
    assert revoked_at is not None

    again = await ivr(tmp_path, database_url, "api-key", "revoke", str(key.id))
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith(f"ivr api-key revoke: API key {key.id} ")
    assert "already revoked" in again.stderr and "nothing changed" in again.stderr
    assert (await key_with_prefix(sessions, key.prefix)).revoked_at == revoked_at
    assert [row[0] for row in await api_key_audit(sessions)] == ["issue", "revoke"]


async def test_api_key_revoke_of_an_unknown_id_exits_two(sessions, demo, database_url, tmp_path):
    done = await ivr(tmp_path, database_url, "api-key", "revoke", "987654")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "ivr api-key revoke: no API key with id 987654\n"
    assert await api_key_audit(sessions) == []


@pytest.mark.parametrize(
    ("email", "name", "problem"),
    [
        ("nobody@example.com", "site", "no user with email nobody@example.com"),
        (MANAGER, "site", f"the account {MANAGER} is disabled"),
        (AGENT, "   ", "name the key after who will use it"),
    ],
)
async def test_api_key_issue_refused_exits_two_naming_the_problem(
    sessions, demo, database_url, tmp_path, email, name, problem
):
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.email == MANAGER).values(is_active=False))
    done = await ivr(tmp_path, database_url, "api-key", "issue", "--email", email, "--name", name)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("ivr api-key issue: ") and problem in done.stderr
    async with sessions() as session:
        assert (await session.scalars(select(ApiKey))).all() == []
    assert await api_key_audit(sessions) == []
