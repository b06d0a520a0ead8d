"""The reader's agent board followed by the other processes (``cti.cluster.replica``).

Processes are relays over one in-process bus, each with its own board; "reading" is the
term a process reads AMI in, as the lease would give it. The bridge's part (apply to the
board, then tell the watchers) is played by ``Node.read``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from cti.ami.client import Snapshot
from cti.bus.memory import InProcessBus
from cti.cluster.replica import TOPIC, BoardRelay
from cti.routing.board import AgentBoard, AgentProfile
from cti.routing.engine import Agent, AgentState

pytestmark = pytest.mark.unit

ALICE = AgentProfile("alice", "PJSIP/1001", {"sales": 3})
BOB = AgentProfile("bob", "PJSIP/1002", {"sales": 2})


class Node:
    """One process: its board and its relay."""

    def __init__(self, bus: Any, name: str, asterisk: str = "{pbx:5038}") -> None:
        self.name = name
        self.seen: list[Agent] = []
        self.board = AgentBoard(self.seen.append)
        self.board.set_profiles([ALICE, BOB])
        self.reading = 0
        self.relay = BoardRelay(
            bus, self.board, name, asterisk, term=lambda: self.reading, retry=0.05
        )

    def read(self, msg: dict[str, str], now: float) -> None:
        """What the bridge does with an event while this process reads AMI."""
        self.board.on_event(msg, now)
        self.relay.on_event(msg, now)

    def read_back(self, members: list[dict[str, str]], now: float) -> None:
        self.board.on_snapshot(members, (), (), now)
        self.relay.on_snapshot(Snapshot(queue_members=members), now)

    def agent(self, username: str) -> Agent:
        profile = ALICE if username == "alice" else BOB
        agent = self.board.agent(profile.interface)
        assert agent is not None
        return agent


class LossyBus(InProcessBus):
    """An in-process bus that can lose the next relayed item (Redis away for a moment)."""

    def __init__(self) -> None:
        super().__init__(check_json=True)
        self.lose = 0

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if topic == TOPIC and self.lose:
            self.lose -= 1
            return
        await super().publish(topic, message)


def member(interface: str, **fields: str) -> dict[str, str]:
    return {
        "Event": "QueueMemberStatus",
        "Queue": "sales",
        "Interface": interface,
        "Status": "1",
        "Paused": "0",
        "LoginTime": "1000",
        **fields,
    }


def complete(interface: str, talk: str) -> dict[str, str]:
    return {"Event": "AgentComplete", "Queue": "sales", "Interface": interface, "TalkTime": talk}


async def until(check: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def bus() -> AsyncIterator[LossyBus]:
    bus = LossyBus()
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def nodes(bus: LossyBus) -> AsyncIterator[tuple[Node, Node, Node]]:
    made = (Node(bus, "one"), Node(bus, "two"), Node(bus, "three"))
    for node in made:
        await node.relay.start()
    yield made
    for node in made:
        await node.relay.aclose()


async def test_followers_see_what_the_reader_applies(nodes: tuple[Node, Node, Node]) -> None:
    reader, two, three = nodes
    reader.reading = 1
    reader.read_back([member("PJSIP/1001"), member("PJSIP/1002")], now=1000.0)
    await until(lambda: two.relay.synced and three.relay.synced)
    reader.read(member("PJSIP/1001", Paused="1", PausedReason="lunch"), now=1010.0)
    reader.read(member("PJSIP/1002", Status="2"), now=1011.0)
    reader.read(complete("PJSIP/1002", "300"), now=1300.0)
    await settle()
    for follower in (two, three):
        assert follower.agent("alice").state is AgentState.PAUSED
        assert follower.agent("alice").pause_reason == "lunch"
        assert follower.agent("bob") == reader.agent("bob")
        assert follower.agent("bob").occupancy == pytest.approx(300 / 300)


async def test_a_process_that_starts_late_asks_for_the_whole_board(bus: LossyBus) -> None:
    reader = Node(bus, "reader")
    await reader.relay.start()
    reader.reading = 4
    reader.read(member("PJSIP/1001", Status="2"), now=1000.0)
    late = Node(bus, "late")
    assert late.agent("alice").state is AgentState.LOGGED_OUT
    await late.relay.start()
    await until(lambda: late.relay.synced)
    assert late.agent("alice").state is AgentState.ON_CALL
    assert late.relay.asked >= 1
    await late.relay.aclose()
    await reader.relay.aclose()


async def test_a_lost_update_is_noticed_and_the_board_asked_for_again(
    bus: LossyBus, nodes: tuple[Node, Node, Node]
) -> None:
    reader, follower, _ = nodes
    reader.reading = 1
    reader.read_back([member("PJSIP/1001")], now=1000.0)
    await until(lambda: follower.relay.synced)
    bus.lose = 1
    reader.read(member("PJSIP/1001", Paused="1"), now=1001.0)  # lost on the way
    await settle()
    assert follower.agent("alice").state is AgentState.AVAILABLE
    reader.read(member("PJSIP/1002"), now=1002.0)  # the gap shows
    await until(lambda: follower.relay.synced and follower.agent("alice") == reader.agent("alice"))
    assert follower.agent("alice").state is AgentState.PAUSED
    assert follower.agent("bob").state is AgentState.AVAILABLE


async def test_a_deposed_reader_late_word_is_ignored(nodes: tuple[Node, Node, Node]) -> None:
    old, new, follower = nodes
    old.reading = 1
    old.read_back([member("PJSIP/1001")], now=1000.0)
    await until(lambda: follower.relay.synced and new.relay.synced)
    stale_board = {"asterisk": "{pbx:5038}", "holder": "one", "term": 1, "seq": 99}
    stale_board["kind"] = "board"
    stale_event = {**stale_board, "seq": 100, "kind": "event", "now": 1005.0}
    old.reading = 0
    new.reading = 2
    new.read_back([member("PJSIP/1001", Status="2")], now=1010.0)
    await until(lambda: follower.agent("alice").state is AgentState.ON_CALL)
    # what the old reader had sent before it was deposed, arriving only now
    await old.relay.bus.publish(TOPIC, {**stale_board, "board": old.board.export()})
    await old.relay.bus.publish(TOPIC, {**stale_event, "event": member("PJSIP/1001")})
    await settle()
    assert follower.agent("alice").state is AgentState.ON_CALL


async def test_the_lease_moving_applies_no_event_twice(nodes: tuple[Node, Node, Node]) -> None:
    """Talk time adds up (occupancy), so an event applied twice would show."""
    one, two, three = nodes
    one.reading = 1
    one.read_back([member("PJSIP/1002")], now=1000.0)
    one.read(complete("PJSIP/1002", "100"), now=1400.0)
    await until(lambda: two.relay.synced and three.relay.synced and two.relay.applied >= 2)
    expected = one.agent("bob").occupancy
    assert two.agent("bob").occupancy == expected == pytest.approx(0.25)
    # two takes over: its own read-back, then its own events; one's late relays are dropped
    one.reading = 0
    two.reading = 2
    two.read_back([member("PJSIP/1002")], now=1400.0)
    two.read(complete("PJSIP/1002", "100"), now=1800.0)
    one.relay.on_event(complete("PJSIP/1002", "100"), now=1800.0)  # not reading: nothing sent
    await until(lambda: one.relay.synced and three.relay.synced)
    await until(lambda: one.agent("bob") == two.agent("bob") == three.agent("bob"))
    assert two.agent("bob").occupancy == pytest.approx(100 / 800)  # a read-back starts afresh
    # and back: one reads again, two follows
    two.reading = 0
    one.reading = 3
    one.read(complete("PJSIP/1002", "200"), now=2000.0)
    await until(lambda: two.relay.synced and two.agent("bob") == one.agent("bob"))
    assert two.agent("bob").occupancy == pytest.approx(300 / 1000)
    assert three.agent("bob") == one.agent("bob")


async def test_another_asterisks_reader_on_the_same_redis_is_not_heard(bus: LossyBus) -> None:
    """Pub/sub is shared by every database of a Redis: another deployment's reader, in its
    own first term too, must not steer this one's boards."""
    ours, theirs = Node(bus, "ours"), Node(bus, "theirs", asterisk="{other-pbx:5038}")
    follower = Node(bus, "follower")
    for node in (ours, theirs, follower):
        await node.relay.start()
    ours.reading = theirs.reading = 1
    theirs.read_back([member("PJSIP/1001", Status="2")], now=1000.0)
    ours.read_back([member("PJSIP/1001")], now=1000.0)
    theirs.read(member("PJSIP/1001", Paused="1"), now=1001.0)
    await until(lambda: follower.relay.synced)
    await settle()
    assert follower.agent("alice").state is AgentState.AVAILABLE
    for node in (ours, theirs, follower):
        await node.relay.aclose()
