"""Screen-pops over a real WebSocket, from calls placed on the simulated PBX."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from cti.auth.service import user_for_token
from cti.auth.tokens import TokenSigner
from tests.desk import IVAN, SECRET_KEY, Desk, desk_settings, next_of, running_desk

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    async with running_desk(desk_settings(database_url)) as running:
        yield running


async def closed_with(ws: websockets.ClientConnection) -> tuple[int, dict[str, object] | None]:
    """How the server closed the socket, and the error it sent first."""
    error = None
    try:
        async with asyncio.timeout(8):
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "error":
                    error = message
    except ConnectionClosed:
        pass
    assert ws.close_code is not None
    return ws.close_code, error


async def test_the_pop_reaches_the_agent_while_the_phone_rings_and_follows_the_call(
    desk: Desk,
) -> None:
    alice, hello = await desk.screen("alice")
    assert hello["user"]["username"] == "alice" and hello["pops"] == []
    assert hello["agent"]["state"] == "available"
    assert {"id": "resolved", "label": "Resolved"} in hello["dispositions"]
    call = desk.call(IVAN, digits="1")
    ringing = await next_of(alice, "pop")
    assert ringing["call"]["stage"] == "ringing"
    assert ringing["contact"]["name"] == "Ivan Petrov"
    assert ringing["caller"]["match"] == "exact"
    assert ringing["reason"]["id"] == "delivery_booking"
    assert any("offer delivery" in hint["text"] for hint in ringing["dossier"]["hints"])
    assert ringing["dossier"]["last_contacts"][0]["channel"] == "email"
    assert ringing["route"]["rule"] == "delivery"
    talking = await next_of(alice, "pop")
    assert talking["call"]["stage"] == "talking" and talking["call"]["id"] == ringing["call"]["id"]
    ended = await next_of(alice, "pop", timeout=15)
    assert ended["call"]["stage"] == "ended"
    assert (await call).outcome == "answered"

    again, hello = await desk.screen("alice")
    assert [p["call"]["stage"] for p in hello["pops"]] == ["ended"], "a reconnect loses nothing"
    token = await desk.token("alice")
    async with httpx.AsyncClient(base_url=desk.base) as client:
        await asyncio.sleep(0.3)  # the call record is written
        reply = await client.post(
            f"/api/calls/{ended['call']['id']}/wrapup",
            json={"disposition": "sale", "notes": "Delivery on Friday"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 201, reply.text
    for screen in (alice, again):
        closed = await next_of(screen, "pop.closed")
        assert closed["call_id"] == ended["call"]["id"]
    _, hello = await desk.screen("alice")
    assert hello["pops"] == []
    await alice.close()
    await again.close()


async def test_a_supervisor_may_watch_an_agent_and_an_agent_may_not(desk: Desk) -> None:
    watching, hello = await desk.screen("sam", agent="alice")
    assert hello["user"]["username"] == "sam" and hello["agent"]["username"] == "alice"
    desk.call(IVAN, digits="1")
    assert (await next_of(watching, "pop"))["contact"]["name"] == "Ivan Petrov"
    ws = await websockets.connect(desk.ws_url)
    await ws.send(json.dumps({"type": "auth", "token": await desk.token("bob"), "agent": "alice"}))
    code, error = await closed_with(ws)
    assert code == 4403 and error is not None and error["code"] == "auth.forbidden"


async def test_an_agents_state_reaches_their_screen(desk: Desk) -> None:
    alice, _ = await desk.screen("alice")
    token = await desk.token("alice")
    async with httpx.AsyncClient(base_url=desk.base) as client:
        headers = {"Authorization": f"Bearer {token}"}
        reply = await client.post(
            "/api/agents/alice/pause", json={"reason": "lunch"}, headers=headers
        )
        assert reply.status_code == 200, reply.text
        state = await next_of(alice, "agent")
        assert (state["agent"]["state"], state["agent"]["pause_reason"]) == ("paused", "lunch")
        await client.post("/api/agents/alice/unpause", headers=headers)
        assert (await next_of(alice, "agent"))["agent"]["state"] == "available"


@pytest.mark.parametrize(
    ("first", "code", "error"),
    [
        (None, 4408, "auth.timeout"),
        ('{"type": "auth", "token": "not-a-token"}', 4401, "auth.invalid"),
        ('{"type": "auth"}', 1008, "auth.expected"),
        ("not json at all", 1008, "malformed"),
        ('["auth"]', 1008, "malformed"),
        (b"\x00\x01", 1008, "binary"),
        ('{"type": "auth", "token": "' + "x" * 5000 + '"}', 1009, "too_big"),
    ],
)
async def test_a_bad_start_is_refused_with_a_close_code(
    desk: Desk, first: str | bytes | None, code: int, error: str
) -> None:
    ws = await websockets.connect(desk.ws_url)
    if first is not None:
        await ws.send(first)
    got, sent = await closed_with(ws)
    assert got == code and sent is not None and sent["code"] == error


async def test_malformed_and_flooding_clients_are_closed_and_others_carry_on(desk: Desk) -> None:
    steady, _ = await desk.screen("alice")
    chatty, _ = await desk.screen("alice")
    await chatty.send('{"type": "ping"}')
    assert (await next_of(chatty, "pong"))["type"] == "pong"
    await chatty.send('{"type": "subscribe", "everything": true}')
    assert (await closed_with(chatty))[0] == 1008
    flood, _ = await desk.screen("alice")
    for _ in range(200):
        await flood.send('{"type": "ping"}')
    code, error = await closed_with(flood)
    assert code == 1008 and error is not None and error["code"] == "flood"
    await steady.send('{"type": "ping"}')
    assert (await next_of(steady, "pong"))["type"] == "pong"


async def test_an_expired_token_closes_the_socket(desk: Desk) -> None:
    short = TokenSigner(SECRET_KEY, ttl=timedelta(seconds=1))
    claims = TokenSigner(SECRET_KEY).verify(await desk.token("alice"))
    user = await user_for_token(desk.runtime.sessionmaker, claims)
    ws = await websockets.connect(desk.ws_url)
    await ws.send(json.dumps({"type": "auth", "token": short.issue(user).token}))
    assert json.loads(await ws.recv())["type"] == "hello"
    code, error = await closed_with(ws)
    assert code == 4401 and error is not None and error["code"] == "auth.expired"


async def test_a_screen_watching_a_customer_hears_of_their_new_messages(desk: Desk) -> None:
    from cti.messaging.sms import InboundSms

    alice, _ = await desk.screen("alice")
    await alice.send(json.dumps({"type": "watch", "contact_id": 1}))
    await alice.send('{"type": "ping"}')
    await next_of(alice, "pong")  # the watch is in place
    sms = InboundSms("generic", "w-1", IVAN, "+74950000000", "Can you deliver on Friday?")
    received = await desk.runtime.messaging.receive_sms(sms)
    entry = await next_of(alice, "timeline")
    assert (entry["contact_id"], entry["message_id"]) == (1, received.message_id)
    await alice.send('{"type": "watch", "contact_id": "everyone"}')
    assert (await closed_with(alice))[0] == 1008


async def test_a_customers_message_goes_to_the_agent_who_served_them_and_stays_there(
    desk: Desk,
) -> None:
    from cti.messaging.sms import InboundSms
    from cti.store.models import MessageRecord

    alice, _ = await desk.screen("alice")
    first = await desk.runtime.messaging.receive_sms(
        InboundSms("generic", "a-1", IVAN, "+74950000000", "Can you deliver on Friday?")
    )
    given = await next_of(alice, "message")
    assert (given["contact_id"], given["message_id"]) == (1, first.message_id)
    assert given["why"] == "alice served this customer last"
    second = await desk.runtime.messaging.receive_sms(
        InboundSms("generic", "a-2", IVAN, "+74950000000", "Morning is best")
    )
    again = await next_of(alice, "message")
    assert again["message_id"] == second.message_id
    assert again["why"] == "alice has this conversation open"
    stranger = await desk.runtime.messaging.receive_sms(
        InboundSms("generic", "a-3", "+79645550199", "+74950000000", "Where is my parcel? Late!")
    )
    routed = await next_of(alice, "message")
    assert routed["message_id"] == stranger.message_id
    assert routed["why"].startswith("rule delivery (reason delivery_late)")
    assert desk.runtime.messaging.assigner is not None
    async with desk.runtime.sessionmaker() as session:
        owner = await session.get(MessageRecord, stranger.message_id)
        assert owner is not None and owner.assigned_to == "alice"


def test_reasons_are_guessed_from_keywords() -> None:
    from cti.messaging.assign import guess_reason

    assert guess_reason("Мой заказ сломан, хочу возврат") == "complaint"
    assert guess_reason("Where is my parcel?") == "delivery_late"
    assert guess_reason("Please send the invoice") == "debt"
    assert guess_reason("Hello there") is None
