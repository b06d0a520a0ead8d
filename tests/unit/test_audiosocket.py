"""AudioSocket framing, bytes in and frames out, as Asterisk's res_audiosocket.c writes it."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.speech.audiosocket import (
    DEFAULT_MAX_PAYLOAD,
    Frame,
    FrameParser,
    Kind,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_frame,
    encode_hangup,
    encode_uuid,
)
from ivr.speech.exceptions import AudioSocketProtocolError, FrameTooLarge

pytestmark = pytest.mark.unit

CALL = uuid.UUID("4f9c2a1e-8d3b-4c5a-9e7f-0a1b2c3d4e5f")


def test_the_uuid_frame_is_what_asterisk_writes_first() -> None:
    wire = encode_uuid(CALL)
    assert wire[:3] == b"\x01\x00\x10"
    assert wire[3:] == CALL.bytes
    [frame] = FrameParser().feed(wire)
    assert frame.kind is Kind.UUID
    assert frame.call_id == CALL


def test_frames_split_at_every_byte_come_out_whole() -> None:
    pcm = bytes(range(256)) * 2 + b"\x01\x02"
    wire = encode_uuid(CALL) + encode_audio(pcm) + encode_dtmf("7") + encode_hangup()
    parser = FrameParser()
    frames: list[Frame] = []
    for i in range(len(wire)):
        frames += parser.feed(wire[i : i + 1])
    assert [f.kind for f in frames] == [Kind.UUID, Kind.AUDIO, Kind.AUDIO, Kind.DTMF, Kind.HANGUP]
    assert b"".join(f.payload for f in frames if f.kind is Kind.AUDIO) == pcm
    assert frames[3].digit == "7"
    assert parser.buffered == 0


def test_a_partial_frame_is_held_back_and_counted() -> None:
    parser = FrameParser()
    wire = encode_audio(b"\x00\x01" * 160)
    assert parser.feed(wire[:100]) == []
    assert parser.buffered == 100
    [frame] = parser.feed(wire[100:])
    assert len(frame.payload) == 320
    assert parser.buffered == 0


def test_an_oversize_frame_is_refused_from_its_header_alone() -> None:
    parser = FrameParser(max_payload=1024)
    header = bytes([Kind.AUDIO]) + (1026).to_bytes(2, "big")
    with pytest.raises(FrameTooLarge) as caught:
        parser.feed(header)
    assert (caught.value.size, caught.value.limit) == (1026, 1024)
    assert caught.value.error_id == "audiosocket.oversize"


def test_a_frame_at_the_limit_is_accepted() -> None:
    parser = FrameParser(max_payload=1024)
    [frame] = parser.feed(encode_audio(b"\x00" * 1024, frame_bytes=1024))
    assert len(frame.payload) == 1024


def test_an_unknown_kind_is_garbage_and_the_parser_stays_broken() -> None:
    parser = FrameParser()
    with pytest.raises(AudioSocketProtocolError, match="0x47"):
        parser.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(AudioSocketProtocolError):
        parser.feed(encode_hangup())


def test_frames_before_garbage_come_out_and_the_next_feed_raises() -> None:
    parser = FrameParser()
    frames = parser.feed(encode_uuid(CALL) + encode_dtmf("1") + b"\x47\x45\x54")
    assert [f.kind for f in frames] == [Kind.UUID, Kind.DTMF]
    assert parser.error is not None and "0x47" in str(parser.error)
    with pytest.raises(AudioSocketProtocolError, match="0x47"):
        parser.feed(encode_hangup())


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (encode_frame(Kind.UUID, b"\x00" * 15), "UUID frame of 15 bytes"),
        (encode_frame(Kind.DTMF, b"12"), "DTMF frame of 2 bytes"),
        (encode_frame(Kind.AUDIO, b"\x00" * 3), "not whole 16-bit samples"),
        (encode_frame(Kind.AUDIO), "not whole 16-bit samples"),
    ],
)
def test_lengths_a_kind_cannot_have_are_refused(wire: bytes, message: str) -> None:
    with pytest.raises(AudioSocketProtocolError, match=message):
        FrameParser().feed(wire)


def test_hangup_and_error_frames() -> None:
    assert encode_hangup() == b"\x00\x00\x00"
    hangup, error, bare = FrameParser().feed(
        encode_hangup() + encode_error(0x02) + encode_frame(Kind.ERROR)
    )
    assert hangup.kind is Kind.HANGUP and hangup.payload == b""
    assert error.kind is Kind.ERROR and error.error_code == 0x02
    assert bare.error_code is None


def test_the_encoder_cuts_audio_into_20_ms_frames_that_parse_back() -> None:
    pcm = bytes(range(200)) * 5
    wire = encode_audio(pcm)
    frames = FrameParser().feed(wire)
    assert [len(f.payload) for f in frames] == [320, 320, 320, 40]
    assert all(f.kind is Kind.AUDIO for f in frames)
    assert b"".join(f.payload for f in frames) == pcm


@pytest.mark.parametrize("pcm", [b"", b"\x00\x01\x02"])
def test_the_encoder_refuses_audio_asterisk_would_refuse(pcm: bytes) -> None:
    with pytest.raises(ValueError, match="16-bit samples"):
        encode_audio(pcm)


def test_encoder_limits() -> None:
    with pytest.raises(ValueError, match="at most 65535"):
        encode_frame(Kind.AUDIO, b"\x00" * 65536)
    with pytest.raises(ValueError, match="not a DTMF digit"):
        encode_dtmf("x")
    with pytest.raises(ValueError):
        FrameParser(max_payload=65536)


def test_frame_accessors_refuse_the_wrong_kind() -> None:
    with pytest.raises(ValueError, match="carries no UUID"):
        _ = Frame(Kind.AUDIO, b"\x00\x00").call_id
    with pytest.raises(ValueError, match="carries no digit"):
        _ = Frame(Kind.HANGUP).digit


frames_strategy = st.lists(
    st.one_of(
        st.uuids().map(lambda u: Frame(Kind.UUID, u.bytes)),
        st.binary(min_size=1, max_size=400).map(
            lambda b: Frame(Kind.AUDIO, b + b"\x00" if len(b) % 2 else b)
        ),
        st.sampled_from("0123456789*#").map(lambda d: Frame(Kind.DTMF, d.encode())),
        st.just(Frame(Kind.HANGUP)),
        st.binary(max_size=2).map(lambda b: Frame(Kind.ERROR, b)),
    ),
    max_size=20,
)


@given(frames=frames_strategy, cuts=st.lists(st.integers(min_value=0, max_value=9000)))
def test_any_chunking_yields_the_same_frames(frames: list[Frame], cuts: list[int]) -> None:
    wire = b"".join(encode_frame(f.kind, f.payload) for f in frames)
    points = sorted({c for c in cuts if c < len(wire)} | {0, len(wire)})
    parser = FrameParser(DEFAULT_MAX_PAYLOAD)
    parsed: list[Frame] = []
    for start, stop in itertools.pairwise(points):
        parsed += parser.feed(wire[start:stop])
    assert parsed == frames
    assert parser.buffered == 0


@given(data=st.binary(min_size=3, max_size=64))
def test_random_bytes_either_parse_or_raise_a_protocol_error(data: bytes) -> None:
    parser = FrameParser(max_payload=32)
    try:
        frames = parser.feed(data)
    except AudioSocketProtocolError:
        return
    consumed = sum(3 + len(f.payload) for f in frames)
    if parser.error is None:
        assert consumed + parser.buffered == len(data)
    else:
        assert frames and consumed < len(data)
        with pytest.raises(AudioSocketProtocolError):
            parser.feed(b"")
