"""The simulator as an AMI peer over real sockets: raw bytes, our AMI client, fault hooks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cti.ami.client import AmiClient
from cti.ami.exceptions import AmiAuthError
from cti.ami.protocol import AmiFramer, format_message, parse_message
from cti.bridge import run_bridge
from cti.calls.service import CallService
from cti.pbxsim import PbxSimulator
from cti.pbxsim.engine import Shape
from cti.pbxsim.server import ALL_CLASSES, EVENT_CLASSES, event_mask
from cti.settings import AmiSettings
from tests.conftest import capture_bytes
from tests.integration.test_bridge import Recorder, wait_until

pytestmark = pytest.mark.integration

SECRET = "demo-secret"


class RawAmi:
    """A bare AMI connection: bytes out, whole messages in, nothing hidden."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = AmiFramer()
        self.inbox: list[bytes] = []
        self.banner = ""

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        raw.banner = (await reader.readline()).decode()
        raw.framer.expect_banner = False
        return raw

    def send(self, **fields: str) -> None:
        self.writer.write(format_message(fields))

    async def next(self, timeout: float = 5.0) -> bytes:
        """The next whole message, as the bytes Asterisk would write (blank line included)."""
        async with asyncio.timeout(timeout):
            while not self.inbox:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                self.inbox.extend(self.framer.feed(data))
        return self.inbox.pop(0) + b"\r\n\r\n"

    async def message(self, timeout: float = 5.0) -> dict[str, str]:
        return parse_message((await self.next(timeout))[:-4])

    async def until(self, predicate: Any, timeout: float = 5.0) -> list[dict[str, str]]:
        """Messages up to and including the first one ``predicate`` accepts."""
        seen = []
        while True:
            message = await self.message(timeout)
            seen.append(message)
            if predicate(message):
                return seen

    async def action(self, **fields: str) -> list[dict[str, str]]:
        """Send an action with an ActionID; return its reply (or whole event list)."""
        action_id = fields.setdefault("ActionID", f"t-{id(fields)}")
        self.send(**fields)
        reply = await self.until(lambda m: m.get("ActionID") == action_id and "Response" in m)
        if reply[-1].get("EventList") != "start":
            return reply[-1:]
        items = await self.until(
            lambda m: m.get("ActionID") == action_id and m.get("EventList") == "Complete"
        )
        return reply[-1:] + [m for m in items if m.get("ActionID") == action_id]

    async def login(self, secret: str = SECRET, events: str = "on") -> dict[str, str]:
        self.send(Action="Login", ActionID="login-1", Username="cti", Secret=secret, Events=events)
        return (await self.until(lambda m: m.get("ActionID") == "login-1"))[-1]

    async def closed(self, timeout: float = 5.0) -> bool:
        async with asyncio.timeout(timeout):
            while data := await self.reader.read(65536):
                self.inbox.extend(self.framer.feed(data))
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator(speed=50, auth_delay=0.05).start()
    yield simulator
    await simulator.close()


def ami_settings(port: int, secret: str = SECRET) -> AmiSettings:
    return AmiSettings(
        port=port, secret=SecretStr(secret), reconnect_min=0.05, reconnect_max=0.2, ping_interval=5
    )


