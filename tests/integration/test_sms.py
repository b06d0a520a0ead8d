"""SMS over the API on a real database, and replies through a Twilio-compatible server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from cti.auth.model import Role
from cti.demo import seed_contacts
from cti.messaging.service import MessagingService
from cti.messaging.sms import TwilioSmsProvider, hmac_signature, twilio_signature
from cti.settings import Settings
from cti.store.contacts import ContactRepository
from tests.desk import free_port
from tests.integration import test_api
from tests.integration.test_api import Api, assert_error

pytestmark = pytest.mark.integration

api = test_api.api
TOKEN = "twilio-auth-token"
HOOK = "https://cti.example.org/webhooks/sms/twilio"
IVAN = "+79161234567"


@pytest.fixture
def settings() -> Settings:
    settings = Settings(secret_key=test_api.KEY, demo=False)
    settings.sms.twilio_auth_token = SecretStr(TOKEN)
    settings.sms.webhook_url = HOOK
    settings.sms.webhook_secret = SecretStr("generic-secret")
    settings.csat.enabled = True
    return settings


async def twilio_post(
    api: Api, params: list[tuple[str, str]], token: str = TOKEN
) -> httpx.Response:
    return await api.client.post(
        "/webhooks/sms/twilio",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(HOOK, params, token),
        },
    )


def sms(sid: str, sender: str, body: str) -> list[tuple[str, str]]:
    return [("MessageSid", sid), ("From", sender), ("To", "+74950000000"), ("Body", body)]


async def test_an_inbound_sms_lands_once_on_its_senders_timeline(api: Api) -> None:
    await seed_contacts(api.sessionmaker)
    reply = await twilio_post(api, sms("SM100", "8 916 123-45-67", "Is my order ready?"))
    assert reply.status_code == 200 and reply.text.endswith("<Response/>")
    again = await twilio_post(api, sms("SM100", "8 916 123-45-67", "Is my order ready?"))
    assert again.status_code == 200
    entries = await ContactRepository(api.sessionmaker).timeline(1, 10)
    assert entries is not None
    mine = [e for e in entries if e["channel"] == "sms"]
    assert len(mine) == 1 and mine[0]["summary"] == "Is my order ready?"


async def test_a_stranger_becomes_a_contact_and_many_at_once_share_commits(api: Api) -> None:
    replies = await asyncio.gather(
        *(twilio_post(api, sms(f"SM{n}", f"+7926555{n:04d}", f"hello {n}")) for n in range(40)),
        twilio_post(api, sms("SM-dup", "+79265550000", "twice")),
        twilio_post(api, sms("SM-dup", "+79265550000", "twice")),
    )
    assert all(r.status_code == 200 for r in replies)
    contacts = ContactRepository(api.sessionmaker)
    found = await contacts.by_phone("+79265550000")
    assert len(found) == 1, "one new contact for one new number, however many messages"
    entries = await contacts.timeline(found[0].contact_id, 10)
    assert entries is not None and [e["summary"] for e in entries] == ["twice", "hello 0"]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-Twilio-Signature": "forged"}, "sms.forbidden"),
        ({}, "sms.forbidden"),
    ],
)
async def test_a_forged_webhook_is_refused_and_stores_nothing(
    api: Api, headers: dict[str, str], error: str
) -> None:
    reply = await api.client.post(
        "/webhooks/sms/twilio",
        content=urlencode(sms("SM9", IVAN, "hi")),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert_error(reply, 403, error)
    assert await ContactRepository(api.sessionmaker).by_phone(IVAN) == []


async def test_the_generic_json_webhook(api: Api) -> None:
    body = json.dumps({"id": "g-1", "from": IVAN, "to": "+7495", "body": "", "media": ["u"]})
    reply = await api.client.post(
        "/webhooks/sms",
        content=body,
        headers={"X-Callfold-Signature": hmac_signature(body.encode(), "generic-secret")},
    )
    assert reply.status_code == 200, reply.text
    contact_id = reply.json()["contact_id"]
    entries = await ContactRepository(api.sessionmaker).timeline(contact_id, 5)
    assert entries is not None and entries[0]["summary"] == "(1 attachment)"
    bad = await api.client.post(
        "/webhooks/sms", content="{not json", headers={"X-Callfold-Signature": "x"}
    )
    assert_error(bad, 403, "sms.forbidden")


class FakeTwilio:
    """A Twilio-compatible Messages API on a real port; answers as told, records requests."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.received: list[dict[str, str]] = []
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{sid}/Messages.json")
        async def messages(sid: str, request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            self.received.append({**form, "account": sid, "auth": request.headers["authorization"]})
            status, body = self.answers.pop(0) if self.answers else (201, {})
            if status == 201:
                body = {"sid": f"SM{len(self.received):04d}", **body}
            return JSONResponse(body, status_code=status)

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        )


