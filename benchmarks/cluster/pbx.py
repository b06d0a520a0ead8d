"""A fake Asterisk that goes on while its AMI readers come and go: the production benchmark's PBX.

``python -m benchmarks.cluster.pbx AGENTS RATE SECONDS REPORT [--epoch E] [--seed S]``
prints its port, then accepts any number of AMI sessions, one after another or at once:
every ``Login`` succeeds, and every event goes to every session logged in for events when
it happens, as Asterisk sends them (a session not logged in then never gets it; one
logged in with ``Events: off`` gets replies only). On a ``start`` line on stdin it places
``RATE`` calls a second for ``SECONDS`` on its own clock, whether anybody is logged in or
not: each a trunk channel that joins the ``sales`` queue, rings a free agent's phone
(``PJSIP/2000``…, picked at random) half a second later, is answered a second after that
and talks for 6 to 9 seconds, so every call outlives any takeover gap shorter than 7.5 s;
with the events Asterisk 22 writes (``cti.pbxsim.render``) and the member status changes
the wallboard reads. ``QueueStatus`` and ``CoreShowChannels`` answer with the live state
at that point of the stream (queue members, callers waiting, channels with their
application and bridge), so a reader that logs in mid-burst reads back what it missed.

Lines on stdout, times in monotonic seconds (``CLOCK_MONOTONIC``, one clock for every
process on the machine): ``PORT``; ``started T``; ``login SESSION T events|actions``;
``readback SESSION T`` (the ``CoreShowChannels`` list sent); ``closed SESSION T``;
``done`` once every call has ended and ``REPORT`` is written: JSON with every session and
every call, when each of the call's steps happened (``arrive``, ``ring`` — the moment the
``AgentCalled`` bytes were handed to the sockets —, ``answer``, ``end``) and which steps
nobody was logged in to see. A ``stop`` line on stdin ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.pop_ami import CALLERS, TERMINATOR, dest, interface, snapshot, status
from cti.pbxsim.render import (
    BANNER,
    STATE_DESC,
    render_event,
    render_list_complete,
    render_list_start,
    render_response,
)

QUEUE = "sales"
WAIT, RING = 0.5, 1.0
"""Seconds from the call's arrival to the agent's phone ringing, then to the answer."""
TALK = (6.0, 9.0)
"""Talk time, seconds, uniform: the shortest call lasts WAIT + RING + 6 = 7.5 s."""
WRAP = 1.0
"""Seconds an agent stays unavailable after a call."""
NO_EVENTS = {"off", "no", "false", "0"}
"""``Events`` values of a ``Login`` that asks for no events at all."""


@dataclass(slots=True)
class Call:
    """One planned call and, once placed, what happened to it."""

    n: int
    linkedid: str
    leg: str
    agent: int
    caller: str
    at: float
    """Seconds after the start."""
    talk: float
    times: dict[str, float] = field(default_factory=dict)
    """Per step, the monotonic time its key event left (Newchannel, AgentCalled,
    AgentConnect, the trunk's Hangup)."""
    walls: dict[str, float] = field(default_factory=dict)
    unseen: list[str] = field(default_factory=list)
    """Steps none of whose events reached a logged-in session."""

    @property
    def trunk_channel(self) -> str:
        return f"PJSIP/trunk-{self.n:08x}"

    @property
    def phone_channel(self) -> str:
        return f"{interface(self.agent)}-{self.n:08x}"

    @property
    def member(self) -> dict[str, str]:
        return {"Queue": QUEUE, "Interface": interface(self.agent), "MemberName": f"a{self.agent}"}

    def schedule(self) -> list[tuple[float, str]]:
        answer = self.at + WAIT + RING
        return [
            (self.at, "arrive"),
            (self.at + WAIT, "ring"),
            (answer, "answer"),
            (answer + self.talk, "end"),
        ]

    def report(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "agent": self.agent,
            "due": self.at,
            **self.times,
            **{f"{step}_wall": moment for step, moment in self.walls.items()},
            "unseen": self.unseen,
        }


def plan(agents: int, rate: float, seconds: float, epoch: int, seed: int) -> list[Call]:
    """The calls, each given an agent who is free when it rings (deterministic)."""
    rng = random.Random(seed)
    free = list(range(agents))
    busy: list[tuple[float, int]] = []
    calls = []
    for n in range(int(rate * seconds)):
        at = n / rate
        while busy and busy[0][0] <= at + WAIT:
            free.append(heapq.heappop(busy)[1])
        if not free:
            raise SystemExit(f"{agents} agents are too few for {rate:g} calls/s")
        pick = rng.randrange(len(free))
        free[pick], free[-1] = free[-1], free[pick]
        agent = free.pop()
        talk = rng.uniform(*TALK)
        heapq.heappush(busy, (at + WAIT + RING + talk + WRAP, agent))
        caller = CALLERS[n % len(CALLERS)] if n % 3 else f"+7916{5000000 + n:07d}"
        calls.append(Call(n, f"{epoch}.{2 * n}", f"{epoch}.{2 * n + 1}", agent, caller, at, talk))
    return calls


def say(*parts: object) -> None:
    print(*parts, flush=True)


class Session:
    """One AMI connection."""

    def __init__(self, number: int, conn: socket.socket) -> None:
        self.number = number
        self.conn = conn
        self.open = True
        self.login: float | None = None
        self.events = False
        """Logged in for events (``Events: off`` logs in for actions only: no events)."""
        self.readbacks: list[float] = []
        self.closed: float | None = None

    def send(self, data: bytes) -> bool:
        if not self.open:
            return False
        try:
            self.conn.sendall(data)
        except OSError:
            return False
        return True


class Pbx:
    """The calls' live state, the sessions, and the one lock both are changed under.

    The lock keeps the stream and the list replies in one order: a read-back shows
    exactly the events sent before it, as Asterisk's do.
    """

    def __init__(self, calls: list[Call], agents: int) -> None:
        self.calls = calls
        self.lock = threading.Lock()
        self.sessions: list[Session] = []
        self.readers: list[Session] = []
        """Sessions logged in now: they get every event."""
        self.most = 0
        self.unseen_events = 0
        self.channels: dict[str, dict[str, str]] = {}
        self.created: dict[str, float] = {}
        self.waiting: dict[str, tuple[Call, float]] = {}
        """Callers in the queue, in order, by their channel's uniqueid."""
        self.members = ["1"] * agents
        self.taken = [0] * agents
        self.last_call = [0] * agents
        self.completed = 0
        self.booted = time.time()

    # -- the calls --------------------------------------------------------------------

    def run(self, report: Path) -> None:
        start = time.monotonic() + 0.1
        say("started", f"{start:.6f}")
        due = [
            (start + at, n, step)
            for n, call in enumerate(self.calls)
            for at, step in call.schedule()
        ]
        heapq.heapify(due)
        while due:
            when, n, step = heapq.heappop(due)
            delay = when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self.lock:
                self.step(self.calls[n], step)
        with self.lock:
            body = {
                "start": start,
                "most_readers": self.most,
                "unseen_events": self.unseen_events,
                "sessions": [
                    {
                        "number": s.number,
                        "login": s.login,
                        "events": s.events,
                        "readbacks": s.readbacks,
                        "closed": s.closed,
                    }
                    for s in self.sessions
                ],
                "calls": [call.report() for call in self.calls],
            }
        report.write_text(json.dumps(body))
        say("done")

    def step(self, call: Call, step: str) -> None:
        trunk = snapshot(call.trunk_channel, call.linkedid, call.linkedid, call.caller, 6)
        phone = snapshot(call.phone_channel, call.leg, call.linkedid, call.caller, 5)
        member, agent = call.member, call.agent
        key = 1
        """Which of the step's events marks its time (``AgentCalled`` for a ring)."""
        events: list[tuple[str, dict[str, str]]]
        if step == "arrive":
            self.open_channel(trunk, "Queue", f"{QUEUE},tT,,,300")
            self.waiting[call.linkedid] = (call, time.monotonic())
            place = str(len(self.waiting))
            joined = {**trunk, "Queue": QUEUE, "Position": place, "Count": place}
            events = [("Newchannel", trunk), ("QueueCallerJoin", joined)]
            key = 0
        elif step == "ring":
            self.open_channel(phone, "AppQueue", "(Outgoing Line)")
            down = {**phone, "ChannelState": "0", "ChannelStateDesc": STATE_DESC[0]}
            self.members[agent] = "6"
            events = [
                ("Newchannel", down),
                ("AgentCalled", {**trunk, **dest(phone), **member}),
                ("QueueMemberStatus", self.member_status(agent)),
            ]
        elif step == "answer":
            position = list(self.waiting).index(call.linkedid) + 1
            del self.waiting[call.linkedid]
            bridge = f"{call.linkedid}-bridge"
            self.channels[call.linkedid]["BridgeId"] = bridge
            up = {**phone, "ChannelState": "6", "ChannelStateDesc": STATE_DESC[6]}
            self.channels[call.leg].update({**up, "BridgeId": bridge})
            self.members[agent] = "2"
            left = {
                **trunk,
                "Queue": QUEUE,
                "Position": str(position),
                "Count": str(len(self.waiting)),
            }
            held = {"HoldTime": str(round(WAIT + RING)), "RingTime": str(round(RING))}
            events = [
                ("QueueCallerLeave", left),
                ("AgentConnect", {**trunk, **dest(up), **member, **held}),
                ("QueueMemberStatus", self.member_status(agent)),
            ]
        else:
            up = {**phone, "ChannelState": "6", "ChannelStateDesc": STATE_DESC[6]}
            for uniqueid in (call.leg, call.linkedid):
                del self.channels[uniqueid]
                del self.created[uniqueid]
            self.members[agent] = "1"
            self.taken[agent] += 1
            self.last_call[agent] = int(time.time())
            self.completed += 1
            clearing = {"Cause": "16", "Cause-txt": "Normal Clearing"}
            complete = {
                "HoldTime": str(round(WAIT + RING)),
                "TalkTime": str(round(call.talk)),
                "Reason": "caller",
            }
            events = [
                ("AgentComplete", {**trunk, **dest(up), **member, **complete}),
                ("Hangup", {**up, **clearing}),
                ("Hangup", {**trunk, **clearing}),
                ("QueueMemberStatus", self.member_status(agent)),
            ]
            key = 2
        seen = False
        for index, (name, values) in enumerate(events):
            seen = self.broadcast(render_event(name, values)) or seen
            if index == key:
                call.times[step] = time.monotonic()
                call.walls[step] = time.time()
        if not seen:
            call.unseen.append(step)

    def open_channel(self, values: dict[str, str], application: str, data: str) -> None:
        uniqueid = values["Uniqueid"]
        self.channels[uniqueid] = {
            **values,
            "Application": application,
            "ApplicationData": data,
            "BridgeId": "",
        }
        self.created[uniqueid] = time.monotonic()

    def member_status(self, agent: int) -> dict[str, str]:
        member = {"Queue": QUEUE, "Interface": interface(agent), "MemberName": f"a{agent}"}
        return {
            **status(member, self.members[agent]),
            "CallsTaken": str(self.taken[agent]),
            "LastCall": str(self.last_call[agent]),
        }

    def broadcast(self, data: bytes) -> bool:
        """Send to every logged-in session; whether any got it."""
        seen = False
        for session in list(self.readers):
            if session.send(data):
                seen = True
            else:
                self.drop(session)
        if not seen:
            self.unseen_events += 1
        return seen

    # -- the sessions -----------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                session = Session(len(self.sessions) + 1, conn)
                self.sessions.append(session)
                session.send(BANNER)
            threading.Thread(target=self.serve, args=(session,), daemon=True).start()

    def serve(self, session: Session) -> None:
        buffer = b""
        try:
            while data := session.conn.recv(65536):
                buffer += data
                *actions, buffer = buffer.split(TERMINATOR)
                for action in actions:
                    self.answer(session, action)
        except OSError:
            pass
        finally:
            with self.lock:
                self.drop(session)

    def drop(self, session: Session) -> None:
        """The session is gone (closed by its reader, or a send failed). Under the lock."""
        if not session.open:
            return
        session.open = False
        session.closed = time.monotonic()
        if session in self.readers:
            self.readers.remove(session)
        with contextlib.suppress(OSError):
            session.conn.shutdown(socket.SHUT_RDWR)
        say("closed", session.number, f"{session.closed:.6f}")

    def answer(self, session: Session, action: bytes) -> None:
        lines = action.decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        name, aid = fields.get("Action", "").lower(), fields.get("ActionID", "")
        with self.lock:
            if name == "login":
                accepted = [("Message", "Authentication accepted")]
                session.send(render_response("Success", aid, accepted))
                session.login = time.monotonic()
                session.events = fields.get("Events", "on").lower() not in NO_EVENTS
                if session.events:
                    uptime = str(int(time.time() - self.booted))
                    booted = {"Uptime": uptime, "LastReload": uptime, "Status": "Fully Booted"}
                    session.send(render_event("FullyBooted", booted))
                    self.readers.append(session)
                    self.most = max(self.most, len(self.readers))
                kind = "events" if session.events else "actions"
                say("login", session.number, f"{session.login:.6f}", kind)
            elif name == "logoff":
                if session in self.readers:
                    self.readers.remove(session)
                session.send(
                    render_response("Goodbye", aid, [("Message", "Thanks for all the fish.")])
                )
            elif name == "ping":
                pong = [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
                session.send(render_response("Success", aid, pong))
            elif name == "queuestatus":
                items = self.queue_status()
                self.send_list(session, aid, "Queue status will follow", items, "QueueStatus")
            elif name == "coreshowchannels":
                items = self.core_channels()
                self.send_list(session, aid, "Channels will follow", items, "CoreShowChannels")
                moment = time.monotonic()
                session.readbacks.append(moment)
                say("readback", session.number, f"{moment:.6f}")
            else:
                message = [("Message", "Invalid/unknown command")]
                session.send(render_response("Error", aid, message))

    @staticmethod
    def send_list(
        session: Session,
        aid: str,
        message: str,
        items: list[tuple[str, dict[str, str]]],
        action: str,
    ) -> None:
        """An event list as Asterisk sends it: the acknowledgement, the items, the end."""
        body = b"".join(render_event(kind, {**values, "ActionID": aid}) for kind, values in items)
        end = render_list_complete(f"{action}Complete", aid, len(items))
        session.send(render_list_start(aid, message) + body + end)

    def core_channels(self) -> list[tuple[str, dict[str, str]]]:
        now = time.monotonic()
        rows = []
        for uniqueid, values in self.channels.items():
            seconds = max(0, int(now - self.created[uniqueid]))
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            rows.append(("CoreShowChannel", {**values, "Duration": duration}))
        return rows

    def queue_status(self) -> list[tuple[str, dict[str, str]]]:
        now = time.monotonic()
        params = {
            "Queue": QUEUE,
            "Max": "0",
            "Strategy": "rrmemory",
            "Calls": str(len(self.waiting)),
            "Holdtime": str(round(WAIT + RING)),
            "TalkTime": str(round(sum(TALK) / 2)),
            "Completed": str(self.completed),
            "Abandoned": "0",
            "ServiceLevel": "20",
            "ServicelevelPerf": "100.0",
            "ServicelevelPerf2": "100.0",
            "Weight": "0",
        }
        items: list[tuple[str, dict[str, str]]] = [("QueueParams", params)]
        for agent, code in enumerate(self.members):
            items.append(
                (
                    "QueueMember",
                    {
                        "Queue": QUEUE,
                        "Name": f"a{agent}",
                        "Location": interface(agent),
                        "StateInterface": interface(agent),
                        "Membership": "static",
                        "Penalty": "0",
                        "CallsTaken": str(self.taken[agent]),
                        "LastCall": str(self.last_call[agent]),
                        "LastPause": "0",
                        "LoginTime": str(int(self.booted)),
                        "InCall": "1" if code == "2" else "0",
                        "Status": code,
                        "Paused": "0",
                        "PausedReason": "",
                        "Wrapuptime": "0",
                    },
                )
            )
        for position, (call, joined) in enumerate(self.waiting.values(), start=1):
            items.append(
                (
                    "QueueEntry",
                    {
                        "Queue": QUEUE,
                        "Position": str(position),
                        "Channel": call.trunk_channel,
                        "Uniqueid": call.linkedid,
                        "CallerIDNum": call.caller,
                        "CallerIDName": "unknown",
                        "ConnectedLineNum": "unknown",
                        "ConnectedLineName": "unknown",
                        "Wait": str(int(now - joined)),
                        "Priority": "0",
                    },
                )
            )
        return items


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster.pbx")
    parser.add_argument("agents", type=int)
    parser.add_argument("rate", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("report", type=Path)
    parser.add_argument("--epoch", type=int, default=1795500000, help="uniqueids' first part")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    pbx = Pbx(plan(args.agents, args.rate, args.seconds, args.epoch, args.seed), args.agents)
    listener = socket.create_server(("127.0.0.1", 0))
    say(listener.getsockname()[1])
    threading.Thread(target=pbx.accept, args=(listener,), daemon=True).start()
    clock: threading.Thread | None = None
    for line in sys.stdin:
        command = line.strip()
        if command == "start" and clock is None:
            clock = threading.Thread(target=pbx.run, args=(args.report,), daemon=True)
            clock.start()
        elif command == "stop":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
