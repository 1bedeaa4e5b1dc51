"""The ceiling: a bare aiohttp app answering fixed TwiML, optionally checking the signature.

`python -m bench.bare --port P [--validator TOKEN]`; no database, no logging, no flow.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from twilio.request_validator import RequestValidator

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/ivr/number" '
    'finishOnKey="#" timeout="6"><Say voice="alice">Enter the request number.</Say>'
    "</Gather></Response>"
)


def create_bare_app(token: str | None) -> web.Application:
    validator = RequestValidator(token) if token else None

    async def voice(request: web.Request) -> web.Response:
        form = await request.post()
        if validator is not None:
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(str(request.url), dict(form), signature):
                return web.Response(status=403)
        return web.Response(text=TWIML, content_type="text/xml")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/ivr/{step}", voice)
    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--validator", help="the auth token to check signatures with")
    args = parser.parse_args()
    web.run_app(
        create_bare_app(args.validator),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
