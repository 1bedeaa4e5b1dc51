"""Client numbers sent in URLs (queries, Referer, paths) never reach the log, encoded or not."""

from __future__ import annotations

import phonenumbers
import pytest
from yarl import URL

from crm.demo import CLIENTS
from ivr.app import create_app
from ivr.logging import hide_query_values, mask_phone
from tests.api_helpers import AGENT, issue_key
from tests.crm_client import AGENT as AGENT_LOGIN
from tests.crm_client import CrmClient
from tests.logcapture import captured_logs

pytest_plugins = ("tests.crm_fixtures",)


def sent_forms(phone: str) -> list[str]:
    """How a number travels in a URL: E.164, %2B-encoded, bare digits, national, its tail."""
    national = str(phonenumbers.parse(phone).national_number)
    return [phone, "%2B" + phone[1:], "%2b" + phone[1:], phone[1:], national, national[-7:]]


def leaked_forms(phone: str) -> set[str]:
    return {*sent_forms(phone), phone.replace("+", "%2B")}


def urls_with(form: str) -> list[str]:
    """Pages and API calls carrying `form` in the query string, and in a path.

    A 7-digit tail in a path stays: there it cannot be told from an id.
    """
    queries = [
        f"/clients?q={form}",
        f"/clients?q={form}&page=2",
        f"/login?next=%2Fclients%3Fq%3D{form}",
        f"/api/v1/clients?search={form}",
        f"/api/v1/clients?per_page=5&search={form}",
    ]
    paths = [f"/no-such-page/{form}", f"/api/v1/clients/{form}"]
    return queries + (paths if len(form.lstrip("+")) > 7 else [])


@pytest.fixture
async def logged_server(aiohttp_server, config, engine, demo):
    """The service with the real logging configured before it starts, like `ivr serve`."""
    with captured_logs(level="debug") as stream:
        server = await aiohttp_server(create_app(config))
        yield server, stream


async def test_no_demo_client_number_in_queries_or_referers_reaches_the_log(
    logged_server, sessions
):
    server, stream = logged_server
    base = str(server.make_url("")).rstrip("/")
    agent = CrmClient(base)
    try:
        assert (await agent.login(*AGENT_LOGIN)).path == "/requests"
        key = await issue_key(sessions, AGENT)
        sent = 0
        for client in CLIENTS:
            for form in sent_forms(client["phone"]):
                for path in urls_with(form):
                    headers = {"Referer": f"{base}/clients?q={form}"}
                    if path.startswith("/api/"):
                        headers["Authorization"] = f"Bearer {key}"
                    url = URL(base + path, encoded=True)
                    async with agent.http.get(url, headers=headers) as reply:
                        assert reply.status < 500, (path, reply.status)
                        sent += 1
    finally:
        await agent.close()
    output = stream.getvalue()
    assert output.count('"logger": "aiohttp.access"') >= sent
    forms = set().union(*(leaked_forms(client["phone"]) for client in CLIENTS))
    assert [line for line in output.splitlines() if any(form in line for form in forms)] == []
    assert "/clients?q=…" in output and "search=…" in output


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("q=%2B79161234567", "q=+7******4567"),
        ("q=%2b79161234567&page=2", "q=+7******4567&page=2"),
        ("next=%2Fclients%3Fq%3D%2B79161234567", "next=%2Fclients%3Fq%3D+7******4567"),
        ("next=%2Fclients%3Fq%3D79161234567", "next=%2Fclients%3Fq%3D7******4567"),
        ("q=%2B7%20916%20123-45-67", "q=+7******4567"),
        ("/clients/%2B79161234567 HTTP/1.1", "/clients/+7******4567 HTTP/1.1"),
        ("q%3D%2B79161234567%26request%3D12345678", "q%3D+7******4567%26request%3D12345678"),
    ],
)
def test_url_encoded_numbers_are_masked_and_request_numbers_kept(text, masked):
    assert mask_phone(text) == masked


def test_access_lines_keep_query_names_not_values():
    line = (
        '127.0.0.1 "GET /clients?q=1234567&page=2&%2B7916=1 HTTP/1.1" 200 '
        '"http://crm/clients?q=%2B79161234567" "agent"'
    )
    assert hide_query_values(line) == (
        '127.0.0.1 "GET /clients?q=…&page=…&… HTTP/1.1" 200 "http://crm/clients?q=…" "agent"'
    )
