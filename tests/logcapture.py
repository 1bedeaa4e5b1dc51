"""Capturing what the service logs, as the JSON lines production would write."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from ivr.logging import configure_logging, masked_formatter, route_structlog_to_stdlib


@contextmanager
def captured_logs(level: str = "info") -> Iterator[io.StringIO]:
    """Configure the real logging into a buffer; put the previous set-up back afterwards.

    The handlers there before keep receiving lines meanwhile (the whole run's log among them).
    """
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    structlog_config = structlog.get_config()
    stream = io.StringIO()
    configure_logging(stream=stream, format="json", level=level)
    root.handlers.extend(handlers)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        structlog.configure(**structlog_config)


def log_events(stream: io.StringIO) -> list[dict]:
    """Every line written to `stream`, parsed."""
    # Lines end in "\n" only: a logged value may hold U+2028 or U+0085, which splitlines() cuts.
    return [json.loads(line) for line in stream.getvalue().split("\n") if line.strip()]


class RunLog:
    """Every line the whole test run logs, masked as production masks it, in one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(masked_formatter("json"))
        self._level = logging.NOTSET

    def start(self) -> None:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self.handler)
        root.setLevel(min(root.getEffectiveLevel(), logging.INFO))
        route_structlog_to_stdlib()

    def stop(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._level)
        self.handler.close()
        structlog.reset_defaults()

    def lines_with(self, texts: set[str]) -> list[str]:
        """The lines holding any of `texts`."""
        with self.path.open(encoding="utf-8") as file:
            return [line.rstrip("\n") for line in file if any(text in line for text in texts)]
