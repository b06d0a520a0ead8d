"""The AMI client over real loopback sockets: login, faults, ordering, resync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from cti.ami.client import AmiClient, LinkState, Snapshot, StreamItem
from cti.ami.exceptions import AmiAuthError, AmiConnectionError
from cti.ami.protocol import format_message
from cti.settings import AmiSettings
from tests.conftest import capture_bytes
from tests.fakes import ScriptedAmi

pytestmark = pytest.mark.integration

WANTED = ("Newchannel", "Hangup", "NewCallerid")


def settings_for(port: int, secret: str = "s3cret", **extra: float) -> AmiSettings:
    return AmiSettings(
        host="127.0.0.1",
        port=port,
        username="cti",
        secret=SecretStr(secret),
        reconnect_min=extra.pop("reconnect_min", 0.05),
        reconnect_max=extra.pop("reconnect_max", 0.2),
        action_timeout=extra.pop("action_timeout", 2.0),
        ping_interval=extra.pop("ping_interval", 5.0),
    )


@pytest.fixture
async def ami() -> AsyncIterator[ScriptedAmi]:
    server = await ScriptedAmi().start()
    yield server
    await server.stop()


async def take(
    stream: AsyncIterator[StreamItem], count: int, timeout: float = 5.0
) -> list[StreamItem]:
    items: list[StreamItem] = []

    async def _take() -> None:
        async for item in stream:
            items.append(item)
            if len(items) == count:
                return

    await asyncio.wait_for(_take(), timeout)
    return items


def newchannel(uniqueid: str, name: str = "Ivan Petrov") -> dict[str, str]:
    return {
        "Event": "Newchannel",
        "Privilege": "call,all",
        "Channel": f"PJSIP/trunk-{uniqueid[-4:]}",
        "CallerIDNum": "+79161234567",
        "CallerIDName": name,
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
    }


async def test_login_then_snapshot_then_events_in_order(ami: ScriptedAmi) -> None:
    client = AmiClient(settings_for(ami.port), wanted=WANTED)
    assert await client.connect() == "11.0.0"
    assert client.state is LinkState.CONNECTED
    stream = client.stream()
    first = await take(stream, 2)
    assert isinstance(first[0], dict) and first[0]["Event"] == "FullyBooted"
    assert isinstance(first[1], Snapshot)
    for n in range(200):
        await ami.event(newchannel(f"1.{n:04d}"))
    items = await take(stream, 200)
    uniqueids = [item["Uniqueid"] for item in items if isinstance(item, dict)]
    assert uniqueids == [f"1.{n:04d}" for n in range(200)]
    await client.close()


async def test_wrong_secret_is_a_clear_error(ami: ScriptedAmi) -> None:
    client = AmiClient(settings_for(ami.port, secret="wrong"))
    with pytest.raises(AmiAuthError, match="CTI_AMI_SECRET"):
        await client.connect()


async def test_wrong_secret_backs_off_and_logs_once(
    ami: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    client = AmiClient(settings_for(ami.port, secret="wrong", reconnect_min=0.1, reconnect_max=0.4))
    task = asyncio.create_task(client.run())
    with caplog.at_level(logging.ERROR, logger="cti.ami.client"):
        await asyncio.sleep(1.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert client.state is LinkState.AUTH_FAILED
    assert 2 <= ami.failed_logins <= 6, "backoff must space attempts out"
    refusals = [r for r in caplog.records if "refused AMI user" in r.getMessage()]
    assert len(refusals) == 1
    assert all("wrong" not in r.getMessage() for r in caplog.records)


async def test_unreachable_host_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AmiClient(settings_for(port))
    with pytest.raises(AmiConnectionError, match="cannot reach Asterisk AMI"):
        await client.connect()


async def test_a_peer_that_is_not_ami_is_refused() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(AmiConnectionError, match="not an Asterisk manager interface"):
            await AmiClient(settings_for(port)).connect()
    finally:
        server.close()


async def test_utf8_name_split_across_tcp_writes_arrives_intact(ami: ScriptedAmi) -> None:
    client = AmiClient(settings_for(ami.port), wanted=WANTED)
    await client.connect()
    stream = client.stream()
    await take(stream, 2)
    data = format_message(newchannel("2.0001", name="Иван Петров"))
    cut = data.index("Петров".encode()) + 1
    await ami.send(data[:cut])
    await asyncio.sleep(0.05)
    await ami.send(data[cut:])
    (item,) = await take(stream, 1)
    assert isinstance(item, dict) and item["CallerIDName"] == "Иван Петров"
    await client.close()


async def test_garbage_and_a_1mb_message_are_dropped_and_logged_once(
    ami: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    client = AmiClient(settings_for(ami.port), wanted=WANTED)
    await client.connect()
    stream = client.stream()
    await take(stream, 2)
    with caplog.at_level(logging.WARNING, logger="cti.ami.client"):
        await ami.send(b"\x00\xff\xfe\x01garbage\r\n\r\n")
        await ami.send(b"Event: Newchannel\r\nBlob: " + b"x" * 1_000_000 + b"\r\n\r\n")
        await ami.event(newchannel("3.0001"))
        (item,) = await take(stream, 1)
    assert isinstance(item, dict) and item["Uniqueid"] == "3.0001"
    assert client.stats.malformed == 1
    assert client.stats.oversize == 1
    assert len([r for r in caplog.records if "dropped an AMI message" in r.getMessage()]) == 2
    await client.close()


async def test_reconnects_and_resyncs_after_a_drop_mid_message(ami: ScriptedAmi) -> None:
    client = AmiClient(settings_for(ami.port), wanted=WANTED)
    task = asyncio.create_task(client.run())
    stream = client.stream()
    await ami.wait_for_logins(1)
    await take(stream, 2)
    await ami.send(format_message(newchannel("4.0001"))[:40])
    ami.drop_clients()
    ami.channels = [{**newchannel("4.0002"), "Event": "CoreShowChannel", "Duration": "00:00:05"}]
    await ami.wait_for_logins(2)
    items = await take(stream, 2)
    snapshot = items[-1]
    assert isinstance(snapshot, Snapshot)
    assert [c["Uniqueid"] for c in snapshot.channels] == ["4.0002"]
    assert client.stats.connects == 2
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_silent_peer_is_detected_by_keepalive(ami: ScriptedAmi) -> None:
    client = AmiClient(settings_for(ami.port, ping_interval=0.1, action_timeout=0.3), wanted=WANTED)
    task = asyncio.create_task(client.run())
    await ami.wait_for_logins(1)
    ami.answer_pings = False
    await asyncio.sleep(0.6)
    ami.answer_pings = True
    await ami.wait_for_logins(2)
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_recorded_answered_call_streams_through_in_order(ami: ScriptedAmi) -> None:
    client = AmiClient(
        settings_for(ami.port), wanted=("Newchannel", "QueueCallerJoin", "AgentConnect", "Hangup")
    )
    await client.connect()
    stream = client.stream()
    await take(stream, 2)
    raw = capture_bytes("answered")
    body = raw[raw.index(b"Event: Newchannel") :]
    for start in range(0, len(body), 1000):
        await ami.send(body[start : start + 1000])
    names: list[str] = []
    async with asyncio.timeout(5):
        async for item in stream:
            assert isinstance(item, dict)
            if item["Event"] != "VarSet":
                names.append(item["Event"])
            if item["Event"] == "AgentConnect":
                break
    assert names[:4] == ["Newchannel", "Newchannel", "QueueCallerJoin", "Newchannel"]
    assert "AgentConnect" in names
    assert client.stats.dropped_noise > 40
    await client.close()


async def test_an_action_with_an_injected_header_is_refused_before_sending(
    ami: ScriptedAmi,
) -> None:
    client = AmiClient(settings_for(ami.port), resync=False)
    await client.connect()
    with pytest.raises(ValueError, match="line break"):
        await client.action("Originate", CallerID='"x" <1>\r\nAction: Logoff')
    assert [a.get("Action") for a in ami.actions] == ["Login"]
    await client.close()
