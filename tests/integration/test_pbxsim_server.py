"""The simulator as a peer over real sockets: our AMI client and FastAGI server against it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from cti.ami.client import AmiClient
from cti.ami.exceptions import AmiAuthError
from cti.bridge import run_bridge
from cti.calls.service import CallService
from cti.pbxsim import PbxSimulator
from cti.settings import AmiSettings
from ivr.agi.exceptions import AgiHangup
from ivr.agi.server import AgiServer, AgiSession
from tests.integration.test_bridge import Recorder, wait_until

pytestmark = pytest.mark.integration


def ami_settings(port: int, secret: str = "demo-secret") -> AmiSettings:
    return AmiSettings(
        port=port, secret=SecretStr(secret), reconnect_min=0.05, reconnect_max=0.2, ping_interval=5
    )


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator(speed=50).start()
    yield simulator
    await simulator.close()


async def connected(
    sim: PbxSimulator,
) -> tuple[AmiClient, CallService, Recorder, list[asyncio.Task[Any]]]:
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(ami_settings(sim.port), wanted=service.handled_events)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]
    await wait_until(lambda: client.stats.resyncs >= 1 and client.state.value == "connected")
    return client, service, recorder, tasks


async def stop(client: AmiClient, tasks: list[asyncio.Task[Any]]) -> None:
    await client.close()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_login_version_and_wrong_secret(sim: PbxSimulator) -> None:
    client = AmiClient(ami_settings(sim.port), resync=False)
    assert await client.connect() == "11.0.0"
    assert (await client.ok("CoreSettings"))["AsteriskVersion"] == "22.10.1"
    assert (await client.ok("Ping"))["Ping"] == "Pong"
    reply = await client.action("Bogus")
    assert isinstance(reply, dict) and reply["Message"] == "Invalid/unknown command"
    await client.close()
    with pytest.raises(AmiAuthError, match="Authentication failed"):
        await AmiClient(ami_settings(sim.port, "wrong"), resync=False).connect()


async def test_calls_flow_to_two_clients_and_become_records(sim: PbxSimulator) -> None:
    first = await connected(sim)
    second = await connected(sim)
    outcomes = await asyncio.gather(
        sim.place_call("answered"), sim.place_call("abandoned", caller="+79161112233")
    )
    assert sorted(outcomes) == ["abandoned", "answered"]
    for _, service, recorder, _ in (first, second):
        await wait_until(lambda r=recorder: len(r.calls) == 2)
        assert sorted(c["outcome"] for c in recorder.calls) == ["abandoned", "answered"]
        assert service.active() == []
    for client, _, _, tasks in (first, second):
        await stop(client, tasks)


async def test_queue_status_shows_a_waiting_caller(sim: PbxSimulator) -> None:
    client = AmiClient(ami_settings(sim.port), resync=False)
    await client.connect()
    call = sim.place_call("abandoned")
    await wait_until(lambda: sim.pbx.queues["support"].callers != [])
    reply = await client.action("QueueStatus", Queue="support")
    assert isinstance(reply, list)
    entries = [m for m in reply if m.get("Event") == "QueueEntry"]
    assert entries and entries[0]["CallerIDNum"] == "+79161234567"
    channels = await client.action("CoreShowChannels")
    assert isinstance(channels, list)
    assert any(m.get("Application") == "Queue" for m in channels)
    await call
    await client.close()


async def test_restart_mid_call_ends_it_as_lost_and_nothing_is_left() -> None:
    sim = await PbxSimulator(speed=2).start()
    client, service, recorder, tasks = await connected(sim)
    sim.place_call("abandoned")
    await wait_until(lambda: any(c["queue"] for c in service.active()))
    await sim.restart()
    await wait_until(lambda: len(recorder.calls) == 1)
    assert recorder.calls[0]["outcome"] == "lost"
    await wait_until(lambda: client.stats.connects == 2)
    assert service.active() == []
    await stop(client, tasks)
    await sim.close()


async def test_garbage_from_the_pbx_does_not_stop_the_bridge(sim: PbxSimulator) -> None:
    client, _, recorder, tasks = await connected(sim)
    await sim.send_raw(
        b"\x00\xff garbage\r\n\r\nEvent: Newchannel\r\nBlob: " + b"x" * 1_000_000 + b"\r\n\r\n"
    )
    await sim.place_call("answered")
    await wait_until(lambda: len(recorder.calls) == 1)
    assert client.stats.malformed == 1 and client.stats.oversize == 1
    await stop(client, tasks)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_simulated_calls_run_our_fastagi_ivr() -> None:
    seen: list[str] = []

    async def ivr(session: AgiSession) -> None:
        seen.append(await session.get_variable("CALLERID(num)") or "")
        digit, _ = await session.stream_file("welcome", "123")
        digit = digit or await session.wait_for_digit(3000)
        await session.set_variable("CTI_QUEUE", "support" if digit == "3" else "sales")
        await session.set_variable("CTI_REASON", "complaint")

    agi = AgiServer({"ivr": ivr}, port=0)
    await agi.start()
    sim = await PbxSimulator(speed=50, ivr=("127.0.0.1", agi.port)).start()
    out: list[bytes] = []
    emit = sim.pbx.emit
    sim.pbx.emit = lambda data: (out.append(data), emit(data))  # type: ignore[func-returns-value]
    assert await sim.place_call("abandoned", digits="3") == "abandoned"
    assert seen == ["+79161234567"]
    text = b"".join(out)
    assert b"Queue: support" in text and b"Variable: CTI_REASON\r\nValue: complaint" in text
    await sim.close()
    await agi.close()


async def test_unreachable_ivr_falls_through_to_the_default_queue() -> None:
    sim = await PbxSimulator(speed=50, ivr=("127.0.0.1", free_port())).start()
    out: list[bytes] = []
    sim.pbx.emit = out.append
    assert await sim.place_call("answered") == "answered"
    assert b"QueueCallerJoin" in b"".join(out) and b"Queue: sales" in b"".join(out)
    await sim.close()


@pytest.mark.parametrize("step", range(1, 5))
async def test_a_caller_hanging_up_at_any_step_ends_the_ivr_cleanly(step: int) -> None:
    ended: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.get_variable("CALLERID(num)")
            await session.stream_file("welcome", "123")
            await session.wait_for_digit(2000)
            await session.stream_file("thanks")
            await session.set_variable("CTI_QUEUE", "sales")
            ended.append("completed")
        except AgiHangup:
            ended.append("hangup")
            raise

    agi = AgiServer({"ivr": ivr}, port=0)
    await agi.start()
    sim = await PbxSimulator(speed=50, ivr=("127.0.0.1", agi.port)).start()
    plan = sim.plan("answered", caller="+79160000000", name="X", digits="")
    plan.script.hangup_after = step
    assert await sim.pbx.call(plan) == "ivr_hangup"
    await wait_until(lambda: agi.stats.active == 0)
    assert ended in (["hangup"], ["completed"])
    assert agi.stats.failures == 0
    await sim.close()
    await agi.close()
