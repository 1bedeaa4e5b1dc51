"""What a flow needs from this request: settings, absolute step URLs, the voice."""

from __future__ import annotations

from aiohttp import web

from ivr.config import Config
from ivr.flows.manager_call import Context, Settings, Urls
from ivr.flows.prompts import PROMPTS
from ivr.flows.voice import Voice
from ivr.keys import CONFIG, url_for
from ivr.sounds import Recordings

RECORDINGS = web.AppKey("recordings", Recordings)
"""The recorded prompts; voice-only (the CRM never loads `ivr.sounds`), set by `create_app`."""
CONTEXTS: web.AppKey[dict[str, Context]] = web.AppKey("flow_contexts")
"""The flow's context per public base URL: the config is frozen, so it is built once."""
MAX_CONTEXTS = 8
"""Bases seen behind a trusted proxy (one or two in practice); past this, none is kept."""


def public_base(request: web.Request, config: Config) -> str:
    """scheme://host as callers see it: the proxy's headers if trusted, else the config.

    Of a list, the last value is the one the trusted proxy added (anything before it came
    from the client), as for X-Forwarded-For in `crm.web.client_address`.
    """
    if config.trust_proxy:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip()
        host = request.headers.get("X-Forwarded-Host", "").split(",")[-1].strip()
        return f"{proto or request.scheme}://{host or request.host}"
    if config.public_url:
        return config.public_url
    return f"{request.scheme}://{request.host}"


def voice_for(request: web.Request) -> Voice:
    return flow_context(request).voice


def flow_context(request: web.Request) -> Context:
    """The settings, step URLs and voice of the flow, as this request's public base has them."""
    base = public_base(request, request.config_dict[CONFIG])
    contexts = request.config_dict[CONTEXTS]
    context = contexts.get(base)
    if context is None:
        context = _build_context(request, base)
        if len(contexts) < MAX_CONTEXTS:
            contexts[base] = context
    return context


def _voice(request: web.Request, base: str) -> Voice:
    config = request.config_dict[CONFIG]
    language = config.ivr.language
    recordings = request.config_dict[RECORDINGS]
    urls = {
        key: base + url_for(request, "ivr.sound", language=language, key=key)
        for key in PROMPTS
        if recordings.path(language, key) is not None
    }
    return Voice(language=language, voice=config.ivr.voice, recordings=urls)


def _build_context(request: web.Request, base: str) -> Context:
    config = request.config_dict[CONFIG]
    settings = Settings(
        service_number=config.twilio.service_number,
        gather_timeout=config.ivr.gather_timeout,
        max_attempts=config.ivr.max_attempts,
        max_dials=config.ivr.max_dials,
        dial_timeout=config.ivr.dial_timeout,
        dial_time_limit=config.ivr.dial_time_limit,
        whisper_timeout=config.ivr.whisper_timeout,
    )
    urls = Urls(
        number=base + url_for(request, "ivr.number"),
        no_input=base + url_for(request, "ivr.no_input"),
        dial_result=base + url_for(request, "ivr.dial_result"),
        whisper=base + url_for(request, "ivr.whisper"),
        whisper_answer=base + url_for(request, "ivr.whisper_answer"),
        after_unreachable=base + url_for(request, "ivr.after_unreachable"),
        callback_whisper=base + url_for(request, "ivr.callback_whisper"),
        callback_whisper_answer=base + url_for(request, "ivr.callback_whisper_answer"),
        callback_result=base + url_for(request, "ivr.callback_result"),
        recording=base + url_for(request, "ivr.recording"),
    )
    return Context(settings=settings, voice=_voice(request, base), urls=urls)
