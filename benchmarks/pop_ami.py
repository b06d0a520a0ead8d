"""A fake Asterisk for the screen-pop benchmark: calls queued and offered to agents.

Run as its own process (``python -m benchmarks.pop_ami AGENTS RATE SECONDS [wallboard]``).
It prints
its port, accepts one AMI client, answers ``Login``, ``Ping`` and the resync lists, and on
``UserEvent: BenchStart`` places ``RATE`` calls a second for ``SECONDS``: each a trunk
channel that joins the ``sales`` queue, rings one of ``AGENTS`` phones (``PJSIP/2000``…)
half a second later (the IVR and a queue wait are usually longer: the dossier is looked
up meanwhile), is answered a second later and ends three seconds after that, with
the events Asterisk 22 writes (``cti.pbxsim.render``). For each ``AgentCalled`` it
prints ``sent LINKEDID MONOTONIC`` the moment the bytes were handed to the socket.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import socket
import sys
import threading
import time

from cti.pbxsim.render import BANNER, STATE_DESC, render_event
from cti.supervision.service import EVENTS as WALLBOARD_EVENTS

TERMINATOR = b"\r\n\r\n"
CALLERS = ("+79161234567", "+79165550101", "+79035550102", "+79265550103", "+74955550104")
WAIT, RING, TALK = 0.5, 1.5, 3.0
"""Seconds from the call's arrival to the agent's phone ringing, to the answer, then talk."""


def interface(agent: int) -> str:
    return f"PJSIP/{2000 + agent}"


def snapshot(channel: str, uniqueid: str, linkedid: str, caller: str, state: int) -> dict[str, str]:
    return {
        "Channel": channel,
        "ChannelState": str(state),
        "ChannelStateDesc": STATE_DESC[state],
        "CallerIDNum": caller,
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": "cti-route",
        "Exten": "s",
        "Priority": "8",
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
    }


def status(member: dict[str, str], code: str) -> dict[str, str]:
    """A ``QueueMemberStatus`` of ``member`` with device status ``code``."""
    return {
        **member,
        "StateInterface": member["Interface"],
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "1795500000",
        "InCall": "1" if code == "2" else "0",
        "Status": code,
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }


def dest(values: dict[str, str]) -> dict[str, str]:
    return {f"Dest{key}": value for key, value in values.items()}


class Calls:
    """The call plan: each call's events, due at their times."""

    def __init__(self, agents: int, rate: float, seconds: float, wallboard: bool = False) -> None:
        self.wallboard = wallboard
        self.agents = agents
        self.rate = rate
        self.seconds = seconds
        self.rng = random.Random(7)

    def events(self, start: float) -> list[tuple[float, int, str, bytes]]:
        """``(due, order, linkedid or "", bytes)``; linkedid marks an ``AgentCalled``."""
        due: list[tuple[float, int, str, bytes]] = []
        count = int(self.rate * self.seconds)
        for n in range(count):
            at = start + n / self.rate
            linkedid = f"{1795500000 + n}.{n}"
            leg_id = f"{1795500000 + n}.{n}1"
            caller = CALLERS[n % len(CALLERS)] if n % 3 else f"+7916{5000000 + n:07d}"
            agent = self.rng.randrange(self.agents)
            trunk = snapshot(f"PJSIP/trunk-{n:08x}", linkedid, linkedid, caller, 6)
            phone = snapshot(f"{interface(agent)}-{n:08x}", leg_id, linkedid, caller, 5)
            member = {"Queue": "sales", "Interface": interface(agent), "MemberName": f"a{agent}"}
            steps = [
                (at, "Newchannel", trunk, ""),
                (
                    at,
                    "QueueCallerJoin",
                    {**trunk, "Queue": "sales", "Position": "1", "Count": "1"},
                    "",
                ),
                (
                    at + WAIT,
                    "Newchannel",
                    {**phone, "ChannelState": "0", "ChannelStateDesc": "Down"},
                    "",
                ),
                (at + WAIT, "AgentCalled", {**trunk, **dest(phone), **member}, linkedid),
                (
                    at + RING,
                    "QueueCallerLeave",
                    {**trunk, "Queue": "sales", "Position": "1", "Count": "0"},
                    "",
                ),
                (
                    at + RING,
                    "AgentConnect",
                    {**trunk, **dest(phone), **member, "HoldTime": "1", "RingTime": "1"},
                    "",
                ),
                (
                    at + RING + TALK,
                    "AgentComplete",
                    {
                        **trunk,
                        **dest(phone),
                        **member,
                        "HoldTime": "1",
                        "TalkTime": "3",
                        "Reason": "caller",
                    },
                    "",
                ),
                (
                    at + RING + TALK,
                    "Hangup",
                    {**phone, "Cause": "16", "Cause-txt": "Normal Clearing"},
                    "",
                ),
                (
                    at + RING + TALK,
                    "Hangup",
                    {**trunk, "Cause": "16", "Cause-txt": "Normal Clearing"},
                    "",
                ),
            ]
            if self.wallboard:
                steps += [
                    (at + WAIT, "QueueMemberStatus", status(member, "6"), ""),
                    (at + RING, "QueueMemberStatus", status(member, "2"), ""),
                    (at + RING + TALK, "QueueMemberStatus", status(member, "1"), ""),
                ]
            for order, (when, name, values, mark) in enumerate(steps):
                if self.wallboard:
                    mark = "queue" if name in WALLBOARD_EVENTS else ""
                due.append((when, n * 16 + order, mark, render_event(name, values)))
        heapq.heapify(due)
        return due


