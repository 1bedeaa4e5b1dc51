"""What a flow needs from this request: settings, absolute step URLs, the voice."""

from __future__ import annotations

from aiohttp import web

from ivr.config import Config
from ivr.flows.manager_call import Context, Settings, Urls
from ivr.flows.prompts import PROMPTS
from ivr.flows.voice import Voice
from ivr.keys import CONFIG, RECORDINGS


def public_base(request: web.Request, config: Config) -> str:
    """scheme://host as callers see it: the proxy's headers if trusted, else the config."""
    if config.trust_proxy:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        return f"{proto or request.scheme}://{host or request.host}"
    if config.public_url:
        return config.public_url
    return f"{request.scheme}://{request.host}"


def absolute_url(request: web.Request, route: str, **parts: str) -> str:
    path = request.app.router[route].url_for(**parts)
    return public_base(request, request.app[CONFIG]) + str(path)


def voice_for(request: web.Request) -> Voice:
    config = request.app[CONFIG]
    language = config.ivr.language
    recordings = request.app[RECORDINGS]
    urls = {
        key: absolute_url(request, "ivr.sound", language=language, key=key)
        for key in PROMPTS
        if recordings.path(language, key) is not None
    }
    return Voice(language=language, voice=config.ivr.voice, recordings=urls)


def flow_context(request: web.Request) -> Context:
    config = request.app[CONFIG]
    settings = Settings(
        service_number=config.twilio.service_number,
        gather_timeout=config.ivr.gather_timeout,
        max_attempts=config.ivr.max_attempts,
        dial_timeout=config.ivr.dial_timeout,
        dial_time_limit=config.ivr.dial_time_limit,
        whisper_timeout=config.ivr.whisper_timeout,
    )
    urls = Urls(
        number=absolute_url(request, "ivr.number"),
        no_input=absolute_url(request, "ivr.no_input"),
        dial_result=absolute_url(request, "ivr.dial_result"),
        whisper=absolute_url(request, "ivr.whisper"),
        whisper_answer=absolute_url(request, "ivr.whisper_answer"),
        after_unreachable=absolute_url(request, "ivr.after_unreachable"),
    )
    return Context(settings=settings, voice=voice_for(request), urls=urls)
