"""AMI client, bridge and call service together, over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from cti.ami.client import AmiClient
from cti.bridge import run_bridge
from cti.calls.service import CallService
from tests.conftest import capture_bytes
from tests.fakes import ScriptedAmi
from tests.integration.test_ami_client import newchannel, settings_for

pytestmark = pytest.mark.integration


class Recorder:
    """Publisher and sink in one: remembers what the service sent out."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.events.append(message)

    def submit(self, call: dict[str, Any]) -> None:
        self.calls.append(call)


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def ami() -> Any:
    server = await ScriptedAmi().start()
    yield server
    await server.stop()


async def run(client: AmiClient, service: CallService) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]


async def stop(client: AmiClient, tasks: list[asyncio.Task[None]]) -> None:
    await client.close()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_recorded_calls_become_records(ami: ScriptedAmi) -> None:
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(settings_for(ami.port), wanted=service.handled_events)
    tasks = await run(client, service)
    await ami.wait_for_logins(1)
    raw = capture_bytes("burst30")
    body = raw[raw.index(b"Event: Newchannel") :]
    for start in range(0, len(body), 7919):
        await ami.send(body[start : start + 7919])
    await wait_until(lambda: len(recorder.calls) == 30)
    assert sum(1 for c in recorder.calls if c["outcome"] == "answered") == 10
    assert service.active() == []
    await stop(client, tasks)


async def test_asterisk_restart_mid_call_leaves_no_ghost_and_keeps_the_record(
    ami: ScriptedAmi,
) -> None:
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(settings_for(ami.port), wanted=service.handled_events)
    tasks = await run(client, service)
    await ami.wait_for_logins(1)
    await ami.event(newchannel("5.0001"))
    await ami.event(
        {**newchannel("5.0001"), "Event": "QueueCallerJoin", "Queue": "sales", "Position": "1"}
    )
    await wait_until(lambda: len(service.active()) == 1)
    ami.drop_clients()
    await ami.wait_for_logins(2)
    await wait_until(lambda: len(recorder.calls) == 1)
    (call,) = recorder.calls
    assert (call["linkedid"], call["outcome"], call["queue"]) == ("5.0001", "lost", "sales")
    assert service.active() == []
    await stop(client, tasks)


async def test_server_started_mid_call_adopts_it(ami: ScriptedAmi) -> None:
    ami.channels = [
        {
            **newchannel("6.0001"),
            "Event": "CoreShowChannel",
            "Application": "Queue",
            "ApplicationData": "support,,,,60",
            "BridgeId": "",
            "Duration": "00:00:12",
        },
    ]
    ami.queue_entries = [
        {
            "Event": "QueueEntry",
            "Queue": "support",
            "Position": "1",
            "Uniqueid": "6.0001",
            "Wait": "10",
        },
    ]
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(settings_for(ami.port), wanted=service.handled_events)
    tasks = await run(client, service)
    await wait_until(lambda: len(service.active()) == 1)
    (live,) = service.active()
    assert (live["queue"], live["stage"], live["caller_num"]) == (
        "support",
        "queued",
        "+79161234567",
    )
    assert [e["type"] for e in recorder.events] == ["call.started", "call.queued"]
    await stop(client, tasks)
