"""Structured logs: one JSON object per line, and secrets never in them."""

from __future__ import annotations

import json
import logging

import pytest

from cti.logs import JsonFormatter, TextFormatter, redact

pytestmark = pytest.mark.unit


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("cti.test", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_line_carries_the_call_site_fields() -> None:
    line = JsonFormatter().format(record("AMI connected", linkedid="1795403632.0", error_id="x"))
    entry = json.loads(line)
    assert entry["event"] == "AMI connected"
    assert entry["level"] == "warning" and entry["logger"] == "cti.test"
    assert (entry["linkedid"], entry["error_id"]) == ("1795403632.0", "x")
    assert "\n" not in line


@pytest.mark.parametrize(
    "text",
    [
        "Action: Login\r\nUsername: cti\r\nSecret: hunter2hunter2\r\n",
        "login failed password=hunter2hunter2 for cti",
        "Authorization: Bearer hunter2hunter2",
    ],
)
def test_secrets_in_messages_are_masked(text: str) -> None:
    assert "hunter2" not in redact(text)
    assert "hunter2" not in JsonFormatter().format(record("sent %s", text))
    assert "hunter2" not in TextFormatter().format(record("sent %s", text))


def test_secrets_in_fields_are_masked() -> None:
    line = JsonFormatter().format(record("x", secret="hunter2", details={"password": "hunter2"}))
    assert "hunter2" not in line
