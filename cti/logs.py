"""Structured logging with the standard library: one JSON object per line, secrets masked.

``configure_logging`` installs one handler on the root logger with a ``RedactingFilter``,
which masks every record before it is formatted, whoever logged it (our code, panoramisk,
uvicorn): values of fields named like a secret, ``Secret: …`` style headers (also inside
the ``repr`` of an AMI action, where line ends are ``\\r\\n`` escapes), ``password=…``,
``'token': '…'`` and credentials in URLs. The formatters apply the same masking, so they
are safe on any handler too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

MASK = "***"
NOISY_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "asyncio", "uvicorn.access", "httpx")

_SECRET_WORD = r"(?:secret|passw(?:or)?d|pwd|token|authorization|api[-_]?key|credential|cookie)"
SECRET_NAME = re.compile(_SECRET_WORD, re.IGNORECASE)
"""A field or header whose name matches this carries a secret as its value."""

_HEADER = re.compile(
    r"(?P<key>(?:^|(?<=[\r\n])|(?<=\\r)|(?<=\\n))[\w-]*" + _SECRET_WORD + r"[\w-]*[ \t]*:[ \t]*)"
    r"(?P<value>(?:[^\r\n\\]|\\[^rn])+)",
    re.IGNORECASE | re.MULTILINE,
)
_INLINE = re.compile(
    r"(?P<key>[\w-]*" + _SECRET_WORD + r"[\w-]*['\"]?\s*[:=]\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
    r"|(?:Bearer|Basic|Digest)\s+[^\s,;'\"\\]+"
    r"|[^\s,;'\"\\(){}\[\]<>&]+)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(
    r"(?P<key>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<value>[^@/\s]+)(?=@)", re.IGNORECASE
)
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)
_CORE_FIELDS = ("ts", "level", "logger", "event", "exception", "stack")
_MAX_DEPTH = 8
_plain = logging.Formatter()


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value[:1] in ("'", '"') and len(value) > 1:
        return f"{match.group('key')}{value[0]}{MASK}{value[0]}"
    return match.group("key") + MASK


def redact(text: str) -> str:
    """Mask the secrets in free text: ``Secret: x`` headers, ``password=x``, URL credentials."""
    text = _HEADER.sub(_mask_value, text)
    text = _INLINE.sub(_mask_value, text)
    return _URL_CREDENTIALS.sub(_mask_value, text)


def redact_value(name: str | None, value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` with secrets masked, by field name and inside text."""
    if name is not None and SECRET_NAME.search(name) and value not in (None, ""):
        return MASK
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_DEPTH:
        return redact(repr(value))
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(None, v, depth + 1) for v in value]
    return redact(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields a call site attached to the record."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_FIELDS and not key.startswith("_")
    }


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError, KeyError):
        return f"{record.msg} {record.args!r}"


def redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in a record in place: message, extra fields, exception and stack text."""
    if record.__dict__.get("_redacted"):
        return
    record.msg = redact(_message(record))
    record.args = None
    for key, value in extra_fields(record).items():
        setattr(record, key, redact_value(key, value))
    if record.exc_info and not record.exc_text:
        record.exc_text = _plain.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True


class RedactingFilter(logging.Filter):
    """Mask secrets in every record that reaches the handler, before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One line per event: ts, level, logger, event, then the call site's fields."""

    def format(self, record: logging.LogRecord) -> str:
        redact_record(record)
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for key, value in extra_fields(record).items():
            entry[f"extra.{key}" if key in _CORE_FIELDS else key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, with the same masking."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        redact_record(record)
        line = super().format(record)
        fields = extra_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def configure_logging(
    level: str = "INFO", fmt: Literal["json", "text"] = "json", *, stream: TextIO | None = None
) -> None:
    """Send every logger (and ``warnings``) to ``stream`` (standard error) in ``fmt``, masked."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, number))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.captureWarnings(True)
