"""Property-based fuzzing of every parser that reads bytes from outside: FastAGI, SMS
webhooks and email. Whatever arrives, each either parses or refuses with its own error,
never with anything else, and never loses what it accepted."""

from __future__ import annotations

import itertools
import json
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.messaging.mail import parse_email
from cti.messaging.sms import (
    SmsError,
    hmac_signature,
    parse_generic,
    parse_twilio,
    twilio_signature,
)
from ivr.agi.exceptions import AgiProtocolError
from ivr.agi.protocol import HeaderReader, ReplyReader, parse_reply

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URL = "https://cti.example/webhooks/sms/twilio"
TOKEN = "twilio-auth-token"
SECRET = "generic-webhook-secret"


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@FUZZ
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_agi_header_reader_takes_any_bytes_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    reader = HeaderReader()
    try:
        for piece in chunks(data, cuts):
            reader.feed(piece)
    except AgiProtocolError:
        return
    assert all(name.startswith("agi_") for name in reader.env)


@FUZZ
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_agi_reply_reader_takes_any_bytes_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    reader = ReplyReader()
    try:
        for piece in chunks(data, cuts):
            for reply in reader.feed(piece):
                assert 100 <= reply.code <= 999
    except AgiProtocolError:
        pass


@FUZZ
@given(
    st.integers(min_value=100, max_value=599),
    st.one_of(st.none(), st.integers(min_value=-1, max_value=2**31)),
    st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="()\r\n"))),
)
def test_agi_replies_round_trip(code: int, result: int | None, data: str | None) -> None:
    line = str(code)
    if result is not None:
        line += f" result={result}"
    if data is not None:
        line += f" ({data})"
    reply = parse_reply(line)
    assert (reply.code, reply.result) == (code, result)
    if data is not None and result is not None:
        assert reply.data == data


form_values = st.text(max_size=300)
form = st.lists(
    st.tuples(
        st.sampled_from(["MessageSid", "From", "To", "Body", "MediaUrl0", "NumMedia", "X"]),
        form_values,
    ),
    max_size=8,
)


@FUZZ
@given(form)
def test_twilio_webhooks_parse_or_are_refused_with_a_reason(params: list[tuple[str, str]]) -> None:
    signature = twilio_signature(URL, params, TOKEN)
    try:
        sms = parse_twilio(URL, params, signature, TOKEN)
    except SmsError as exc:
        assert exc.status in (400, 403) and str(exc)
        return
    fields = dict(params)
    assert sms.provider_id == fields["MessageSid"].strip()
    assert sms.body == fields.get("Body", "")[: len(sms.body)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["id", "from", "to", "body", "media", "x"]), json_values))
def test_generic_webhooks_parse_or_are_refused_with_a_reason(document: dict[str, object]) -> None:
    body = json.dumps(document).encode()
    try:
        sms = parse_generic(body, document, hmac_signature(body, SECRET), SECRET)
    except SmsError as exc:
        assert exc.status == 400 and str(exc)
        return
    assert sms.provider_id == str(document["id"]).strip()


@FUZZ
@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_a_signature_over_other_bytes_is_refused(body: bytes, other: bytes) -> None:
    if body == other:
        return
    try:
        parse_generic(body, {}, hmac_signature(other, SECRET), SECRET)
    except SmsError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("accepted a signature made for other bytes")


@FUZZ
@given(st.binary(max_size=6000))
def test_any_bytes_make_an_email_with_an_id_and_text(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert parsed.message_id and isinstance(parsed.text, str) and parsed.thread


header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)


@FUZZ
@given(
    header_text,
    header_text,
    st.text(max_size=500),
    st.sampled_from(["utf-8", "koi8-r", "latin-1", "x-unknown"]),
)
def test_mangled_headers_and_charsets_still_give_text(
    subject: str, sender: str, body: str, charset: str
) -> None:
    message = EmailMessage()
    message["Message-ID"] = "<fuzz@example.com>"
    raw_headers = f"From: {sender}\r\nSubject: {subject}\r\n".encode("utf-8", "surrogateescape")
    message.set_content(body)
    encoded = message.as_bytes().replace(b'charset="utf-8"', f'charset="{charset}"'.encode())
    parsed = parse_email(raw_headers + encoded)
    assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)
    if charset == "utf-8" and body.strip():
        assert body.strip().splitlines()[0].strip() in parsed.text


def test_a_from_header_the_policy_cannot_parse_is_kept_raw() -> None:
    """``From: <`` makes the standard library's header parser raise IndexError, twice."""
    parsed = parse_email(b"From: <\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n")
    assert parsed.sender == "unknown@callfold.invalid"
    assert any(p.startswith("From: IndexError") for p in parsed.problems)
    assert parsed.text.strip() == "body"
