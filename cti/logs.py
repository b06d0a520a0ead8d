"""Structured logging with the standard library: one JSON object per line, secrets masked."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, Literal

_SECRET_KEY = re.compile(r"(secret|password|passwd|token|authorization|api[_-]?key)", re.I)
_SECRET_TEXT = re.compile(
    r"(?P<key>\b(?:Secret|Password|Authorization|Token)\b\s*[:=]\s*)"
    r"(?P<value>(?:Bearer\s+)?[^\s,;'\"\\]+)",
    re.I,
)
MASK = "***"
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
NOISY_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "asyncio", "uvicorn.access", "httpx")


def redact(text: str) -> str:
    """Mask values that follow a secret-looking name (``Secret: x``, ``password=x``)."""
    return _SECRET_TEXT.sub(lambda m: m.group("key") + MASK, text)


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields a call site attached to the record."""
    return {
        key: _clean(key, value)
        for key, value in record.__dict__.items()
        if key not in _RECORD_FIELDS and key != "color_message" and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One line per event: ts, level, logger, event, then the call site's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": redact(record.getMessage()),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, with the same masking."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        fields = extra_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def configure_logging(level: str = "INFO", fmt: Literal["json", "text"] = "json") -> None:
    """Send every logger to standard error in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
