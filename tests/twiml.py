"""Reading TwiML in tests: parse a document, name what it speaks by catalogue key."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PurePosixPath

from ivr.flows.prompts import PROMPTS


def parse(twiml: object) -> ET.Element:
    """The <Response> element of a TwiML document (a string or a VoiceResponse)."""
    root = ET.fromstring(str(twiml))
    assert root.tag == "Response"
    return root


def spoken(element: ET.Element | None, language: str = "en") -> list[str]:
    """Catalogue keys of the <Say>/<Play> children of `element`, in order.

    A <Say> whose text is not in the catalogue is returned as its text, so it shows up in
    the assertion that fails.
    """
    if element is None:
        raise AssertionError("the TwiML has no such element")
    by_text = {texts[language]: key for key, texts in PROMPTS.items()}
    keys = []
    for child in element:
        if child.tag == "Say":
            keys.append(by_text.get((child.text or "").strip(), child.text or ""))
        elif child.tag == "Play":
            keys.append(PurePosixPath((child.text or "").strip()).stem)
    return keys


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]
