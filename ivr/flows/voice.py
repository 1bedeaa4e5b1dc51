"""How a prompt is voiced: a recording from `sounds/` when one is current, `<Say>` otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.flows.prompts import SAY_LANGUAGE, TEMPLATES, text


@dataclass(frozen=True)
class Voice:
    language: str
    voice: str
    recordings: Mapping[str, str] = field(default_factory=dict)
    """Prompt key -> absolute URL of its current recording in `language`."""

    def speak(self, verb: VoiceResponse | Gather, *keys: str) -> None:
        for key in keys:
            url = self.recordings.get(key)
            if url:
                verb.play(url)
            else:
                verb.say(
                    text(key, self.language), voice=self.voice, language=SAY_LANGUAGE[self.language]
                )

    def say_template(self, verb: VoiceResponse | Gather, key: str, **values: str) -> None:
        """A sentence with names or numbers in it: always <Say>, never a recording."""
        sentence = TEMPLATES[key][self.language].format(**values)
        verb.say(sentence, voice=self.voice, language=SAY_LANGUAGE[self.language])
