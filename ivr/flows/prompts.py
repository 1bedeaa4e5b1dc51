"""The prompt catalogue: every sentence the IVR speaks, per language, keyed as in `sounds/`."""

from __future__ import annotations

LANGUAGES = ("en", "ru")
SAY_LANGUAGE = {"en": "en-US", "ru": "ru-RU"}

PROMPTS: dict[str, dict[str, str]] = {
    "unknown_caller": {
        "en": "This line is for registered partner managers only. Goodbye.",
        "ru": "Эта линия только для зарегистрированных менеджеров партнёров. До свидания.",
    },
    "access_ended": {
        "en": "Your access to this line has ended. Goodbye.",
        "ru": "Ваш доступ к этой линии закрыт. До свидания.",
    },
    "line_locked": {
        "en": "Too many wrong request numbers were entered from this number or by your "
        "account, so the line is locked for you for now. Please contact the platform's "
        "administrator. Goodbye.",
        "ru": "С этого номера или с вашей учётной записи набрано слишком много неверных "
        "номеров заявок, поэтому линия для вас временно заблокирована. Обратитесь к "
        "администратору платформы. До свидания.",
    },
    "rules": {
        "en": "Welcome to the partner line. Rules of communication: introduce yourself and "
        "your company, speak with the client only about their request, and do not ask for "
        "the client's phone number. Every call is recorded in the request history.",
        "ru": "Вас приветствует линия партнёров. Правила общения: представьтесь и назовите "
        "компанию, говорите с клиентом только о его заявке и не спрашивайте номер его "
        "телефона. Каждый звонок записывается в историю заявки.",
    },
    "recording_notice": {
        "en": "Your company records conversations with clients: the client is told before "
        "the call is put through.",
        "ru": "Ваша компания записывает разговоры с клиентами: клиента предупредят до соединения.",
    },
    "enter_number": {
        "en": "To call the client, enter the request number, then press hash.",
        "ru": "Чтобы позвонить клиенту, наберите номер заявки и нажмите решётку.",
    },
    "no_input": {
        "en": "We did not receive a request number.",
        "ru": "Мы не получили номер заявки.",
    },
    "invalid_number": {
        "en": "That number is not valid.",
        "ru": "Этот номер недействителен.",
    },
    "not_found": {
        "en": "No request with that number was found.",
        "ru": "Заявка с таким номером не найдена.",
    },
    "request_closed": {
        "en": "This request is closed.",
        "ru": "Эта заявка закрыта.",
    },
    "enter_another": {
        "en": "You may enter another request number, then press hash.",
        "ru": "Вы можете набрать другой номер заявки и нажать решётку.",
    },
    "too_many_attempts": {
        "en": "Too many unsuccessful attempts. Please check the request number and call "
        "again. Goodbye.",
        "ru": "Слишком много неудачных попыток. Проверьте номер заявки и позвоните снова. "
        "До свидания.",
    },
    "too_many_dials": {
        "en": "Please try to reach the client later. Goodbye.",
        "ru": "Пожалуйста, попробуйте связаться с клиентом позже. До свидания.",
    },
    "connecting": {
        "en": "Connecting you to the client. Please hold.",
        "ru": "Соединяем с клиентом. Пожалуйста, оставайтесь на линии.",
    },
    "client_whisper": {
        "en": "Hello. A partner manager is calling about your request. Press any key to "
        "accept the call.",
        "ru": "Здравствуйте. Вам звонит менеджер партнёра по вашей заявке. Чтобы принять "
        "звонок, нажмите любую клавишу.",
    },
    "client_whisper_recorded": {
        "en": "Hello. A partner manager is calling about your request. The conversation will "
        "be recorded. Press any key to accept the call.",
        "ru": "Здравствуйте. Вам звонит менеджер партнёра по вашей заявке. Разговор будет "
        "записан. Чтобы принять звонок, нажмите любую клавишу.",
    },
    "client_unreachable": {
        "en": "The client could not be reached.",
        "ru": "Клиент недоступен.",
    },
    "unreachable_options": {
        "en": "Press 1 to try again. Press 2 to enter another request number.",
        "ru": "Нажмите 1, чтобы повторить звонок. Нажмите 2, чтобы набрать другой номер заявки.",
    },
    "invalid_choice": {
        "en": "That key is not one of the choices.",
        "ru": "Такого варианта нет.",
    },
    "call_ended": {
        "en": "The call with the client has ended. Goodbye.",
        "ru": "Разговор с клиентом завершён. До свидания.",
    },
    "callback_connecting": {
        "en": "Connecting you to the manager. Please hold.",
        "ru": "Соединяем с менеджером. Пожалуйста, оставайтесь на линии.",
    },
    "callback_missed": {
        "en": "The manager cannot take your call right now. The partner will call you back. "
        "Goodbye.",
        "ru": "Менеджер сейчас не может ответить. Партнёр вам перезвонит. До свидания.",
    },
    "callback_nothing_open": {
        "en": "We could not find a request to put you through about. Your agent or the "
        "partner will contact you. Goodbye.",
        "ru": "Мы не нашли заявку, по которой можно вас соединить. С вами свяжется ваш агент "
        "или партнёр. До свидания.",
    },
    "callback_several": {
        "en": "We cannot tell which of your requests you are calling about. Please contact "
        "your agent, or wait for the partner's call. Goodbye.",
        "ru": "Мы не можем определить, по какой из ваших заявок вы звоните. Пожалуйста, "
        "обратитесь к вашему агенту или дождитесь звонка партнёра. До свидания.",
    },
    "goodbye": {
        "en": "Thank you for calling. Goodbye.",
        "ru": "Спасибо за звонок. До свидания.",
    },
    "error": {
        "en": "Sorry, something went wrong on our side. Please call again later.",
        "ru": "Извините, у нас произошла ошибка. Пожалуйста, позвоните позже.",
    },
}


TEMPLATES: dict[str, dict[str, str]] = {
    "callback_greeting": {
        "en": "Hello. You are calling back {company} about your request: {product}.",
        "ru": "Здравствуйте. Вы перезваниваете в компанию {company} по вашей заявке: {product}.",
    },
    "callback_whisper": {
        "en": "A client is calling back about request {number}. Press any key to accept the call.",
        "ru": "Вам перезванивает клиент по заявке {number}. Чтобы принять звонок, нажмите "
        "любую клавишу.",
    },
}
"""Sentences with a name or a number in them: said by <Say>, never recorded."""


def text(key: str, language: str) -> str:
    """The sentence for `key` in `language`."""
    return PROMPTS[key][language]
