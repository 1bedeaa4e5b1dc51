"""Capturing what the service logs, as the JSON lines production would write."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from ivr.logging import configure_logging


@contextmanager
def captured_logs(level: str = "info") -> Iterator[io.StringIO]:
    """Configure the real logging into a buffer; put the previous handlers back afterwards."""
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(stream=stream, format="json", level=level)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        structlog.reset_defaults()


def log_events(stream: io.StringIO) -> list[dict]:
    """Every line written to `stream`, parsed."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
