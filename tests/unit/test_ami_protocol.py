"""The AMI framer and parser, bytes in, messages out."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami.exceptions import AmiProtocolError
from cti.ami.protocol import AmiFramer, event_name, format_message, parse_message

pytestmark = pytest.mark.unit

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EVENT = (
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    "CallerIDNum: +79161234567\r\nCallerIDName: Иван Петров\r\nAccountCode: \r\n"
    "Uniqueid: 1795403632.0\r\nLinkedid: 1795403632.0\r\n\r\n"
).encode()


def feed_in_chunks(framer: AmiFramer, data: bytes, sizes: list[int]) -> list[bytes]:
    frames: list[bytes] = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        frames.extend(framer.feed(data[pos : pos + size]))
        pos += size
        i += 1
    return frames


def test_banner_then_messages() -> None:
    framer = AmiFramer()
    frames = framer.feed(BANNER + b"Response: Success\r\nActionID: 1\r\n\r\n" + EVENT)
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    assert [parse_message(f).get("Response", "event") for f in frames] == ["Success", "event"]


@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
@settings(max_examples=200)
def test_any_chunking_gives_the_same_messages(sizes: list[int]) -> None:
    data = BANNER + EVENT * 3
    frames = feed_in_chunks(AmiFramer(), data, sizes)
    assert len(frames) == 3
    message = parse_message(frames[1])
    assert message["CallerIDName"] == "Иван Петров"
    assert message["AccountCode"] == ""


def test_utf8_split_across_reads_survives() -> None:
    data = BANNER + EVENT
    cut = data.index("Иван".encode()) + 1
    framer = AmiFramer()
    assert framer.feed(data[:cut]) == []
    (frame,) = framer.feed(data[cut:])
    assert parse_message(frame)["CallerIDName"] == "Иван Петров"


def test_not_an_ami_server_is_refused() -> None:
    with pytest.raises(AmiProtocolError, match="not an Asterisk manager"):
        AmiFramer().feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(AmiProtocolError):
        AmiFramer().feed(b"\x00\xff\xfe garbage")


def test_oversize_message_is_dropped_and_the_stream_goes_on() -> None:
    errors: list[AmiProtocolError] = []
    framer = AmiFramer(max_message_bytes=64 * 1024, on_error=errors.append)
    huge = b"Event: Huge\r\nData: " + b"x" * 1_000_000 + b"\r\n\r\n"
    frames = feed_in_chunks(framer, BANNER + huge + EVENT, [4096])
    assert len(frames) == 1
    assert parse_message(frames[0])["Event"] == "Newchannel"
    assert len(errors) == 1 and errors[0].error_id == "ami.oversize"
    assert framer.buffered < 64 * 1024


def test_oversize_in_one_read_is_dropped() -> None:
    errors: list[AmiProtocolError] = []
    framer = AmiFramer(max_message_bytes=4096, on_error=errors.append)
    frames = framer.feed(BANNER + b"Event: X\r\nA: " + b"y" * 10_000 + b"\r\n\r\n" + EVENT)
    assert [parse_message(f)["Event"] for f in frames] == ["Newchannel"]
    assert len(errors) == 1


def test_blank_lines_between_messages_are_not_messages() -> None:
    framer = AmiFramer()
    frames = framer.feed(BANNER + b"\r\n\r\n" + EVENT + b"\r\n\r\n\r\n" + EVENT)
    assert len(frames) == 2


def test_binary_garbage_after_login_does_not_stop_the_stream() -> None:
    framer = AmiFramer()
    frames = framer.feed(BANNER + b"\x00\x01\xff\xfe\r\n\r\n" + EVENT)
    assert len(frames) == 2
    with pytest.raises(AmiProtocolError):
        parse_message(frames[0])
    assert parse_message(frames[1])["Event"] == "Newchannel"


def test_parse_keeps_repeated_headers_and_empty_values() -> None:
    frame = b"Response: Success\r\nOutput: line one\r\nOutput: line two\r\nEmpty:\r\nbogus line"
    message = parse_message(frame)
    assert message["Output"] == "line one\nline two"
    assert message["Empty"] == ""
    assert "bogus line" not in message


def test_event_name_peeks_without_parsing() -> None:
    assert event_name(EVENT) == b"Newchannel"
    assert event_name(b"Response: Success\r\n") is None


def test_format_message_refuses_header_injection() -> None:
    assert format_message({"Action": "Ping", "ActionID": "1"}) == (
        b"Action: Ping\r\nActionID: 1\r\n\r\n"
    )
    with pytest.raises(ValueError, match="line break"):
        format_message({"Action": "Originate", "CallerID": "x\r\nAction: Logoff"})
    with pytest.raises(ValueError, match="header name"):
        format_message({"Bad Name": "x"})


@given(st.binary(max_size=2048))
@settings(max_examples=300)
def test_framer_never_raises_after_banner_on_any_bytes(data: bytes) -> None:
    framer = AmiFramer(max_message_bytes=512)
    framer.feed(BANNER)
    for frame in framer.feed(data):
        with contextlib.suppress(AmiProtocolError):
            parse_message(frame)
