"""What the agent desktop calls over HTTP: the wrap-up of a call and the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.contacts.facts import Channel, InteractionFact
from cti.demo import seed_contacts
from cti.store.contacts import ContactRepository
from cti.store.repositories import CallRepository
from tests.integration import test_api
from tests.integration.test_api import LIVE, Api, assert_error

api = test_api.api
settings = test_api.settings

pytestmark = pytest.mark.integration

CALL = LIVE[0]["linkedid"]


async def test_the_wrap_up_lands_on_the_customers_timeline_once(api: Api) -> None:
    await seed_contacts(api.sessionmaker)
    agent = api.auth(Role.AGENT)
    body = {"disposition": "sale", "notes": "Delivery booked for Friday."}
    reply = await api.client.post(f"/api/calls/{CALL}/wrapup", json=body, headers=agent)
    assert reply.status_code == 201, reply.text
    saved = reply.json()
    assert (saved["contact_id"], saved["disposition"], saved["by"]) == (1, "sale", "agent1")
    again = {"disposition": "resolved", "notes": "Delivery booked for Friday, 10-14."}
    assert (
        await api.client.post(f"/api/calls/{CALL}/wrapup", json=again, headers=agent)
    ).status_code == 201
    page = (await api.client.get("/api/contacts/1/timeline", headers=agent)).json()
    mine = [item for item in page["items"] if item["ref"] == f"wrapup:{CALL}"]
    assert len(mine) == 1, "a second wrap-up replaces the first"
    assert (mine[0]["outcome"], mine[0]["agent"], mine[0]["channel"]) == (
        "resolved",
        "agent1",
        "voice",
    )
    assert mine[0]["summary"] == "Delivery booked for Friday, 10-14."
    live = await api.app.state.context.live_calls.call(CALL)
    assert live["wrapup"]["disposition"] == "resolved"


async def test_only_the_agent_who_took_the_call_or_a_supervisor_wraps_it_up(api: Api) -> None:
    await create_user(
        api.sessionmaker,
        username="bob",
        password="bob-password",
        role="agent",
        agent_interface="PJSIP/1002",
        passwords=Passwords.fast(),
    )
    login = await api.client.post(
        "/api/auth/login", json={"username": "bob", "password": "bob-password"}
    )
    bob = {"Authorization": f"Bearer {login.json()['token']}"}
    body = {"disposition": "resolved"}
    reply = await api.client.post(f"/api/calls/{CALL}/wrapup", json=body, headers=bob)
    assert_error(reply, 403, "auth.forbidden")
    supervisor = api.auth(Role.SUPERVISOR)
    reply = await api.client.post(f"/api/calls/{CALL}/wrapup", json=body, headers=supervisor)
    assert reply.status_code == 201


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"disposition": "teleported"}, "disposition"),
        ({"disposition": "resolved", "notes": "x" * 2001}, "notes"),
        ({}, "disposition"),
    ],
)
async def test_a_bad_wrap_up_names_the_field(api: Api, body: dict[str, str], problem: str) -> None:
    reply = await api.client.post(
        f"/api/calls/{CALL}/wrapup", json=body, headers=api.auth(Role.AGENT)
    )
    error = assert_error(reply, 422, "request.invalid")
    assert problem in error["message"]


async def test_a_call_nobody_knows_is_404(api: Api) -> None:
    reply = await api.client.post(
        "/api/calls/1795400000.9/wrapup",
        json={"disposition": "resolved"},
        headers=api.auth(Role.SUPERVISOR),
    )
    assert_error(reply, 404, "call.not_found")


async def test_a_stranger_becomes_a_contact_on_wrap_up_and_a_stored_call_keeps_it(
    api: Api,
) -> None:
    call = {
        "linkedid": "1795409999.1",
        "direction": "inbound",
        "started_at": 1795409999.0,
        "answered_at": 1795410004.0,
        "ended_at": 1795410100.0,
        "caller_num": "+79645550108",
        "caller_name": "Nina Orlova",
        "agent": "PJSIP/1001",
        "outcome": "answered",
        "rings": [],
        "transfers": [],
    }
    await CallRepository(api.sessionmaker).save_many([call])
    reply = await api.client.post(
        "/api/calls/1795409999.1/wrapup",
        json={"disposition": "follow_up", "notes": "Wants a catalogue."},
        headers=api.auth(Role.AGENT),
    )
    assert reply.status_code == 201, reply.text
    contact_id = reply.json()["contact_id"]
    contact = await ContactRepository(api.sessionmaker).get(contact_id)
    assert contact is not None and contact["phones"] == ["+79645550108"]
    stored = await CallRepository(api.sessionmaker).get("1795409999.1")
    assert stored is not None and stored["wrapup"]["notes"] == "Wants a catalogue."


async def test_the_timeline_pages_newest_first(api: Api) -> None:
    contacts = ContactRepository(api.sessionmaker)
    contact_id = await contacts.create("Olga Smirnova")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(25):
        entry = InteractionFact(start + timedelta(hours=n), Channel.SMS, summary=f"message {n}")
        await contacts.add_interaction(contact_id, entry)
    agent = api.auth(Role.AGENT)
    url = f"/api/contacts/{contact_id}/timeline"
    first = (await api.client.get(url, headers=agent)).json()
    assert [i["summary"] for i in first["items"][:2]] == ["message 24", "message 23"]
    assert len(first["items"]) == 20 and first["next_before"]
    second = (
        await api.client.get(url, params={"before": first["next_before"]}, headers=agent)
    ).json()
    assert [i["summary"] for i in second["items"]] == [f"message {n}" for n in range(4, -1, -1)]
    assert second["next_before"] is None
    bad = await api.client.get(url, params={"before": "9" * 20 + "_1"}, headers=agent)
    assert_error(bad, 422, "request.invalid")
    bad = await api.client.get(url, params={"before": "yesterday"}, headers=agent)
    assert_error(bad, 422, "request.invalid")
    missing = await api.client.get("/api/contacts/999999/timeline", headers=agent)
    assert missing.status_code == 404


async def test_finished_calls_of_a_known_customer_are_on_their_timeline_once(api: Api) -> None:
    await seed_contacts(api.sessionmaker)
    base = {"direction": "inbound", "caller_num": "+79161234567", "contact_id": "1"}
    answered = {
        **base,
        "linkedid": "1795500000.1",
        "started_at": 1795500000.0,
        "ended_at": 1795500200.0,
        "outcome": "answered",
        "queue": "sales",
        "agent_name": "Alice",
        "talk_seconds": 125.0,
        "reason": "order_ready",
    }
    abandoned = {
        **base,
        "linkedid": "1795500500.1",
        "started_at": 1795500500.0,
        "ended_at": 1795500545.0,
        "outcome": "abandoned",
        "queue": "sales",
        "wait_seconds": 45.0,
    }
    gone = {**abandoned, "linkedid": "1795500900.1", "contact_id": "999999"}
    calls = CallRepository(api.sessionmaker)
    await calls.save_many([answered, abandoned, gone])
    await calls.save_many([answered])  # written again: still one entry
    agent = api.auth(Role.AGENT)
    page = (
        await api.client.get("/api/contacts/1/timeline", params={"channel": "voice"}, headers=agent)
    ).json()
    assert [(i["summary"], i["outcome"]) for i in page["items"]] == [
        ("Hung up waiting (sales) after 45 s", "abandoned"),
        ("Call answered by Alice (sales), 2 min 5 s", "answered"),
    ]
    emails = (
        await api.client.get("/api/contacts/1/timeline", params={"channel": "email"}, headers=agent)
    ).json()
    assert {i["channel"] for i in emails["items"]} == {"email"}
    bad = await api.client.get("/api/contacts/1/timeline", params={"channel": "fax"}, headers=agent)
    assert_error(bad, 422, "request.invalid")


async def test_staffing_from_the_queues_last_hour(api: Api) -> None:
    import time

    now = time.time()
    calls = [
        {
            "linkedid": f"{now - 600 + n:.1f}",
            "started_at": now - 600 + n,
            "ended_at": now - 300 + n,
            "queue": "sales",
            "outcome": "answered",
            "talk_seconds": 170.0 + 20 * (n % 2),
        }
        for n in range(200)
    ]
    await CallRepository(api.sessionmaker).save_many(calls)
    supervisor = api.auth(Role.SUPERVISOR)
    reply = await api.client.get("/api/queues/sales/staffing", headers=supervisor)
    assert reply.status_code == 200, reply.text
    figures = reply.json()
    assert (figures["calls_per_hour"], figures["aht_seconds"], figures["agents"]) == (
        200,
        180.0,
        14,
    )
    empty = await api.client.get("/api/queues/billing/staffing", headers=supervisor)
    assert_error(empty, 422, "request.invalid")
    agent = await api.client.get("/api/queues/sales/staffing", headers=api.auth(Role.AGENT))
    assert agent.status_code == 403
