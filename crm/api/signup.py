"""Agent sign-up by phone, for a platform site's own form: no API key needed."""

from __future__ import annotations

from aiohttp import web

from crm.api.http import V1, json_body, respond
from crm.api.openapi import operation
from crm.api.schemas import CodeSentOut, SignedUpOut, SignupTokenOut
from crm.schemas import SignupCompleteIn, SignupPhoneIn, SignupVerifyIn, parse
from crm.signup.edge import check_code, send_code
from crm.signup.service import complete_signup
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS

routes = web.RouteTableDef()
PUBLIC = frozenset({"api.signup.code", "api.signup.verify", "api.signup.complete"})


@routes.post(f"{V1}/signup/code", name="api.signup.code")
@operation(
    "Send a sign-up code to a phone by SMS",
    tag="signup",
    answer=CodeSentOut,
    status=202,
    body=SignupPhoneIn,
    public=True,
    errors=(409, 429, 502, 503),
    description="One code per phone per `resend_after` seconds, a few per phone and per "
    "client address a day, and a ceiling for the whole service: past a limit the answer is "
    "429 (or 503 while sign-up is suspended) with `Retry-After`. A phone that has an account "
    "answers 409 and gets no code. 502: the SMS provider did not take the message; nothing "
    "was counted.",
)
async def code(request: web.Request) -> web.Response:
    data = parse(SignupPhoneIn, await json_body(request))
    sent = await send_code(request, data.phone)
    return respond(
        CodeSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after), status=202
    )


@routes.post(f"{V1}/signup/verify", name="api.signup.verify")
@operation(
    "Check the code and get a sign-up token",
    tag="signup",
    answer=SignupTokenOut,
    body=SignupVerifyIn,
    public=True,
    errors=(410,),
    description="A wrong code answers 422 with `attempts_left`; after the last wrong try, "
    "or once the code expired or was used, the answer is 410: request a new code.",
)
async def verify(request: web.Request) -> web.Response:
    data = parse(SignupVerifyIn, await json_body(request))
    token = await check_code(request, data.phone, data.code)
    return respond(SignupTokenOut(signup_token=token))


@routes.post(f"{V1}/signup/complete", name="api.signup.complete")
@operation(
    "Open the agent's account for a verified phone",
    tag="signup",
    answer=SignedUpOut,
    status=201,
    body=SignupCompleteIn,
    public=True,
    errors=(409, 410),
    description="The agent can log in at once. The token is spent only when the account is "
    "made: a refused field keeps it usable. 410: the token was used or expired. With `inn` "
    "the agent's own organization is found through DaData and created, or joined when "
    "another agent gave it (then pending: a member or an admin confirms them before they "
    "see its data); when DaData cannot tell, `organization_name` stores it typed "
    "by hand (not verified), and without one the answer is 422 naming `organization_name` "
    "(DaData unavailable, with the reason) or `inn` (unknown).",
)
async def complete(request: web.Request) -> web.Response:
    data = parse(SignupCompleteIn, await json_body(request))
    done = await complete_signup(
        request.config_dict[SESSIONS],
        data=data,
        now=request.config_dict[CLOCK](),
        http=request.config_dict[HTTP],
        dadata=request.config_dict[CONFIG].dadata,
    )
    actor = done.actor
    return respond(
        SignedUpOut(
            user_id=actor.user_id,
            agent_id=done.agent_id,
            email=actor.email,
            name=actor.name,
            phone=done.phone,
        ),
        status=201,
    )