class Session:
    def __init__(self, conn: socket.socket, calls: Calls) -> None:
        self.conn = conn
        self.calls = calls
        self.lock = threading.Lock()
        self.start = threading.Event()
        self.closed = threading.Event()

    def send(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)

    def reply(self, action_id: str, *lines: str) -> None:
        self.send(
            "\r\n".join([lines[0], f"ActionID: {action_id}", *lines[1:]]).encode() + TERMINATOR
        )

    def read_actions(self) -> None:
        buffer = b""
        try:
            while data := self.conn.recv(65536):
                buffer += data
                *actions, buffer = buffer.split(TERMINATOR)
                for action in actions:
                    self.answer(action)
        except OSError:
            pass
        finally:
            self.closed.set()
            self.start.set()

    def answer(self, action: bytes) -> None:
        fields = dict(line.split(": ", 1) for line in action.decode().split("\r\n") if ": " in line)
        name, aid = fields.get("Action", "").lower(), fields.get("ActionID", "")
        if name == "login":
            self.reply(aid, "Response: Success", "Message: Authentication accepted")
            booted = {"Uptime": "1", "LastReload": "1", "Status": "Fully Booted"}
            self.send(render_event("FullyBooted", booted))
        elif name in ("queuestatus", "coreshowchannels"):
            done = "QueueStatusComplete" if name == "queuestatus" else "CoreShowChannelsComplete"
            self.reply(aid, "Response: Success", "EventList: start", "Message: will follow")
            self.reply(aid, f"Event: {done}", "EventList: Complete", "ListItems: 0")
        elif name == "ping":
            self.reply(aid, "Response: Success", "Ping: Pong", f"Timestamp: {time.time():.6f}")
        elif name == "userevent" and fields.get("UserEvent") == "BenchStart":
            self.reply(aid, "Response: Success")
            self.start.set()
        else:
            self.reply(aid, "Response: Error", "Message: Invalid/unknown command")

    def stream(self) -> None:
        self.start.wait()
        if self.closed.is_set():
            return
        due = self.calls.events(time.monotonic() + 0.1)
        counted = 0
        while due and not self.closed.is_set():
            when, _, linkedid, data = heapq.heappop(due)
            delay = when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.send(data)
            if linkedid == "queue":
                counted += 1
                print(f"sent {counted} {time.monotonic():.6f}", flush=True)
            elif linkedid:
                print(f"sent {linkedid} {time.monotonic():.6f}", flush=True)
        print("done", flush=True)


def main() -> int:
    agents, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    wallboard = sys.argv[4:5] == ["wallboard"]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        listener.settimeout(120)
        conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = Session(conn, Calls(agents, rate, seconds, wallboard))
    session.send(BANNER)
    threading.Thread(target=session.read_actions, daemon=True).start()
    with contextlib.suppress(OSError):
        session.stream()
    session.closed.wait(60)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
