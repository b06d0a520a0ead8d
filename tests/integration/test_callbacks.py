"""Click-to-call, virtual hold and the call-back list, end to end: the whole server over
HTTP and WebSockets, the PBX simulator over AMI and FastAGI, the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cti.callbacks.rules import RULES_NAME
from cti.callbacks.service import shipped_rules
from cti.pbxsim import Callee
from cti.store.callbacks import CallbackRepository, NewCallback
from cti.store.contacts import ContactRepository
from cti.store.models import CallRecord
from tests.desk import IVAN, Desk, desk_settings, next_of, running_desk, wait_until

pytestmark = pytest.mark.integration

AGENTS = ("PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004")


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    async with running_desk(desk_settings(database_url)) as desk:
        rules = {
            **shipped_rules(),
            "offer_after_wait": 0,
            "retry_minutes": [1],
            "agent_rest_seconds": 0,
        }
        await desk.runtime.outbound.rule_store.save(RULES_NAME, rules, author="test")
        desk.runtime.outbound.forget_rules()
        yield desk


async def client(desk: Desk, username: str) -> httpx.AsyncClient:
    token = await desk.token(username)
    return httpx.AsyncClient(base_url=desk.base, headers={"Authorization": f"Bearer {token}"})


async def attempt_done(desk: Desk, attempt_id: int, timeout: float = 20.0) -> dict[str, Any]:
    store = desk.runtime.outbound.store
    async with asyncio.timeout(timeout):
        while True:
            found = await store.attempt(attempt_id)
            if found and found["result"]:
                return found
            await asyncio.sleep(0.05)


async def ivan(desk: Desk) -> int:
    (candidate,) = await ContactRepository(desk.runtime.sessionmaker).by_phone(IVAN)
    return candidate.contact_id


async def test_click_to_call_rings_the_agent_then_the_customer(desk: Desk) -> None:
    contact_id = await ivan(desk)
    ws, _ = await desk.screen("alice")
    async with await client(desk, "alice") as api:
        reply = await api.post(
            "/api/outbound/calls", json={"number": "8 (916) 123-45-67", "contact_id": contact_id}
        )
        assert reply.status_code == 202, reply.text
        attempt = reply.json()
        assert (attempt["number"], attempt["agent"], attempt["kind"]) == (
            IVAN,
            "PJSIP/1001",
            "click_to_call",
        )
        pop = await next_of(ws, "pop")
        assert pop["call"]["direction"] == "outbound" and pop["call"]["caller_num"] == IVAN
        told = await next_of(ws, "outbound", timeout=20)
        assert (told["result"], told["attempt_id"]) == ("answered", attempt["id"])
        done = await attempt_done(desk, attempt["id"])
        assert done["result"] == "answered"
        await wait_until(lambda: not desk.runtime.service.active(), timeout=20)
        await desk.runtime.writer.flush()
        async with desk.runtime.sessionmaker() as session:
            record = await session.scalar(
                select(CallRecord).where(CallRecord.linkedid == attempt["linkedid"])
            )
        assert record is not None
        assert (record.direction, record.caller_num, record.outcome) == (
            "outbound",
            IVAN,
            "answered",
        )
        timeline = (await api.get(f"/api/contacts/{contact_id}/timeline")).json()
        entries = [e for e in timeline["items"] if e["ref"] == f"outbound:{attempt['id']}"]
        assert entries and entries[0]["direction"] == "outbound"
        assert entries[0]["outcome"] == "answered"
    await ws.close()


@pytest.mark.parametrize(
    ("callee", "result"),
    [
        (Callee(busy=True), "busy"),
        (Callee(answer_after=None), "noanswer"),
        (Callee(unavailable=True), "unavailable"),
    ],
)
async def test_a_customer_who_does_not_answer_is_reported(
    desk: Desk, callee: Callee, result: str
) -> None:
    desk.sim.callees[IVAN] = callee
    ws, _ = await desk.screen("alice")
    async with await client(desk, "alice") as api:
        reply = await api.post("/api/outbound/calls", json={"number": IVAN})
        assert reply.status_code == 202, reply.text
        told = await next_of(ws, "outbound", timeout=60)
        assert told["result"] == result and told["text"]
        contact_id = await ivan(desk)
        timeline = (await api.get(f"/api/contacts/{contact_id}/timeline")).json()
        (entry,) = [e for e in timeline["items"] if e["ref"] == f"outbound:{told['attempt_id']}"]
        assert entry["outcome"] == result
    await ws.close()


async def test_an_agent_who_does_not_answer_is_told(desk: Desk) -> None:
    for queue in desk.sim.pbx.queues.values():
        for member in queue.members:
            if member.interface == "PJSIP/1001":
                member.answer_after = None
    ws, _ = await desk.screen("alice")
    async with await client(desk, "alice") as api:
        reply = await api.post("/api/outbound/calls", json={"number": IVAN})
        assert reply.status_code == 202
        told = await next_of(ws, "outbound", timeout=60)
        assert told["result"] == "agent_noanswer"
    await ws.close()


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        ("not a number", 422, "outbound.invalid_number"),
        ("+7 809 555 12 34", 403, "outbound.blocked_number"),
        (IVAN, 403, "outbound.do_not_call"),
    ],
)
async def test_numbers_that_may_not_be_called_are_refused(
    desk: Desk, number: str, status: int, code: str
) -> None:
    desk.runtime.outbound.settings.blocked_prefixes.append("+7809")
    contact_id = await ivan(desk)
    async with await client(desk, "alice") as api:
        marked = await api.put(
            f"/api/contacts/{contact_id}/do-not-call", json={"number": "89161234567"}
        )
        assert marked.json() == {"contact_id": contact_id, "number": IVAN, "do_not_call": True}
        assert (await api.get(f"/api/contacts/{contact_id}")).json()["do_not_call"] == [IVAN]
        reply = await api.post("/api/outbound/calls", json={"number": number})
        assert reply.status_code == status
        assert reply.json()["error"]["id"] == code
    assert desk.sim.pbx.channels == {} or all(
        not c.name.startswith("PJSIP/1001") for c in desk.sim.pbx.channels.values()
    )


async def test_a_user_without_a_phone_cannot_click_to_call(desk: Desk) -> None:
    async with await client(desk, "sam") as api:
        reply = await api.post("/api/outbound/calls", json={"number": IVAN})
    assert reply.status_code == 422 and reply.json()["error"]["id"] == "outbound.no_phone"


async def pause(desk: Desk, interfaces: tuple[str, ...], paused: bool) -> None:
    for interface in interfaces:
        await desk.runtime.ami.action(
            "QueuePause", Interface=interface, Paused="true" if paused else "false", Reason="test"
        )


async def owed(desk: Desk, state: str = "owed") -> list[dict[str, Any]]:
    return await desk.runtime.outbound.store.page(states=(state,))


async def test_a_caller_who_presses_1_keeps_their_place_and_is_called_back(desk: Desk) -> None:
    await pause(desk, AGENTS, True)
    plan = desk.sim.plan("answered", caller=IVAN, name="", digits="1", hold=120.0)
    plan.script.press_delay = 0.3
    plan.queue_keys = ((2.0, "1"),)
    result = await asyncio.wait_for(desk.sim.place_call(plan=plan), 60)
    assert result.outcome == "key_exit"
    (callback,) = await owed(desk)
    assert (callback["number"], callback["source"]) == (IVAN, "virtual_hold")
    assert callback["wait_seconds"] is not None
    ws, _ = await desk.screen("alice")
    await pause(desk, ("PJSIP/1001",), False)
    told = await next_of(ws, "outbound", timeout=60)
    assert (told["kind"], told["result"], told["callback_id"]) == (
        "callback",
        "answered",
        callback["id"],
    )
    found = await desk.runtime.outbound.store.get(callback["id"])
    assert found is not None and found["state"] == "done" and found["attempts"] == 1
    assert found["history"][0]["requested_by"] == "scheduler"
    await wait_until(lambda: desk.runtime.routing.agents["alice"].pause_reason is None, 60)
    await ws.close()


async def test_an_owed_call_back_stored_elsewhere_is_served_and_retried(desk: Desk) -> None:
    """As after a restart, or when another process's IVR took the promise: the scheduler
    reads it from the database; a busy customer is retried at the same place."""
    await pause(desk, AGENTS[1:], True)
    desk.sim.callees[IVAN] = Callee(busy=True)
    store = CallbackRepository(desk.runtime.sessionmaker)
    callback_id = await store.owe(
        NewCallback(number=IVAN, queue="sales", place=1.0, source="virtual_hold")
    )
    assert callback_id is not None

    async def attempts() -> int:
        found = await store.get(callback_id)
        return found["attempts"] if found else 0

    async with asyncio.timeout(60):
        while await attempts() < 1:
            await asyncio.sleep(0.1)
    found = await store.get(callback_id)
    assert found is not None
    assert (found["state"], found["last_result"]) in {("owed", "busy"), ("dialing", "busy")}
    assert found["next_attempt_at"] is not None, "retried after retry_minutes"


async def test_abandoned_callers_are_listed_taken_called_back_and_closed(desk: Desk) -> None:
    await pause(desk, AGENTS, True)
    plan = desk.sim.plan("answered", caller=IVAN, name="", digits="1", hold=3.0)
    plan.script.press_delay = 0.3
    await asyncio.wait_for(desk.sim.place_call(plan=plan), 60)
    async with asyncio.timeout(20):
        while not await owed(desk):
            await asyncio.sleep(0.05)
    (entry,) = await owed(desk)
    assert entry["source"] == "abandoned" and entry["contact_name"]
    await pause(desk, ("PJSIP/1001",), False)
    async with await client(desk, "alice") as alice, await client(desk, "bob") as bob:
        listed = (await alice.get("/api/callbacks")).json()["callbacks"]
        assert [c["id"] for c in listed] == [entry["id"]]
        assert (await alice.post(f"/api/callbacks/{entry['id']}/take")).status_code == 200
        taken = await bob.post(f"/api/callbacks/{entry['id']}/call")
        assert taken.status_code == 409 and taken.json()["error"]["id"] == "callback.taken"
        called = await alice.post(f"/api/callbacks/{entry['id']}/call")
        assert called.status_code == 202, called.text
        done = await attempt_done(desk, called.json()["id"], timeout=60)
        assert done["result"] == "answered"
        found = (await alice.get(f"/api/callbacks/{entry['id']}")).json()
        assert found["state"] == "done" and len(found["history"]) == 1
        again = await alice.post(
            f"/api/callbacks/{entry['id']}/close", json={"state": "given_up", "note": "x"}
        )
        assert again.status_code == 409


async def test_a_call_back_closed_by_hand_is_audited(desk: Desk) -> None:
    store = CallbackRepository(desk.runtime.sessionmaker)
    callback_id = await store.owe(
        NewCallback(number=IVAN, queue="sales", place=1.0, source="abandoned")
    )
    async with await client(desk, "alice") as alice:
        closed = await alice.post(
            f"/api/callbacks/{callback_id}/close",
            json={"state": "given_up", "note": "wrong number"},
        )
        assert closed.status_code == 200
        assert closed.json()["state"] == "given_up" and closed.json()["closed_by"] == "alice"
        missing = await alice.post("/api/callbacks/999999/close", json={"state": "done"})
        assert missing.status_code == 404


async def test_call_back_rules_are_checked_versioned_and_admin_only(desk: Desk) -> None:
    async with await client(desk, "sam") as sam:
        current = (await sam.get("/api/callbacks/rules")).json()
        assert current["body"]["offer_after_wait"] == 0
        refused = await sam.put("/api/callbacks/rules", json={"rules": current["body"]})
        assert refused.status_code == 403
        checked = await sam.post("/api/callbacks/rules/check", json={"rules": {}})
        assert checked.status_code == 403


async def test_the_ivr_offers_a_call_back_before_a_long_wait(desk: Desk) -> None:
    rules = {**shipped_rules(), "offer_after_wait": 1}
    await desk.runtime.outbound.rule_store.save(RULES_NAME, rules, author="test")
    desk.runtime.outbound.forget_rules()
    await pause(desk, AGENTS, True)
    first = desk.sim.plan("answered", caller="+79645550108", name="", digits="2", hold=600.0)
    first.script.press_delay = 0.3
    waiting = desk.sim.place_call(plan=first)
    await wait_until(lambda: "sales" in desk.runtime.routing.board.oldest_joined(), 20)
    await asyncio.sleep(1.5)  # the first caller has waited over the threshold (1 s)
    plan = desk.sim.plan("answered", caller=IVAN, name="", digits="01", hold=60.0)  # a person
    plan.script.press_delay = 0.3
    result = await asyncio.wait_for(desk.sim.place_call(plan=plan), 60)
    assert result.variables["CTI_IVR_RESULT"] == "callback", result.variables
    (callback,) = await owed(desk)
    assert (callback["number"], callback["queue"], callback["source"]) == (
        IVAN,
        "sales",
        "virtual_hold",
    )
    await wait_until(lambda: len(desk.runtime.service.active()) == 1, 20)
    await desk.runtime.writer.flush()
    (stored,) = [
        c for c in await desk.runtime.writer.store.recent(limit=5) if c["caller_num"] == IVAN
    ]
    assert stored["ivr_path"].endswith("callback_offer>callback")
    waiting.cancel()


async def test_an_earlier_call_back_gets_the_free_agent_before_a_later_caller(
    database_url: str,
) -> None:
    """The agent comes free while a caller who joined after the call-back's place waits:
    the scheduler pauses the agent before the queue rings them, lets them rest, then
    rings them for the call-back; the caller waits their turn.

    At twice real time, not twenty times as elsewhere: the race is against app_queue's
    once-a-second look for a free agent, and the server's milliseconds count for twenty
    times as much in a simulator running twenty times faster than the clock."""
    async with running_desk(desk_settings(database_url), speed=2.0) as desk:
        await earlier_call_back_first(desk)


async def earlier_call_back_first(desk: Desk) -> None:
    rules = {**shipped_rules(), "offer_after_wait": 0, "agent_rest_seconds": 1}
    await desk.runtime.outbound.rule_store.save(RULES_NAME, rules, author="test")
    desk.runtime.outbound.forget_rules()
    await pause(desk, AGENTS[1:], True)
    talking = desk.call(caller="+79645550108", digits="2", talk=12.0)
    await wait_until(lambda: desk.runtime.routing.agents["alice"].state.value == "on_call", 20)
    store = CallbackRepository(desk.runtime.sessionmaker)
    callback_id = await store.owe(
        NewCallback(number=IVAN, queue="sales", place=time.time() - 60, source="virtual_hold")
    )
    later = desk.sim.plan("answered", caller="+79990001122", name="", digits="2", hold=600.0)
    later.script.press_delay = 0.3
    waiting = desk.sim.place_call(plan=later)
    await wait_until(lambda: "sales" in desk.runtime.routing.board.oldest_joined(), 20)
    await wait_until(lambda: callback_id in desk.runtime.outbound.scheduler, 5)  # read back
    await talking
    await wait_until(lambda: desk.runtime.routing.agents["alice"].pause_reason == "Call-back", 5)
    async with asyncio.timeout(30):
        while not (found := await store.get(callback_id)) or not found["history"]:
            await asyncio.sleep(0.05)
    (attempt,) = found["history"]
    assert attempt["agent"] == "PJSIP/1001"
    done = await attempt_done(desk, attempt["id"], timeout=60)
    assert done["result"] == "answered"
    live = [c for c in desk.runtime.service.active() if c["caller_num"] == "+79990001122"]
    assert live and live[0]["answered_at"] is None, "the later caller still waits their turn"
    waiting.cancel()


async def test_only_a_supervisor_makes_a_number_callable_again(desk: Desk) -> None:
    contact_id = await ivan(desk)
    path = f"/api/contacts/{contact_id}/do-not-call"
    async with await client(desk, "alice") as alice, await client(desk, "sam") as sam:
        assert (await alice.put(path, json={"number": IVAN})).status_code == 200
        undo = await alice.put(path, json={"number": IVAN, "do_not_call": False})
        assert undo.status_code == 403
        assert (await sam.put(path, json={"number": IVAN, "do_not_call": False})).status_code == 200
        assert (await alice.get(f"/api/contacts/{contact_id}")).json()["do_not_call"] == []
