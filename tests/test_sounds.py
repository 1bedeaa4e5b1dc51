"""Recorded prompts: one per catalogue key and language, used only while they match the text."""

from __future__ import annotations

import json
import shutil
import wave

import pytest
from twilio.twiml.voice_response import VoiceResponse

from ivr.app import create_app
from ivr.flows.prompts import LANGUAGES, PROMPTS, text
from ivr.flows.voice import Voice
from ivr.simulator import new_sid
from ivr.sounds import MANIFEST, SOUNDS_DIR, Recordings, render
from tests.helpers import ANNA, signed_post
from tests.twiml import parse, spoken


@pytest.fixture
def stale_rules(tmp_path):
    """A copy of sounds/ whose manifest says rules.wav (English) was rendered from old text."""
    folder = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["en/rules"] = "0" * 16
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return Recordings.load(folder)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_has_a_current_recording(language):
    recordings = Recordings.load()
    missing = [key for key in PROMPTS if recordings.path(language, key) is None]
    assert missing == []


def test_recordings_are_telephone_quality_wav():
    recordings = Recordings.load()
    for language in LANGUAGES:
        for key in PROMPTS:
            with wave.open(str(recordings.path(language, key))) as audio:
                assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)
                assert audio.getnframes() > 8000 * 0.5


def test_unknown_key_or_language_has_no_recording():
    recordings = Recordings.load()
    assert recordings.path("en", "no_such_prompt") is None
    assert recordings.path("de", "rules") is None
    assert recordings.path("en", "../manifest") is None


def test_stale_recording_is_not_current(stale_rules):
    assert stale_rules.path("en", "rules") is None
    assert stale_rules.path("ru", "rules") is not None
    assert stale_rules.path("en", "enter_number") is not None


def test_recording_without_its_file_is_not_current(tmp_path):
    folder = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, folder)
    (folder / "en" / "goodbye.wav").unlink()
    recordings = Recordings.load(folder)
    assert recordings.path("en", "goodbye") is None
    assert recordings.path("ru", "goodbye") is not None


def test_missing_manifest_means_no_recordings(tmp_path):
    folder = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, folder)
    (folder / MANIFEST).unlink()
    assert Recordings.load(folder).current == frozenset()


def test_current_recording_is_played_and_a_missing_one_said():
    voice = Voice(
        language="ru", voice="alice", recordings={"rules": "https://ivr.test/sounds/ru/rules.wav"}
    )
    response = VoiceResponse()
    voice.speak(response, "rules", "enter_number")
    play, say = parse(response)
    assert (play.tag, play.text) == ("Play", "https://ivr.test/sounds/ru/rules.wav")
    assert (say.tag, say.text, say.get("language")) == ("Say", text("enter_number", "ru"), "ru-RU")


async def test_stale_recording_is_said_the_rest_played(
    aiohttp_server, http, config, engine, demo, stale_rules
):
    server = await aiohttp_server(create_app(config, recordings=stale_rules))
    base = str(server.make_url(""))
    status, _, body = await signed_post(
        http, base, "/ivr/voice", {"CallSid": new_sid(), "From": ANNA}
    )
    gather = parse(body).find("Gather")
    assert status == 200
    assert [child.tag for child in gather] == ["Say", "Play"]
    assert gather.find("Say").text == text("rules", "en")
    assert gather.find("Play").text == str(server.make_url("/sounds/en/enter_number.wav"))
    assert spoken(gather) == ["rules", "enter_number"]
    async with http.get(server.make_url("/sounds/en/rules.wav")) as reply:
        assert reply.status == 404
    async with http.get(server.make_url("/sounds/en/enter_number.wav")) as reply:
        assert (reply.status, reply.content_type) == (200, "audio/wav")


def test_render_writes_every_prompt_then_nothing(tmp_path):
    folder = tmp_path / "sounds"
    written = render(folder)
    assert sorted(written) == sorted(f"{lang}/{key}" for lang in LANGUAGES for key in PROMPTS)
    expected = len(PROMPTS) * len(LANGUAGES)
    assert len(written) == expected
    assert len(list(folder.glob("*/*.wav"))) == expected
    assert Recordings.load(folder).current == {(lang, key) for lang in LANGUAGES for key in PROMPTS}
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*.wav")}
    assert render(folder) == []
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*.wav")} == before


def test_render_redoes_only_a_stale_prompt(tmp_path):
    folder = tmp_path / "sounds"
    shutil.copytree(SOUNDS_DIR, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["ru/goodbye"] = "0" * 16
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert render(folder) == ["ru/goodbye"]
    assert Recordings.load(folder).path("ru", "goodbye") is not None