async def test_login_replies_as_asterisk_22(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    assert ami.banner == "Asterisk Call Manager/11.0.0\r\n"
    ami.send(Action="Login", ActionID="login-1", Username="CTI", Secret=SECRET)
    assert await ami.next() == (
        b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n"
    )
    booted = await ami.next()
    assert re.fullmatch(
        rb"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: \d+\r\nLastReload: \d+\r\n"
        rb"Status: Fully Booted\r\n\r\n",
        booted,
    )
    auth = await ami.message()
    assert auth["Event"] == "SuccessfulAuth" and auth["Privilege"] == "security,all"
    assert auth["AccountID"] == "CTI" and auth["Service"] == "AMI"
    local, remote = ami.writer.get_extra_info("peername"), ami.writer.get_extra_info("sockname")
    assert auth["LocalAddress"] == f"IPV4/TCP/127.0.0.1/{local[1]}"
    assert auth["RemoteAddress"] == f"IPV4/TCP/127.0.0.1/{remote[1]}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", auth["EventTV"])
    ami.send(Action="Logoff", ActionID="bye-1")
    assert await ami.next() == (
        b"Response: Goodbye\r\nActionID: bye-1\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )
    assert await ami.closed()


async def test_wrong_secret_is_refused_and_the_socket_closed(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    ami.send(Action="Ping", ActionID="early")
    assert (
        await ami.next()
        == b"Response: Error\r\nActionID: early\r\nMessage: Permission denied\r\n\r\n"
    )
    ami.send(Action="Login", ActionID="l", Username="cti", Secret="wrong")
    assert (
        await ami.next()
        == b"Response: Error\r\nActionID: l\r\nMessage: Authentication failed\r\n\r\n"
    )
    assert await ami.closed()
    assert sim.failed_logins == 1
    with pytest.raises(AmiAuthError, match="Authentication failed"):
        await AmiClient(ami_settings(sim.port, "wrong"), resync=False).connect()


async def test_md5_challenge_login(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    (challenge,) = await ami.action(Action="Challenge", AuthType="MD5")
    key = hashlib.md5((challenge["Challenge"] + SECRET).encode()).hexdigest()
    ami.send(Action="Login", ActionID="m", AuthType="MD5", Username="cti", Key=key)
    assert (await ami.message())["Message"] == "Authentication accepted"
    await ami.close()


async def test_ping_settings_command_and_unknown_action(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    await ami.login(events="off")
    ami.send(Action="Ping", ActionID="p")
    assert re.fullmatch(
        rb"Response: Success\r\nActionID: p\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}\r\n\r\n",
        await ami.next(),
    )
    (settings,) = await ami.action(Action="CoreSettings")
    assert (settings["AMIversion"], settings["AsteriskVersion"]) == ("11.0.0", "22.10.1")
    (version,) = await ami.action(Action="Command", Command="core show version")
    assert version["Message"] == "Command output follows"
    assert version["Output"].startswith("Asterisk 22.10.1 built by")
    (nothing,) = await ami.action(Action="Command", Command="bogus thing")
    assert nothing["Response"] == "Error"
    assert nothing["Output"] == (
        "No such command 'bogus thing' (type 'core show help bogus' for other possible commands)"
    )
    ami.send(Action="Frobnicate", ActionID="u")
    assert await ami.next() == (
        b"Response: Error\r\nActionID: u\r\nMessage: Invalid/unknown command: Frobnicate. "
        b"Use Action: ListCommands to show available commands.\r\n\r\n"
    )
    ami.send(ActionID="none")
    assert (await ami.message())["Message"] == "Missing action in request"
    await ami.close()


async def test_events_reach_every_logged_in_client_with_events_on(sim: PbxSimulator) -> None:
    first, second = await RawAmi.connect(sim.port), await RawAmi.connect(sim.port)
    quiet, stranger = await RawAmi.connect(sim.port), await RawAmi.connect(sim.port)
    for ami in (first, second):
        await ami.login()
    await quiet.login(events="off")
    await asyncio.sleep(0.05)
    for ami in (first, second):
        ami.inbox.clear()
    result = await sim.place_call("answered")
    assert result.outcome == "answered"
    streams = []
    for ami in (first, second):
        messages = await ami.until(
            lambda m: (
                m.get("Event") == "Hangup"
                and m["Channel"].endswith(";1")
                and "s@inbound" in m["Channel"]
            )
        )
        streams.append([m for m in messages if m.get("Event") != "SuccessfulAuth"])
    assert streams[0] == streams[1]
    assert [m["Event"] for m in streams[0]].count("AgentConnect") == 1
    (pong,) = await quiet.action(Action="Ping")
    assert pong["Ping"] == "Pong" and quiet.inbox == []
    with pytest.raises(TimeoutError):
        await stranger.next(timeout=0.2)
    for ami in (first, second, quiet, stranger):
        await ami.close()


async def test_event_lists_show_the_live_call(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    await ami.login(events="off")
    call = sim.place_call("abandoned", caller="+79035550102", name="Sergey")
    await wait_until(lambda: any(e for q in sim.pbx.queues.values() for e in q.entries))
    status = await ami.action(Action="QueueStatus", Queue="support")
    assert status[0]["Message"] == "Queue status will follow"
    kinds = [m.get("Event") for m in status[1:]]
    assert kinds == ["QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"]
    params, member, entry, complete = status[1:]
    assert params["Calls"] == "1" and member["Status"] in ("1", "2")
    assert (entry["CallerIDNum"], entry["CallerIDName"], entry["Position"]) == (
        "+79035550102",
        "Sergey",
        "1",
    )
    assert entry["Channel"].startswith("Local/s@inbound-") and entry["Channel"].endswith(";2")
    assert complete["ListItems"] == "3"
    channels = await ami.action(Action="CoreShowChannels")
    assert channels[0]["Message"] == "Channels will follow"
    rows = [m for m in channels if m.get("Event") == "CoreShowChannel"]
    assert channels[-1]["ListItems"] == str(len(rows)) and len(rows) >= 2
    queued = [r for r in rows if r["Application"] == "Queue"]
    assert queued and queued[0]["ApplicationData"] == "support,,,,60"
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", r["Duration"]) for r in rows)
    summary = await ami.action(Action="QueueSummary", Queue="support")
    assert summary[1]["Callers"] == "1" and summary[-1]["ListItems"] == "1"
    assert (await call).outcome == "abandoned"
    after = await ami.action(Action="QueueSummary", Queue="support")
    assert after[1]["Callers"] == "0"
    channels = await ami.action(Action="CoreShowChannels")
    assert channels[-1]["ListItems"] == "0"
    params = (await ami.action(Action="QueueStatus", Queue="support"))[1]
    assert params["Abandoned"] == "1"
    await ami.close()


async def test_queue_member_actions(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    await ami.login()
    (added,) = await ami.action(
        Action="QueueAdd", Queue="support", Interface="PJSIP/1004", MemberName="Dan"
    )
    assert added["Message"] == "Added interface to queue"
    event = (await ami.until(lambda m: m.get("Event") == "QueueMemberAdded"))[-1]
    assert (event["Membership"], event["MemberName"], event["Privilege"]) == (
        "dynamic",
        "Dan",
        "agent,all",
    )
    (again,) = await ami.action(Action="QueueAdd", Queue="support", Interface="PJSIP/1004")
    assert again["Message"] == "Unable to add interface: Already there"
    (nowhere,) = await ami.action(Action="QueueAdd", Queue="nope", Interface="PJSIP/1004")
    assert nowhere["Message"] == "Unable to add interface to queue: No such queue"
    (paused,) = await ami.action(
        Action="QueuePause", Interface="PJSIP/1004", Paused="true", Reason="lunch"
    )
    assert paused["Message"] == "Interface paused successfully"
    event = (await ami.until(lambda m: m.get("Event") == "QueueMemberPause"))[-1]
    assert (event["Paused"], event["PausedReason"]) == ("1", "lunch")
    (unknown,) = await ami.action(Action="QueuePause", Interface="PJSIP/9999", Paused="no")
    assert unknown["Message"] == "Interface not found"
    (static,) = await ami.action(
        Action="QueueRemove", Queue="support", Interface="Local/agent3@agents"
    )
    assert static["Message"] == "Member not dynamic"
    (removed,) = await ami.action(Action="QueueRemove", Queue="support", Interface="PJSIP/1004")
    assert removed["Message"] == "Removed interface from queue"
    assert (await ami.until(lambda m: m.get("Event") == "QueueMemberRemoved"))[-1]["Queue"] == (
        "support"
    )
    await ami.close()


async def test_originate_queues_a_call_and_reports_its_channel(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    await ami.login()
    ami.send(
        Action="Originate",
        ActionID="orig-1",
        Channel="Local/s@inbound",
        Context="caller",
        Exten="s",
        Priority="1",
        CallerID='"Ivan Petrov" <+79161234567>',
        Variable="DIGITS=3,HOLD=5",
        Async="true",
    )
    seen = await ami.until(lambda m: m.get("Event") == "OriginateResponse")
    (queued,) = [m for m in seen if "Event" not in m and m.get("ActionID") == "orig-1"]
    assert queued["Message"] == "Originate successfully queued"
    assert seen.index(queued) < [m.get("Event") for m in seen].index("Newchannel")
    response = seen[-1]
    assert (response["ActionID"], response["Response"], response["Reason"]) == (
        "orig-1",
        "Success",
        "4",
    )
    assert response["Channel"].endswith(";1") and response["CallerIDName"] == "Ivan Petrov"
    joined = (await ami.until(lambda m: m.get("Event") == "QueueCallerJoin"))[-1]
    assert joined["Queue"] == "support", "DIGITS=3 chose support"
    (missing,) = await ami.action(Action="Originate")
    assert missing["Message"] == "Channel not specified"
    await ami.close()


async def test_calls_flow_through_our_ami_client_into_call_records(sim: PbxSimulator) -> None:
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(ami_settings(sim.port), wanted=service.handled_events)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]
    await wait_until(lambda: client.state.value == "connected")
    results = await asyncio.gather(
        sim.place_call("answered"),
        sim.place_call("abandoned", caller="+79161112233"),
        sim.place_call("hangup-in-ivr", caller="+79160000000"),
    )
    assert sorted(r.outcome for r in results) == ["abandoned", "answered", "ivr_hangup"]
    await wait_until(lambda: len(recorder.calls) == 3)
    by_caller = {c["caller_num"]: c for c in recorder.calls}
    assert by_caller["+79161234567"]["agent"] == "Local/agent1@agents"
    assert by_caller["+79161112233"]["outcome"] == "abandoned"
    assert by_caller["+79160000000"]["outcome"] == "ivr_hangup"
    assert service.active() == []
    await client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_restart_drops_clients_forgets_calls_and_boots_again() -> None:
    sim = await PbxSimulator(speed=20, auth_delay=0).start()
    port = sim.port
    ami = await RawAmi.connect(port)
    await ami.login()
    call = sim.place_call("abandoned")
    await wait_until(lambda: len(sim.pbx.channels) >= 4)
    await sim.restart(downtime=0.05)
    assert await ami.closed()
    assert (await call).outcome == "lost"
    assert sim.port == port
    again = await RawAmi.connect(port)
    await again.login()
    booted = (await again.until(lambda m: m.get("Event") == "FullyBooted"))[-1]
    assert int(booted["Uptime"]) <= 2
    channels = await again.action(Action="CoreShowChannels")
    assert channels[-1]["ListItems"] == "0"
    summary = await again.action(Action="QueueSummary", Queue="support")
    assert summary[1]["Callers"] == "0"
    again.inbox.clear()
    assert (await sim.place_call("answered")).outcome == "answered"
    first = (await again.until(lambda m: m.get("Event") == "Newchannel"))[-1]
    assert first["Channel"] == "Local/s@inbound-00000000;1", "numbering starts again"
    await again.close()
    await sim.close()


async def test_restart_mid_call_ends_it_as_lost_in_our_client() -> None:
    sim = await PbxSimulator(speed=5, auth_delay=0).start()
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(ami_settings(sim.port), wanted=service.handled_events)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]
    await wait_until(lambda: client.stats.resyncs >= 1 and client.state.value == "connected")
    sim.place_call("abandoned")
    await wait_until(lambda: any(c["queue"] for c in service.active()))
    await sim.restart()
    await wait_until(lambda: len(recorder.calls) == 1)
    assert recorder.calls[0]["outcome"] == "lost"
    await wait_until(lambda: client.stats.connects == 2)
    assert service.active() == []
    await client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sim.close()


async def test_drop_connections_cuts_every_client(sim: PbxSimulator) -> None:
    clients = [await RawAmi.connect(sim.port) for _ in range(3)]
    for ami in clients:
        await ami.login()
    sim.drop_connections()
    for ami in clients:
        assert await ami.closed()
    assert sim.sessions == []
    fresh = await RawAmi.connect(sim.port)
    assert (await fresh.login())["Message"] == "Authentication accepted"
    await fresh.close()


async def test_injected_garbage_and_oversize_frames_do_not_stop_our_client(
    sim: PbxSimulator,
) -> None:
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(ami_settings(sim.port), wanted=service.handled_events)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]
    await wait_until(lambda: client.state.value == "connected")
    sim.send_raw(b"\x00\xff garbage\r\n\r\nEvent: Newchannel\r\nBlob: " + b"x" * 1_000_000)
    sim.send_raw(b"\r\n\r\nEvent: Newst")
    sim.send_raw(b"ate\r\nChannel: half-a-frame\r\n\r\n")
    await sim.place_call("answered")
    await wait_until(lambda: len(recorder.calls) == 1)
    assert client.stats.malformed == 1 and client.stats.oversize == 1
    await client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_replayed_recording_reaches_clients_without_its_login(sim: PbxSimulator) -> None:
    ami = await RawAmi.connect(sim.port)
    await ami.login()
    await asyncio.sleep(0.05)
    ami.inbox.clear()
    await sim.replay(capture_bytes("answered"), chunk=777)
    messages = await ami.until(lambda m: m.get("Response") == "Goodbye")
    assert messages[0] == {
        "Response": "Success",
        "ActionID": "orig-1",
        "Message": "Originate successfully queued",
    }
    assert not any(m.get("Event") in ("FullyBooted", "SuccessfulAuth") for m in messages)
    assert sum(m.get("Event") == "Newchannel" for m in messages) == 4
    await ami.close()


@pytest.mark.parametrize("shape", ["local", "trunk"])
async def test_the_demo_mix_plays_many_kinds_of_calls_and_leaves_nothing_open(
    shape: Shape,
) -> None:
    sim = await PbxSimulator(speed=3000, shape=shape, seed=4, auth_delay=0).start()
    recorder = Recorder()
    service = CallService(recorder, recorder)
    client = AmiClient(ami_settings(sim.port), wanted=service.handled_events)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(run_bridge(client, service))]
    await wait_until(lambda: client.state.value == "connected")
    await sim.run_mix(6, until=1800, callers=[("+79165550101", "Olga Smirnova"), ("anonymous", "")])
    await wait_until(lambda: not sim.pbx.calls, timeout=10)
    await wait_until(lambda: service.active() == [])
    outcomes = {call["outcome"] for call in recorder.calls}
    assert len(recorder.calls) > 50
    assert {"answered", "ivr_hangup"} <= outcomes
    assert {c["caller_num"] for c in recorder.calls} <= {"+79165550101", "anonymous"}
    talks = [c["talk_seconds"] for c in recorder.calls if c["outcome"] == "answered"]
    assert 20 <= sum(talks) / len(talks) <= 150, "human talk times"
    await client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sim.close()


async def test_dialplan_reload_and_show_answer_as_asterisk_22(tmp_path: Path) -> None:
    """pbx_config's CLI through AMI ``Command``: ``Output`` lines, failures as ``Error``."""
    (tmp_path / "dialplans").mkdir()
    conf = tmp_path / "extensions.conf"
    conf.write_text("[general]\nstatic = yes\n\n#include dialplans/*.conf\n")
    plan = tmp_path / "dialplans" / "a.conf"
    plan.write_text("[ctx]\nexten => s,1,NoOp(one)\n")
    sim = await PbxSimulator(speed=50, auth_delay=0, dialplan=conf).start()
    ami = await RawAmi.connect(sim.port)
    await ami.login(events="off")
    ami.send(Action="Command", ActionID="s1", Command="dialplan show ctx")
    assert await ami.next() == (
        b"Response: Success\r\nActionID: s1\r\nMessage: Command output follows\r\n"
        b"Output: [ Context 'ctx' created by 'pbx_config' ]\r\n"
        b"Output:   's' =>            1. NoOp(one)" + b" " * 34 + b"[a.conf:2]\r\n"
        b"Output: \r\n"
        b"Output: -= 1 extension (1 priority) in 1 context. =-\r\n\r\n"
    )
    plan.write_text("[ctx]\n\nexten => s,1,NoOp(two)\n same => n(end),Hangup()\n")
    ami.send(Action="Command", ActionID="r1", Command="dialplan reload")
    assert await ami.next() == (
        b"Response: Success\r\nActionID: r1\r\nMessage: Command output follows\r\n"
        b"Output: Dialplan reloaded.\r\n\r\n"
    )
    ami.send(Action="Command", ActionID="n1", Command="dialplan show nowhere")
    assert await ami.next() == (
        b"Response: Error\r\nActionID: n1\r\nMessage: Command output follows\r\n"
        b"Output: There is no existence of 'nowhere' context\r\n"
        b"Output: Command 'dialplan show nowhere' failed.\r\n\r\n"
    )
    ami.send(Action="Command", ActionID="u1", Command="dialplan reload now")
    assert (await ami.message())["Output"].startswith("Usage: dialplan reload\n")
    await ami.close()
    client = AmiClient(ami_settings(sim.port), resync=False)
    await client.connect()
    reply = await client.action("Command", Command="dialplan show ctx")
    assert reply["Output"].split("\n") == [
        "[ Context 'ctx' created by 'pbx_config' ]",
        "  's' =>            1. NoOp(two)" + " " * 34 + "[a.conf:3]",
        "     [end]" + " " * 10 + "2. Hangup()" + " " * 35 + "[a.conf:4]",
        "",
        "-= 1 extension (2 priorities) in 1 context. =-",
    ]
    plan.write_text("[ctx\nexten => s,1,NoOp(three)\n")
    await client.action("Command", Command="dialplan reload")
    reply = await client.action("Command", Command="dialplan show ctx")
    assert "NoOp(two)" in reply["Output"], "a file Asterisk refuses leaves the old dialplan"
    await client.close()
    await sim.close()


@pytest.mark.parametrize(
    ("value", "mask"),
    [
        ("", -1),
        ("off", 0),
        ("OFF", 0),
        ("n", 0),
        ("f", 0),
        ("0", 0),
        ("on", ALL_CLASSES),
        ("Yes", ALL_CLASSES),
        ("t", ALL_CLASSES),
        ("1", EVENT_CLASSES["system"]),  # digits are the bits themselves, before "true"
        ("34", EVENT_CLASSES["call"] | EVENT_CLASSES["agent"]),
        ("call,agent", EVENT_CLASSES["call"] | EVENT_CLASSES["agent"]),
        ("agent,all", ALL_CLASSES),
        ("call, agent", EVENT_CLASSES["call"]),  # no trimming: " agent" names nothing
        ("bogus", 0),
    ],
)
def test_events_values_read_as_asterisk_22_reads_them(value: str, mask: int) -> None:
    assert event_mask(value) == mask


async def test_events_off_sends_nothing_but_replies_and_their_lists(sim: PbxSimulator) -> None:
    """``Events: off``: no ``FullyBooted``, no ``SuccessfulAuth``, no call's events, while a
    list action still brings its entries, which are part of the answer."""
    quiet, agent_only = await RawAmi.connect(sim.port), await RawAmi.connect(sim.port)
    login = await quiet.login(events="off")
    assert login["Message"] == "Authentication accepted"
    await agent_only.login(events="agent")
    call = sim.place_call("abandoned", caller="+79035550102")
    await wait_until(lambda: any(e for q in sim.pbx.queues.values() for e in q.entries))
    status = await quiet.action(Action="QueueStatus", Queue="support")
    assert [m.get("Event") for m in status[1:]][-1] == "QueueStatusComplete"
    assert (await call).outcome == "abandoned"
    heard = await agent_only.until(lambda m: m.get("Event") == "QueueCallerAbandon")
    assert {m["Privilege"] for m in heard} == {"agent,all"}, "only the agent class"
    (pong,) = await quiet.action(Action="Ping")
    assert pong["Ping"] == "Pong"
    assert quiet.inbox == []
    with pytest.raises(TimeoutError):
        await quiet.next(timeout=0.2)
    (on,) = await quiet.action(Action="Events", EventMask="call")
    (off,) = await quiet.action(Action="Events", EventMask="nothing-known")
    (bad,) = await quiet.action(Action="Events", EventMask="")
    assert (on["Events"], off["Events"], bad["Message"]) == ("On", "Off", "Invalid event mask")
    for ami in (quiet, agent_only):
        await ami.close()


async def test_an_action_only_client_gets_its_replies_without_waiting_for_events(
    sim: PbxSimulator,
) -> None:
    """``AmiClient(events=False)``: logs in with ``Events: off``; an ``Originate`` of a
    phone into ``ChanSpy`` and a ``QueueAdd`` answer at once (no event to wait for), a
    list action and a CLI command whole."""
    reader = AmiClient(ami_settings(sim.port))
    actions = AmiClient(ami_settings(sim.port), events=False)
    tasks = [asyncio.create_task(reader.run()), asyncio.create_task(actions.run())]
    try:
        await wait_until(lambda: "connected" == reader.state == actions.state)
        quiet = [s for s in sim.sessions if s.logged_in and not s.events]
        assert len(quiet) == 1 and len(sim.sessions) == 2
        async with asyncio.timeout(2):
            spy = await actions.action(
                "Originate",
                Channel="PJSIP/1003",
                Application="ChanSpy",
                Data="PJSIP/1001-,qE",
                Async="true",
            )
            added = await actions.action("QueueAdd", Queue="support", Interface="PJSIP/1009")
            status = await actions.action("QueueStatus", Queue="support")
            version = await actions.action("Command", Command="core show version")
        assert isinstance(version, dict) and version["Output"].startswith("Asterisk 22.10.1")
        assert isinstance(spy, dict) and spy["Message"] == "Originate successfully queued"
        assert sim.pbx.applications[-1]["Data"] == "PJSIP/1001-,qE"
        assert isinstance(added, dict) and added["Message"] == "Added interface to queue"
        assert isinstance(status, list)
        members = [m["Location"] for m in status if m.get("Event") == "QueueMember"]
        assert "PJSIP/1009" in members
        async with asyncio.timeout(2):  # the reading session answers as promptly
            again = await reader.action("QueueAdd", Queue="sales", Interface="PJSIP/1009")
        assert isinstance(again, dict) and again["Message"] == "Added interface to queue"
        assert reader.stats.dropped_noise > 0, "the events went to the reading session"
        assert actions.stats.events == actions.stats.dropped_noise == 0, "and none here"
    finally:
        await actions.close()
        await reader.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
