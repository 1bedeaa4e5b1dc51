"""Recorded prompts in `sounds/`: rendered from the catalogue, served, used while current."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ivr.config import PROJECT_ROOT
from ivr.flows.prompts import LANGUAGES, PROMPTS

SOUNDS_DIR = PROJECT_ROOT / "sounds"
MANIFEST = "manifest.json"
ESPEAK_VOICES = {"en": "en-us", "ru": "ru"}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Recordings:
    """Which prompt recordings exist and still match the catalogue's text."""

    folder: Path
    current: frozenset[tuple[str, str]]

    @classmethod
    def load(cls, folder: Path = SOUNDS_DIR) -> Recordings:
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        current = {
            (language, key)
            for language in LANGUAGES
            for key, texts in PROMPTS.items()
            if manifest.get(f"{language}/{key}") == text_hash(texts[language])
            and (folder / language / f"{key}.wav").is_file()
        }
        return cls(folder=folder, current=frozenset(current))

    def path(self, language: str, key: str) -> Path | None:
        """The file of a current recording, or None (also for names not in the catalogue)."""
        if (language, key) not in self.current:
            return None
        return self.folder / language / f"{key}.wav"


def render(folder: Path = SOUNDS_DIR) -> list[str]:
    """Render every stale or missing prompt with espeak-ng and sox; return what was written."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: apt-get install -y espeak-ng sox")
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    written = []
    for language in LANGUAGES:
        (folder / language).mkdir(parents=True, exist_ok=True)
        for key, texts in sorted(PROMPTS.items()):
            name = f"{language}/{key}"
            target = folder / language / f"{key}.wav"
            if manifest.get(name) == text_hash(texts[language]) and target.is_file():
                continue
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                subprocess.run(
                    [
                        "espeak-ng",
                        "-v",
                        ESPEAK_VOICES[language],
                        "-s",
                        "150",
                        "-w",
                        str(raw),
                        texts[language],
                    ],
                    check=True,
                )
                subprocess.run(
                    [
                        "sox",
                        "-V1",
                        str(raw),
                        "-r",
                        "8000",
                        "-c",
                        "1",
                        "-b",
                        "16",
                        str(target),
                        "gain",
                        "-n",
                        "-1",
                    ],
                    check=True,
                )
            manifest[name] = text_hash(texts[language])
            written.append(name)
    manifest_path.write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return written
