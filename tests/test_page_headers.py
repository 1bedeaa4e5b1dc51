"""Every CRM page forbids framing, sniffing and caching, and loads nothing inline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm.web import HERE

pytest_plugins = ("tests.crm_fixtures",)

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)


def assert_page_headers(headers) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (name, headers.get(name))
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    ("path", "status"),
    [("/login", 200), ("/no-such-page", 404), ("/clients", 200), ("/requests/12345678", 404)],
)
async def test_pages_and_error_pages_carry_the_security_headers_other_areas_not(
    agent, path, status
):
    async with agent.http.get(agent.base_url + path, allow_redirects=False) as reply:
        assert reply.status == status
        assert_page_headers(reply.headers)
    # The pages' area only: the API and the root's routes keep their own headers.
    for other in ("/api/v1/clients", "/healthz"):
        async with agent.http.get(agent.base_url + other) as reply:
            assert "Content-Security-Policy" not in reply.headers, other


async def test_redirects_and_refusals_of_pages_carry_them_too(browser):
    anonymous = await browser()
    async with anonymous.http.get(anonymous.base_url + "/clients", allow_redirects=False) as reply:
        assert reply.status == 303
        assert_page_headers(reply.headers)
    async with anonymous.http.post(
        anonymous.base_url + "/login", data={"email": "x"}, allow_redirects=False
    ) as reply:
        assert reply.status == 403
        assert_page_headers(reply.headers)


def test_no_template_has_an_inline_script_style_or_handler():
    found = {
        template.name: INLINE.findall(template.read_text())
        for template in sorted(Path(HERE, "templates").glob("*.html"))
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
