"""The API answers in its caller's language: the key owner's own choice, else the
`Accept-Language` header, else `web.language`; the error codes never change."""

from __future__ import annotations

from sqlalchemy import update

from crm.auth.models import User
from tests.api_helpers import AGENT, NEW_CLIENT, Api, Apis

pytest_plugins = ("tests.api_fixtures",)

WRONG_CLIENT = {**NEW_CLIENT, "phone": "12345", "email": "nobody"}
"""A client with a wrong phone and email, and no `last_name`: a pydantic "missing" too."""
del WRONG_CLIENT["last_name"]


async def wrong_client(api: Api, language: str | None = None):
    headers = {"Accept-Language": language} if language else None
    reply = await api.post("/api/v1/clients", json=WRONG_CLIENT, headers=headers)
    assert reply.status == 422, reply.text
    return reply


async def choose_language(apis: Apis, email: str, language: str) -> None:
    async with apis.sessions.begin() as session:
        await session.execute(update(User).where(User.email == email).values(language=language))


async def test_the_same_wrong_call_answers_in_the_headers_language(api_agent):
    russian = await wrong_client(api_agent, "ru-RU,ru;q=0.9,en;q=0.5")
    english = await wrong_client(api_agent, "en")
    assert russian.json["error"]["code"] == english.json["error"]["code"] == "invalid"
    assert set(russian.fields) == set(english.fields) == {"phone", "email", "last_name"}
    assert english.json["error"]["message"] == "check the fields named in `fields`"
    assert english.fields["phone"] == "this is not a valid phone number"
    assert english.fields["email"] == "enter a valid email address"
    assert english.fields["last_name"] == "Field required"
    assert russian.json["error"]["message"] == "проверьте поля, перечисленные в `fields`"
    assert russian.fields["phone"] == "это неправильный номер телефона"
    assert russian.fields["email"] == "введите правильный адрес эл. почты"
    assert russian.fields["last_name"] == "Обязательное поле"


async def test_without_a_header_the_configured_language_answers(api_agent):
    reply = await wrong_client(api_agent)
    assert reply.fields["last_name"] == "Field required"  # the tests' web.language: en


async def test_a_pydantic_limit_is_translated_with_its_number(api_agent):
    long_name = {**NEW_CLIENT, "first_name": "x" * 101}
    russian = await api_agent.post(
        "/api/v1/clients", json=long_name, headers={"Accept-Language": "ru"}
    )
    english = await api_agent.post(
        "/api/v1/clients", json=long_name, headers={"Accept-Language": "en"}
    )
    assert english.fields["first_name"] == "String should have at most 100 characters"
    assert russian.fields["first_name"] == "Строка должна содержать не более 100 символов"


async def test_the_key_owners_own_choice_wins_over_the_header(apis):
    await choose_language(apis, AGENT, "ru")
    api = await apis.as_user(AGENT)
    for header in (None, "en"):
        reply = await wrong_client(api, header)
        assert reply.json["error"]["code"] == "invalid"
        assert reply.fields["last_name"] == "Обязательное поле"
        assert reply.fields["phone"] == "это неправильный номер телефона"
    missing = await api.get("/api/v1/clients/999999")
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"
    assert missing.json["error"]["message"] == "здесь ничего нет, или это не ваше"


async def test_calls_without_a_key_answer_in_the_headers_language(apis):
    anonymous = apis.with_key(None)
    russian = await anonymous.get("/api/v1/clients", headers={"Accept-Language": "ru"})
    english = await anonymous.get("/api/v1/clients", headers={"Accept-Language": "en"})
    assert russian.status == english.status == 401
    assert russian.json["error"]["code"] == english.json["error"]["code"] == "unauthorized"
    assert english.json["error"]["message"] == ("send the API key as `Authorization: Bearer <key>`")
    assert russian.json["error"]["message"] == (
        "передайте API-ключ в заголовке `Authorization: Bearer <key>`"
    )
    unknown = await apis.with_key("ivr_nonsense").get(
        "/api/v1/clients", headers={"Accept-Language": "ru"}
    )
    assert unknown.json["error"]["message"] == "этот API-ключ неизвестен или отозван"
    route = await anonymous.get("/api/v1/no-such-route", headers={"Accept-Language": "ru"})
    assert route.status == 404 and route.json["error"]["code"] == "not_found"
    assert route.json["error"]["message"] == "такого маршрута API нет"


async def test_the_public_sign_up_routes_answer_in_the_headers_language(apis):
    anonymous = apis.with_key(None)
    russian = await anonymous.post(
        "/api/v1/signup/code", json={"phone": "12"}, headers={"Accept-Language": "ru"}
    )
    english = await anonymous.post(
        "/api/v1/signup/code", json={"phone": "12"}, headers={"Accept-Language": "en"}
    )
    assert russian.status == english.status == 422
    assert russian.json["error"]["code"] == english.json["error"]["code"] == "invalid"
    assert english.fields["phone"] == "this is not a valid phone number"
    assert russian.fields["phone"] == "это неправильный номер телефона"
