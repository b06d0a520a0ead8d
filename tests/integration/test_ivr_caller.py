"""The caller-aware IVR over real FastAGI, driven by the simulated PBX, on a real database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cti.contacts.dossier import DossierRules, DossierService
from cti.demo import seed_contacts
from cti.pbxsim import PbxSimulator
from cti.routing.engine import Agent, AgentState
from cti.routing.service import RoutingService
from cti.store.contacts import ContactRepository
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from ivr.agi.server import AgiServer
from ivr.caller import CallerIvr
from ivr.flow import load_flow
from ivr.prompts import NameGreeter

pytestmark = pytest.mark.integration

IVAN, OLGA, SERGEY, ANNA, DMITRY = (
    "+79161234567",
    "+79165550101",
    "+79035550102",
    "+79265550103",
    "+74955550104",
)
STRANGER = "+79645550108"


@dataclass
class Ivr:
    sim: PbxSimulator
    out: list[bytes]
    server: AgiServer
    ivr: CallerIvr

    async def call(
        self,
        caller: str,
        digits: str,
        *,
        hangup_after: int | None = None,
        patience: float | None = None,
        delay: float = 0.7,
    ) -> dict[str, str]:
        """Place a call; the CTI_* variables the IVR set, and the AGI commands it sent."""
        self.out.clear()
        plan = self.sim.plan("answered", caller=caller, name="", digits=digits)
        plan.script.digits = digits
        plan.script.hangup_after = hangup_after
        plan.script.ivr_patience = patience
        plan.script.press_delay = delay
        await self.sim.pbx.call(plan)
        text = b"".join(self.out).decode()
        found = dict(re.findall(r"Variable: (CTI_[A-Z_]+)\r\nValue: ([^\r]*)\r\n", text))
        found["commands"] = "|".join(
            re.findall(r"Event: AGIExecStart\r\n(?:.*\r\n)*?Command: ([^\r]*)\r\n", text)
        )
        found["queued"] = ",".join(
            re.findall(r"Event: QueueCallerJoin\r\n(?:.*\r\n)*?Queue: ([^\r]*)\r\n", text)
        )
        return found


@pytest.fixture
async def ivr(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Ivr]:
    await upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    await seed_contacts(sessionmaker, datetime.now(UTC))
    dossiers = DossierService(ContactRepository(sessionmaker), DossierRules(None))
    caller_ivr = CallerIvr(load_flow(), dossiers, greeter=NameGreeter(tmp_path / "sounds"))
    server = AgiServer({"ivr": caller_ivr}, port=0)
    await server.start()
    sim = PbxSimulator(speed=25, ivr=("127.0.0.1", server.port))
    for queue in ("frontdesk", "sales", "support", "billing", "complaints"):
        sim.pbx.add_queue(queue)
        sim.pbx.add_member(queue, "Dan", "Local/agent4@agents")
    out: list[bytes] = []
    sim.pbx.emit = out.append
    yield Ivr(sim, out, server, caller_ivr)
    await server.close()
    await engine.dispose()


async def test_a_known_caller_hears_their_order_is_ready_and_takes_the_offer(ivr: Ivr) -> None:
    got = await ivr.call(IVAN, "1")
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("sales", "delivery_booking")
    assert got["CTI_CONTACT_ID"] == "1"
    assert got["CTI_IVR_PATH"] == "known>greet:name>offer:order_ready>key:1>queue:sales"
    assert got["commands"].startswith("STREAM FILE cti/names/")
    assert got["queued"] == "sales"


async def test_a_patient_caller_hears_the_whole_offer_read_out(ivr: Ivr) -> None:
    got = await ivr.call(IVAN, "1", delay=8.0)
    keys = "0123456789*#"
    assert (
        f"STREAM FILE cti/your-order {keys}|SAY DIGITS 1234 {keys}|STREAM FILE cti/is-ready {keys}"
        in got["commands"]
    )
    assert f"STREAM FILE cti/offer-keys {keys}" in got["commands"]
    assert got["CTI_REASON"] == "delivery_booking"


async def test_something_else_leads_to_the_menu(ivr: Ivr) -> None:
    got = await ivr.call(OLGA, "23")
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("support", "complaint")
    assert got["CTI_IVR_PATH"].endswith("offer:delivery_late>key:2>menu>key:3>queue:support")


async def test_zero_reaches_a_person_from_the_offer(ivr: Ivr) -> None:
    got = await ivr.call(SERGEY, "0")
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("frontdesk", "operator")


async def test_a_debt_is_read_out_in_whole_roubles(ivr: Ivr) -> None:
    got = await ivr.call(ANNA, "1", delay=8.0)
    assert "SAY NUMBER 3450 0123456789*#" in got["commands"]
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("billing", "debt")


async def test_a_stranger_gets_the_short_menu(ivr: Ivr) -> None:
    got = await ivr.call(STRANGER, "4")
    assert got["CTI_IVR_PATH"] == "unknown>menu>key:4>queue:billing"
    assert (got["CTI_QUEUE"], got["CTI_REASON"], got["CTI_CONTACT_ID"]) == ("billing", "debt", "")


@pytest.mark.parametrize(
    ("digits", "path"),
    [
        ("", "unknown>menu>silence>menu>silence>queue:frontdesk"),
        ("97", "unknown>menu>invalid>menu>invalid>queue:frontdesk"),
        ("93", "unknown>menu>invalid>menu>key:3>queue:support"),
    ],
)
async def test_silence_or_a_wrong_key_gets_one_retry_then_a_person(
    ivr: Ivr, digits: str, path: str
) -> None:
    got = await ivr.call("anonymous", digits)
    assert got["CTI_IVR_PATH"] == path
    assert got["queued"] == path.rsplit(":", 1)[1]


async def test_order_status_is_self_service_and_the_caller_is_let_go(ivr: Ivr) -> None:
    got = await ivr.call(DMITRY, "1")
    assert got["CTI_IVR_PATH"] == (
        "known>greet:name>offer:order_status>key:1>self:order_status>goodbye"
    )
    assert 'SAY DIGITS 1251 ""' in got["commands"] or "SAY DIGITS 1251" in got["commands"]
    assert "STREAM FILE cti/status-processing" in got["commands"]
    assert got["CTI_IVR_RESULT"] == "self_served" and got["CTI_QUEUE"] == ""
    assert got["commands"].endswith("HANGUP")
    assert got["queued"] == ""


async def test_order_status_then_zero_reaches_a_person(ivr: Ivr) -> None:
    got = await ivr.call(STRANGER, "10")
    assert got["CTI_IVR_PATH"] == "unknown>menu>key:1>self:order_status>queue:frontdesk"
    assert "STREAM FILE cti/no-orders 0" in got["commands"]
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("frontdesk", "order_status")


@pytest.mark.parametrize("step", [1, 2, 3, 4, 6])
async def test_a_hangup_at_any_step_still_records_the_way_taken(
    ivr: Ivr, step: int, caplog: pytest.LogCaptureFixture
) -> None:
    got = await ivr.call(IVAN, "", hangup_after=step)
    assert got["CTI_IVR_PATH"].startswith("known")
    assert got["CTI_CONTACT_ID"] == "1"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert ivr.server.stats.failures == 0


async def test_a_missing_prompt_is_skipped_and_the_call_goes_on(ivr: Ivr) -> None:
    ivr.sim.pbx.config.missing_prompts = {"cti/welcome", "cti/menu"}
    got = await ivr.call(STRANGER, "3")
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("support", "complaint")


async def test_the_greeting_falls_back_when_no_name_can_be_made(ivr: Ivr) -> None:
    ivr.ivr.greeter = None
    got = await ivr.call(IVAN, "1")
    assert got["CTI_IVR_PATH"].startswith("known>offer:order_ready")
    assert "STREAM FILE cti/welcome-back" in got["commands"]


async def scripted_call(port: int, caller: str) -> dict[str, str]:
    """Asterisk's side over a real socket: every prompt is cut short by the key 1."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "agi_network: yes\nagi_network_script: ivr\nagi_language: en\n"
            f"agi_uniqueid: 1795403632.1\nagi_callerid: {caller}\nagi_channel: PJSIP/t-1\n\n"
        ).encode()
    )
    variables = {}
    while line := (await reader.readline()).decode().strip():
        if line.startswith("SET VARIABLE"):
            _, _, name, value = line.split(" ", 3)
            variables[name] = value.strip('"')
        writer.write(
            b"200 result=49 endpos=100\n" if line.startswith("STREAM") else b"200 result=1\n"
        )
        await writer.drain()
    writer.close()
    return variables


async def test_routing_picks_the_agent_and_says_why(ivr: Ivr) -> None:
    routing = RoutingService(None)
    routing.update_agent(Agent("dan", "PJSIP/1004", {"sales": 3}, state=AgentState.AVAILABLE))
    ivr.ivr.routing = routing
    got = await asyncio.wait_for(scripted_call(ivr.server.port, IVAN), 10)
    assert (got["CTI_QUEUE"], got["CTI_AGENT"], got["CTI_REASON"]) == (
        "sales",
        "PJSIP/1004",
        "delivery_booking",
    )
    assert got["CTI_ROUTE"] == (
        "rule delivery; reason delivery_booking (0.90: chosen in the IVR); dan: sales level 3"
    )
    assert (got["CTI_REASON_CONFIDENCE"], got["CTI_RULE"]) == ("0.90", "delivery")
    assert got["CTI_OVERFLOW_AFTER"] == got["CTI_OVERFLOW_QUEUE"] == ""
