"""The wallboard's fold, alerts and updates, event by event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.supervision.alerts import AlertRules, alerts
from cti.supervision.figures import AgentState, Wallboard
from cti.supervision.service import WallboardService

IFACE = "PJSIP/1001"


def caller(kind: str, uid: str, queue: str = "sales", **fields: str) -> dict[str, str]:
    return {"Event": kind, "Queue": queue, "Uniqueid": uid, "Linkedid": uid, **fields}


def member(kind: str = "QueueMemberStatus", queue: str = "sales", **fields: str) -> dict[str, str]:
    values = {"Status": "1", "Paused": "0", "PausedReason": "", "CallsTaken": "0"}
    return {
        "Event": kind,
        "Queue": queue,
        "Interface": IFACE,
        "MemberName": "Alice",
        **values,
        **fields,
    }


def answered(board: Wallboard, uid: str, hold: int, talk: int, now: float) -> None:
    board.on_event(caller("QueueCallerJoin", uid, CallerIDNum="+7916"), now)
    board.on_event(caller("QueueCallerLeave", uid), now + hold)
    connect = caller("AgentConnect", uid, Interface=IFACE, HoldTime=str(hold))
    board.on_event(connect, now + hold)
    complete = caller("AgentComplete", uid, Interface=IFACE, HoldTime=str(hold), TalkTime=str(talk))
    board.on_event(complete, now + hold + talk)


def test_service_levels_count_answers_when_completed_and_abandons_at_once() -> None:
    board = Wallboard(default_servicelevel=20)
    board.on_event(caller("QueueCallerJoin", "1.1"), 0.0)
    board.on_event(caller("AgentConnect", "1.1", Interface=IFACE, HoldTime="5"), 5.0)
    assert board.queue_params("sales")["ServicelevelPerf"] == "0.0"  # not completed yet
    board.on_event(caller("AgentComplete", "1.1", Interface=IFACE, TalkTime="60"), 65.0)
    board.on_event(caller("QueueCallerJoin", "1.2"), 70.0)
    board.on_event(caller("QueueCallerAbandon", "1.2", HoldTime="30", Position="1"), 100.0)
    params = board.queue_params("sales")
    assert params["Completed"] == "1" and params["Abandoned"] == "1"
    assert params["ServicelevelPerf"] == "100.0"
    assert params["ServicelevelPerf2"] == "50.0"
    assert params["Holdtime"] == "5" and params["TalkTime"] == "60"


def test_averages_move_a_quarter_of_the_way_as_app_queue_does() -> None:
    board = Wallboard()
    answered(board, "1.1", hold=8, talk=100, now=0.0)
    answered(board, "1.2", hold=0, talk=20, now=200.0)
    params = board.queue_params("sales")
    assert params["Holdtime"] == str((3 * 8 + 0) >> 2)
    assert params["TalkTime"] == str((3 * 100 + 20) >> 2)


def test_a_call_taken_over_by_a_newer_one_is_not_counted() -> None:
    board = Wallboard()
    board.on_event(caller("AgentConnect", "1.1", Interface=IFACE, HoldTime="1"), 0.0)
    board.on_event(caller("AgentConnect", "1.2", Interface=IFACE, HoldTime="1"), 1.0)
    board.on_event(caller("AgentComplete", "1.1", Interface=IFACE, TalkTime="9"), 9.0)
    board.on_event(caller("AgentComplete", "1.2", Interface=IFACE, TalkTime="9"), 10.0)
    assert board.queue_params("sales")["Completed"] == "1"


def test_the_device_going_free_completes_the_call_before_agent_complete() -> None:
    board = Wallboard()
    board.on_event(caller("AgentConnect", "1.1", Interface=IFACE, HoldTime="1"), 100.0)
    board.on_event(member(Status="1"), 130.0)
    board.on_event(caller("AgentComplete", "1.1", Interface=IFACE, TalkTime="31"), 131.0)
    params = board.queue_params("sales")
    assert params["Completed"] == "1" and params["TalkTime"] == "30"


def test_abandoned_callers_are_listed_newest_first_for_call_back() -> None:
    board = Wallboard()
    for n, wait in ((1, "12"), (2, "40")):
        uid = f"1.{n}"
        board.on_event(caller("QueueCallerJoin", uid, CallerIDNum=f"+7916000000{n}"), 0.0)
        abandon = caller(
            "QueueCallerAbandon",
            uid,
            HoldTime=wait,
            Position="1",
            CallerIDNum=f"+7916000000{n}",
            CallerIDName="<unknown>",
        )
        board.on_event(abandon, 50.0 + n)
    listed = [a.to_dict() for a in board.queue("sales").abandoned_calls]
    assert [a["caller_num"] for a in listed] == ["+79160000002", "+79160000001"]
    assert listed[0]["wait"] == 40 and listed[0]["caller_name"] == ""


def test_agent_state_time_in_state_and_missed_calls() -> None:
    board = Wallboard()
    board.on_event(member("QueueMemberAdded"), 10.0)
    alice = board.agents[IFACE.lower()]
    assert alice.state is AgentState.AVAILABLE and alice.since == 10.0
    board.on_event(member(Status="6"), 20.0)
    board.on_event({"Event": "AgentRingNoAnswer", "Queue": "sales", "Interface": IFACE}, 35.0)
    board.on_event(member(Status="1"), 35.0)
    board.on_event(member("QueueMemberPause", Paused="1", PausedReason="lunch"), 40.0)
    assert (alice.state, alice.since, alice.pause_reason, alice.missed) == (
        AgentState.PAUSED,
        40.0,
        "lunch",
        1,
    )
    busy_paused = member(Status="2", CallsTaken="1", Paused="1", PausedReason="lunch")
    board.on_event(busy_paused, 50.0)  # paused wins over busy
    assert alice.state is AgentState.PAUSED and alice.since == 40.0
    board.on_event(member("QueueMemberPause", Status="2", CallsTaken="1"), 60.0)
    assert alice.state is AgentState.ON_CALL
    done = caller("AgentComplete", "1.1", Interface=IFACE, TalkTime="9", Wrapuptime="10")
    board.on_event(done, 70.0)
    board.on_event(member(Status="1", CallsTaken="2"), 70.0)
    assert alice.state is AgentState.WRAP_UP and alice.handled == 2
    board.tick(79.0)
    assert alice.state is AgentState.WRAP_UP
    board.tick(81.0)
    assert alice.state is AgentState.AVAILABLE and alice.since == 80.0


def test_a_read_back_restores_counts_and_in_service_level_shares() -> None:
    board = Wallboard()
    params = {
        "Queue": "sales",
        "Holdtime": "12",
        "TalkTime": "80",
        "Completed": "40",
        "Abandoned": "10",
        "ServiceLevel": "20",
        "ServicelevelPerf": "75.0",
        "ServicelevelPerf2": "70.0",
    }
    row = {
        "Queue": "sales",
        "Name": "Alice",
        "Location": IFACE,
        "Status": "1",
        "Paused": "1",
        "PausedReason": "training",
        "LastPause": "900",
        "CallsTaken": "7",
    }
    entry = {"Queue": "sales", "Uniqueid": "9.9", "Wait": "42", "CallerIDNum": "+7916"}
    board.on_snapshot([params], [row], [entry], now=1000.0)
    assert board.queue_params("sales") == {**params, "Calls": "1"}
    queue = board.queue("sales")
    assert (queue.completed_in_sl, queue.abandoned_in_sl) == (30, 5)
    assert board.queue_summary("sales", 1000.0)["LongestHoldTime"] == "42"
    alice = board.agents[IFACE.lower()]
    assert (alice.state, alice.since, alice.handled) == (AgentState.PAUSED, 900.0, 7)


def test_alerts_name_the_queue_under_target_and_the_agent_paused_too_long() -> None:
    board = Wallboard(default_servicelevel=20)
    board.on_event(member("QueueMemberPause", Paused="1", PausedReason="smoke"), 0.0)
    for n in range(5):
        answered(board, f"1.{n}", hold=30 if n < 2 else 1, talk=10, now=float(n * 100))
    rules = AlertRules(service_level_target=80.0, paused_too_long=900.0)
    kinds = [(a["kind"], a.get("queue") or a.get("agent")) for a in alerts(board, rules, 600.0)]
    assert kinds == [("service_level", "sales")]
    found = alerts(board, rules, 1000.0)
    assert [a["kind"] for a in found] == ["service_level", "paused_too_long"]
    assert "60.0%" in found[0]["message"] and "(smoke)" in found[1]["message"]
    board.on_event(member("QueueMemberRemoved"), 1001.0)
    board.on_event(caller("QueueCallerJoin", "2.1"), 1002.0)
    assert alerts(board, rules, 1003.0)[0]["kind"] == "no_agents"


class Bus:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        assert topic == "wallboard.update"
        self.sent.append(message)


class Store:
    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None

    async def save_wallboard(self, message: dict[str, Any]) -> None:
        self.saved = message


@pytest.mark.asyncio
async def test_updates_are_gathered_and_carry_only_what_changed() -> None:
    bus, store = Bus(), Store()
    clock = [1000.0]
    service = WallboardService(
        bus, store, lambda i: "alice" if i == IFACE else None, interval=0.05, clock=lambda: clock[0]
    )
    service.start()
    try:
        service.on_event(member("QueueMemberAdded"), 1000.0)
        await asyncio.sleep(0.02)
        assert bus.sent[0]["full"] and store.saved is bus.sent[0]
        assert bus.sent[0]["agents"][0]["username"] == "alice"
        for n in range(20):  # a burst inside one interval
            service.on_event(caller("QueueCallerJoin", f"1.{n}", queue="support"), 1000.0)
        service.on_event(caller("QueueCallerAbandon", "1.0", queue="support", HoldTime="3"), 1000.0)
        await asyncio.sleep(0.12)
        update = bus.sent[1]
        assert len(bus.sent) == 2 and not update["full"]
        assert [q["name"] for q in update["queues"]] == ["support"] and update["agents"] == []
        assert update["queues"][0]["waiting"] == 19
        assert [a["uniqueid"] for a in update["abandoned"]] == ["1.0"]
    finally:
        await service.aclose()
