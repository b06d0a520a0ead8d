"""FastAGI wire format: header block, replies, HANGUP notices, command quoting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.agi.exceptions import AgiProtocolError
from ivr.agi.protocol import HeaderReader, ReplyReader, format_command, parse_reply

pytestmark = pytest.mark.unit

HEADER = (
    b"agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1:4573/ivr\n"
    b"agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795403632.1\n"
    b"agi_callerid: +79161234567\nagi_calleridname: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\n"
    b"agi_accountcode: \n\n"
)


@given(st.integers(min_value=1, max_value=len(HEADER)))
def test_header_in_two_reads(cut: int) -> None:
    reader = HeaderReader()
    rest = reader.feed(HEADER[:cut])
    if not reader.done:
        rest = reader.feed(HEADER[cut:] + b"200 result=1\n")
    assert reader.done
    assert reader.env["agi_network_script"] == "ivr"
    assert reader.env["agi_calleridname"] == "Иван"
    assert reader.env["agi_accountcode"] == ""
    assert rest in (b"", b"200 result=1\n")


def test_garbage_instead_of_a_header_is_refused() -> None:
    with pytest.raises(AgiProtocolError, match="not an AGI header"):
        HeaderReader().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_oversized_header_is_refused() -> None:
    reader = HeaderReader(max_bytes=4096)
    with pytest.raises(AgiProtocolError):
        for n in range(1000):
            reader.feed(f"agi_arg_{n}: {'x' * 1000}\n".encode())


def test_endless_line_is_refused() -> None:
    with pytest.raises(AgiProtocolError, match="too long"):
        HeaderReader().feed(b"agi_x: " + b"y" * 20_000)


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extra"),
    [
        ("200 result=1 (+79161234567)", 200, 1, "+79161234567", {}),
        ("200 result=1", 200, 1, None, {}),
        ("200 result=-1 endpos=0", 200, -1, None, {"endpos": "0"}),
        ("200 result=50", 200, 50, None, {}),
        ("200 result=0 (timeout)", 200, 0, "timeout", {}),
        ("510 Invalid or unknown command", 510, None, None, {}),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, None, None, {}),
    ],
)
def test_replies_as_asterisk_writes_them(
    line: str, code: int, result: int | None, data: str | None, extra: dict[str, str]
) -> None:
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, reply.extra) == (code, result, data, extra)


def test_digit_of_a_wait_for_digit_reply() -> None:
    assert parse_reply("200 result=50").digit == "2"
    assert parse_reply("200 result=0").digit is None
    assert parse_reply("200 result=-1").digit is None


def test_hangup_notice_is_not_a_reply() -> None:
    reader = ReplyReader()
    assert reader.feed(b"HANGUP\n") == []
    assert reader.hung_up
    (reply,) = reader.feed(b"200 result=1 (+79161234567)\n")
    assert reply.data == "+79161234567"


def test_520_usage_spans_lines() -> None:
    reader = ReplyReader()
    assert reader.feed(b"520-Invalid command syntax.  Proper usage follows:\n") == []
    assert reader.feed(b" Usage: WAIT FOR DIGIT <timeout>\n") == []
    (reply,) = reader.feed(b"520 End of proper usage.\n")
    assert reply.code == 520
    assert "Usage: WAIT FOR DIGIT" in reply.text


def test_not_a_reply() -> None:
    with pytest.raises(AgiProtocolError):
        ReplyReader().feed(b"hello there\n")


def test_format_command_quotes_and_refuses_injection() -> None:
    assert format_command("STREAM", "FILE", "cti-welcome", "0123456789#*") == (
        b"STREAM FILE cti-welcome 0123456789#*\n"
    )
    assert format_command("SET", "VARIABLE", "CTI_REASON", "order ready") == (
        b'SET VARIABLE CTI_REASON "order ready"\n'
    )
    assert format_command("STREAM", "FILE", "x", "") == b'STREAM FILE x ""\n'
    with pytest.raises(ValueError):
        format_command("VERBOSE", "x\nHANGUP")
