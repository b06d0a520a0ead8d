"""The first IVR flow over real FastAGI, driven by the simulated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.pbxsim import PbxSimulator
from ivr.agi.server import AgiServer
from ivr.menu import menu

pytestmark = pytest.mark.integration


@pytest.fixture
async def pbx() -> AsyncIterator[tuple[PbxSimulator, list[bytes]]]:
    agi = AgiServer({"ivr": menu}, port=0)
    await agi.start()
    sim = PbxSimulator(speed=50, ivr=("127.0.0.1", agi.port))
    sim.pbx.add_queue("billing")
    sim.pbx.add_queue("frontdesk")
    sim.pbx.add_member("frontdesk", "Dan", "Local/agent4@agents")
    sim.pbx.add_member("billing", "Eve", "Local/agent5@agents")
    out: list[bytes] = []
    sim.pbx.emit = out.append
    yield sim, out
    await agi.close()


@pytest.mark.parametrize(
    ("digits", "queue", "reason"),
    [
        ("1", "sales", "order"),
        ("3", "support", "complaint"),
        ("4", "billing", "debt"),
        ("0", "frontdesk", "operator"),
        ("92", "sales", "delivery"),
        ("", "frontdesk", "operator"),
        ("99", "frontdesk", "operator"),
    ],
)
async def test_menu_choice_reaches_the_queue(
    pbx: tuple[PbxSimulator, list[bytes]], digits: str, queue: str, reason: str
) -> None:
    sim, out = pbx
    plan = sim.plan("answered", caller="+79161234567", name="Ivan", digits=digits)
    plan.script.digits = digits
    await sim.pbx.call(plan)
    text = b"".join(out)
    assert f"Variable: CTI_QUEUE\r\nValue: {queue}".encode() in text
    assert f"Variable: CTI_REASON\r\nValue: {reason}".encode() in text
    assert b"Event: QueueCallerJoin\r\n" in text and f"Queue: {queue}\r\n".encode() in text
