"""SMS webhooks: Twilio's signature as Twilio documents it, and malformed requests."""

from __future__ import annotations

import json

import pytest

from cti.messaging.sms import (
    SmsError,
    hmac_signature,
    parse_generic,
    parse_twilio,
    twilio_signature,
)

pytestmark = pytest.mark.unit

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


@pytest.mark.parametrize(
    ("caller", "signature"),
    [
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
    ],
)
def test_the_signature_matches_twilios_documented_examples(caller: str, signature: str) -> None:
    params = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", caller),
        ("From", caller),
        ("Digits", "1234"),
    ]
    assert twilio_signature(URL, params, "12345") == signature


def signed(params: list[tuple[str, str]], token: str = "tok") -> str:
    return twilio_signature(URL, params, token)


SMS = [("MessageSid", "SM1"), ("From", "+79161234567"), ("To", "+74950000000"), ("Body", "Hi")]


def test_a_signed_twilio_sms_is_taken_with_its_media() -> None:
    params = [*SMS, ("NumMedia", "1"), ("MediaUrl0", "https://api.twilio.com/m/1")]
    sms = parse_twilio(URL, params, signed(params), "tok")
    assert (sms.provider_id, sms.sender, sms.body, sms.media) == (
        "SM1",
        "+79161234567",
        "Hi",
        ("https://api.twilio.com/m/1",),
    )


@pytest.mark.parametrize(
    ("signature", "token", "status"),
    [
        (None, "tok", 403),
        ("forged", "tok", 403),
        (signed(SMS, "other"), "tok", 403),
        (signed(SMS), "", 403),
    ],
)
def test_a_forged_or_unconfigured_twilio_webhook_is_refused(
    signature: str | None, token: str, status: int
) -> None:
    with pytest.raises(SmsError) as refused:
        parse_twilio(URL, SMS, signature, token)
    assert refused.value.status == status


def test_a_signed_but_incomplete_sms_names_what_is_missing() -> None:
    params = [("Body", "Hi")]
    with pytest.raises(SmsError, match=r"id: required.*from: required.*to: required") as bad:
        parse_twilio(URL, params, signed(params), "tok")
    assert bad.value.status == 400


def test_the_generic_format_is_signed_with_hmac_sha256() -> None:
    document = {"id": "x-1", "from": "+79161234567", "to": "+7495", "body": "", "media": []}
    body = json.dumps(document).encode()
    sms = parse_generic(body, document, hmac_signature(body, "s3cret"), "s3cret")
    assert (sms.provider, sms.body) == ("generic", "")
    with pytest.raises(SmsError):
        parse_generic(body + b" ", document, hmac_signature(body, "s3cret"), "s3cret")
    with pytest.raises(SmsError, match="media"):
        bad = {**document, "media": "not a list"}
        raw = json.dumps(bad).encode()
        parse_generic(raw, bad, hmac_signature(raw, "s3cret"), "s3cret")