class Quiet:
    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        return None


@pytest.fixture
async def twilio(api: Api) -> AsyncIterator[FakeTwilio]:
    """The fake Twilio running, and the API sending through it (retries 50 ms apart)."""
    fake = FakeTwilio()
    serving = asyncio.create_task(fake.server.serve())
    while not fake.server.started:
        await asyncio.sleep(0.01)
    provider = TwilioSmsProvider(
        "AC123", "secret", "+74950000000", api_url=f"http://127.0.0.1:{fake.port}"
    )
    service = MessagingService(
        api.sessionmaker, provider, Quiet(), from_number="+74950000000", retries=(0.05, 0.05)
    )
    api.app.state.context = replace(api.app.state.context, messaging=service)
    yield fake
    await service.aclose()
    await provider.aclose()
    fake.server.should_exit = True
    await serving


async def reply_to_ivan(api: Api, **extra: Any) -> httpx.Response:
    await seed_contacts(api.sessionmaker)
    return await api.client.post(
        "/api/contacts/1/sms",
        json={"body": "Your order 1234 is ready.", **extra},
        headers=api.auth(Role.AGENT),
    )


async def test_a_reply_goes_out_through_twilio_and_shows_on_the_timeline(
    api: Api, twilio: FakeTwilio
) -> None:
    reply = await reply_to_ivan(api)
    assert reply.status_code == 201, reply.text
    sent = reply.json()
    assert (sent["status"], sent["recipient"], sent["provider_id"]) == ("sent", IVAN, "SM0001")
    (request,) = twilio.received
    assert (request["To"], request["From"], request["account"]) == (IVAN, "+74950000000", "AC123")
    assert request["auth"].startswith("Basic ")
    entries = await ContactRepository(api.sessionmaker).timeline(1, 5)
    assert entries is not None
    out = [e for e in entries if e["direction"] == "outbound"]
    assert (out[0]["outcome"], out[0]["agent"]) == ("sent", "agent1")


async def test_a_failing_provider_is_retried_with_the_attempts_visible(
    api: Api, twilio: FakeTwilio
) -> None:
    twilio.answers = [(503, {}), (500, {})]
    reply = await reply_to_ivan(api)
    assert reply.json()["status"] == "retrying"
    for _ in range(100):
        entries = await ContactRepository(api.sessionmaker).timeline(1, 5)
        assert entries is not None
        if [e["outcome"] for e in entries if e["direction"] == "outbound"] == ["sent"]:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the SMS was never sent")
    assert len(twilio.received) == 3


async def test_a_refused_number_fails_at_once(api: Api, twilio: FakeTwilio) -> None:
    twilio.answers = [(400, {"message": "The 'To' number is not a valid phone number."})]
    reply = await reply_to_ivan(api)
    failed = reply.json()
    assert failed["status"] == "failed" and "not a valid phone number" in failed["error"]
    await asyncio.sleep(0.2)
    assert len(twilio.received) == 1


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"to": "+79990000000"}, 422, "not one of the contact's numbers"),
        ({"to": "call me"}, 422, "not a valid phone number"),
        ({"body": "   "}, 422, "needs text"),
    ],
)
async def test_a_bad_reply_is_refused_with_the_reason(
    api: Api, twilio: FakeTwilio, body: dict[str, str], status: int, problem: str
) -> None:
    reply = await reply_to_ivan(api, **body)
    error = assert_error(reply, status, "request.invalid")
    assert problem in error["message"]
    assert twilio.received == []


async def test_replies_owed_at_a_restart_are_sent_when_the_server_starts(
    api: Api, twilio: FakeTwilio
) -> None:
    twilio.answers = [(503, {}), (503, {}), (503, {})]
    first = (await reply_to_ivan(api)).json()
    assert first["status"] == "retrying"
    service: MessagingService = api.app.state.context.messaging
    await service.aclose()  # the server stops while the reply is still owed
    await asyncio.sleep(0.2)
    twilio.answers = []
    restarted = MessagingService(
        api.sessionmaker, service.provider, Quiet(), from_number="+74950000000", retries=(0.05,)
    )
    assert await restarted.resume() == 1
    for _ in range(100):
        if (await restarted.message(first["id"]))["status"] == "sent":
            break
        await asyncio.sleep(0.02)
    assert (await restarted.message(first["id"]))["status"] == "sent"
    await restarted.aclose()


