"""Structured logs: one JSON object per line, and secrets never in them."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from panoramisk.actions import Action
from panoramisk.message import Message

from cti.logs import JsonFormatter, TextFormatter, configure_logging, redact

pytestmark = pytest.mark.unit

SECRET = "hunter2hunter2"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Logging configured as the server does it, into a buffer; the root logger restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("cti.test", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def login(secret: str) -> Action:
    """panoramisk's own Login action; it needs a running event loop."""
    return Action({"Action": "Login", "Username": "cti", "Secret": secret}, as_list=False)


def test_one_json_object_per_line_with_the_call_site_fields(output: io.StringIO) -> None:
    log = logging.getLogger("cti.calls")
    log.info("call answered", extra={"linkedid": "1795403632.0", "error_id": "calls.x"})
    log.warning("two\nlines", extra={"event": "not the message", "queue": "sales"})
    first, second = lines(output)
    assert first["event"] == "call answered"
    assert (first["level"], first["logger"]) == ("info", "cti.calls")
    assert (first["linkedid"], first["error_id"]) == ("1795403632.0", "calls.x")
    assert str(first["ts"]).endswith("Z")
    assert second["event"] == "two\nlines" and second["extra.event"] == "not the message"


async def test_panoramisk_logging_an_ami_login_never_leaks_the_secret(output: io.StringIO) -> None:
    action = login(SECRET)
    logging.getLogger("panoramisk.manager").info(
        'Adding action "%s" to awaiting list: %s', "login", str(action)
    )
    logging.getLogger("panoramisk.ami_protocol").error("Fail to send " + repr(str(action).encode()))
    logging.getLogger("panoramisk.command").info("Action %r sent", action)
    logging.getLogger("panoramisk.manager").debug(
        "message interpreted: %r", Message({"Secret": SECRET})
    )
    text = output.getvalue()
    assert SECRET not in text
    assert len(lines(output)) == 4 and "Username: cti" in text


@pytest.mark.parametrize(
    "text",
    [
        f"Action: Login\r\nUsername: cti\r\nSecret: {SECRET}\r\n\r\n",
        f"Secret: {SECRET} with spaces\r\n",
        f"login failed password={SECRET} for cti",
        f"Authorization: Bearer {SECRET}",
        f'{{"api_key": "{SECRET}", "user": "cti"}}',
        f"connecting to redis://:{SECRET}@redis:6379/0",
        f"postgresql+asyncpg://callfold:{SECRET}@db/callfold",
    ],
)
def test_secrets_in_messages_are_masked(text: str, output: io.StringIO) -> None:
    assert SECRET not in redact(text)
    logging.getLogger("cti.test").warning("sent %s", text)
    logging.getLogger("cti.test").warning(text)
    assert SECRET not in output.getvalue()
    assert SECRET not in TextFormatter().format(record("sent %s", text))


async def test_secrets_in_fields_are_masked_and_the_rest_kept(output: io.StringIO) -> None:
    logging.getLogger("cti.test").info(
        "login",
        extra={
            "secret": SECRET,
            "details": {"password": SECRET, "user": "cti", "nested": [{"token": SECRET}]},
            "headers": [f"Authorization: Basic {SECRET}"],
            "action": login(SECRET),
            "linkedid": "1795403632.0",
        },
    )
    (entry,) = lines(output)
    assert SECRET not in json.dumps(entry)
    assert entry["linkedid"] == "1795403632.0"
    assert entry["details"] == {"password": "***", "user": "cti", "nested": [{"token": "***"}]}


def test_exceptions_are_logged_masked(output: io.StringIO) -> None:
    try:
        raise ConnectionError(f"AMI refused Secret: {SECRET}")
    except ConnectionError:
        logging.getLogger("cti.ami").exception("login failed")
    (entry,) = lines(output)
    assert "ConnectionError" in str(entry["exception"]) and SECRET not in json.dumps(entry)


def test_a_broken_format_is_logged_masked_instead_of_dumped(output: io.StringIO) -> None:
    logging.getLogger("cti.test").info("two args %s %s", f"password={SECRET}")
    (entry,) = lines(output)
    assert SECRET not in json.dumps(entry) and "two args" in str(entry["event"])


def test_warnings_go_through_the_same_handler(output: io.StringIO) -> None:
    warnings.warn(f"token={SECRET} looks old", UserWarning, stacklevel=1)
    (entry,) = lines(output)
    assert entry["logger"] == "py.warnings" and SECRET not in json.dumps(entry)


def test_the_formatters_mask_without_the_filter() -> None:
    line = JsonFormatter().format(record("x", secret=SECRET, details={"password": SECRET}))
    assert SECRET not in line and json.loads(line)["secret"] == "***"


def test_levels_are_checked() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging("VERBOSE", "json")


secrets_ = st.text(
    alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=12
)
carriers = st.sampled_from(
    [
        "Action: Login\r\nSecret: {}\r\n",
        "Secret: {}",
        "password={}",
        "{{'Secret': '{}'}}",
        '{{"token": "{}"}}',
        "redis://user:{}@host/0",
        "Authorization: Bearer {}",
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(secret=secrets_, carrier=carriers, as_repr=st.booleans())
def test_no_secret_survives_in_any_carrier(
    secret: str, carrier: str, as_repr: bool, output: io.StringIO
) -> None:
    assume(secret not in carrier)
    start = len(output.getvalue())
    text = carrier.format(secret)
    logging.getLogger("lib").info("%r" if as_repr else "%s", text, extra={"password": secret})
    assert secret not in output.getvalue()[start:]