async def test_two_contacts_of_one_customer_are_merged_with_everything_kept(api: Api) -> None:
    await seed_contacts(api.sessionmaker)
    assert (await twilio_post(api, sms("SM-m", "+79265551234", "It's Ivan, new phone"))).is_success
    contacts = ContactRepository(api.sessionmaker)
    (stranger,) = await contacts.by_phone("+79265551234")
    supervisor = api.auth(Role.SUPERVISOR)
    reply = await api.client.post(
        "/api/contacts/1/merge", json={"duplicate": stranger.contact_id}, headers=supervisor
    )
    assert reply.status_code == 200, reply.text
    merged = reply.json()
    assert merged["aliases"] == ["phone:+79265551234"] and merged["messages"] == 1
    assert "+79265551234" in merged["contact"]["phones"]
    assert await contacts.get(stranger.contact_id) is None
    entries = await contacts.timeline(1, 20)
    assert entries is not None and "It's Ivan, new phone" in [e["summary"] for e in entries]
    again = await twilio_post(api, sms("SM-m2", "+79265551234", "me again"))
    assert again.is_success and (await contacts.by_phone("+79265551234"))[0].contact_id == 1
    same = await api.client.post("/api/contacts/1/merge", json={"duplicate": 1}, headers=supervisor)
    assert_error(same, 422, "request.invalid")
    agent = await api.client.post(
        "/api/contacts/1/merge", json={"duplicate": 2}, headers=api.auth(Role.AGENT)
    )
    assert agent.status_code == 403


async def test_after_the_wrap_up_the_customer_rates_the_agent_by_sms(api: Api) -> None:
    await seed_contacts(api.sessionmaker)
    agent = api.auth(Role.AGENT)
    call = test_api.LIVE[0]["linkedid"]
    wrapped = await api.client.post(
        f"/api/calls/{call}/wrapup", json={"disposition": "resolved"}, headers=agent
    )
    assert wrapped.status_code == 201, wrapped.text
    assert wrapped.json()["survey"]["channel"] == "sms"
    again = await api.client.post(
        f"/api/calls/{call}/wrapup", json={"disposition": "sale"}, headers=agent
    )
    assert again.json()["survey"] is None, "one survey per call"
    entries = await ContactRepository(api.sessionmaker).timeline(1, 5)
    assert entries is not None and entries[0]["summary"].startswith("How did agent1 do today?")
    assert (await twilio_post(api, sms("SM-r1", IVAN, "not a number"))).is_success
    assert (await twilio_post(api, sms("SM-r2", IVAN, " 4. "))).is_success
    scores = (await api.client.get("/api/agents/agent1/csat", headers=agent)).json()
    assert (scores["asked"], scores["answered"], scores["average"]) == (1, 1, 4.0)
    assert scores["scores"]["4"] == 1
    other = await api.client.get("/api/agents/someone/csat", headers=agent)
    assert_error(other, 403, "auth.forbidden")


async def test_a_notice_that_fails_by_sms_cascades_to_email(api: Api, twilio: FakeTwilio) -> None:
    await seed_contacts(api.sessionmaker)
    twilio.answers = [(400, {"message": "Unreachable destination"})]
    reply = await api.client.post(
        "/api/contacts/1/notify",
        json={"text": "Order 1234 is ready for delivery.", "subject": "Order 1234"},
        headers=api.auth(Role.AGENT),
    )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["channel"], reply.json()["status"]) == ("sms", "failed")
    for _ in range(100):
        entries = await ContactRepository(api.sessionmaker).timeline(1, 5)
        assert entries is not None
        out = [(e["channel"], e["outcome"]) for e in entries if e["direction"] == "outbound"]
        if ("email", "sent") in out:
            break
        await asyncio.sleep(0.02)
    assert out[:2] == [("email", "sent"), ("sms", "failed")]
    assert entries[0]["summary"] == "Order 1234: Order 1234 is ready for delivery."


async def test_a_notice_to_someone_unreachable_is_refused(api: Api) -> None:
    contact_id = await ContactRepository(api.sessionmaker).create("Nobody")
    reply = await api.client.post(
        f"/api/contacts/{contact_id}/notify",
        json={"text": "Hello"},
        headers=api.auth(Role.AGENT),
    )
    error = assert_error(reply, 422, "request.invalid")
    assert "none of sms, email" in error["message"]


async def test_closing_a_conversation_asks_for_a_rating_and_the_next_message_starts_anew(
    api: Api,
) -> None:
    await seed_contacts(api.sessionmaker)
    agent = api.auth(Role.AGENT)
    assert (await twilio_post(api, sms("SM-c1", IVAN, "Can you deliver on Friday?"))).is_success
    closed = await api.client.post("/api/contacts/1/conversation/close", headers=agent)
    assert closed.status_code == 200, closed.text
    assert closed.json()["survey"]["about"].startswith("conversation:")
    again = await api.client.post("/api/contacts/1/conversation/close", headers=agent)
    assert_error(again, 409, "conversation.none")
    assert (await twilio_post(api, sms("SM-c2", IVAN, "5"))).is_success
    scores = (await api.client.get("/api/agents/agent1/csat", headers=agent)).json()
    assert (scores["answered"], scores["average"]) == (1, 5.0)
