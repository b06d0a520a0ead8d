"""The simulator's AMI server: Asterisk 22's banner, login, actions and event stream."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cti.ami.protocol import AmiFramer, format_message, parse_headers
from cti.pbxsim.agi import CallerScript, IvrTarget
from cti.pbxsim.pbx import Agent, CallPlan, Shape, SimulatedPbx
from cti.pbxsim.render import render_event

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
VERSION = "22.10.1"
MAX_SESSION_BUFFER = 8 * 1024 * 1024


@dataclass
class Session:
    """One AMI client connection."""

    writer: asyncio.StreamWriter
    number: int
    logged_in: bool = False
    events: bool = True


@dataclass
class MixWeights:
    """How often each kind of call happens in ``run_mix``."""

    answered: float = 0.6
    abandoned: float = 0.15
    ringnoanswer: float = 0.1
    hangup_in_ivr: float = 0.1
    unanswered: float = 0.05


@dataclass
class PbxSimulator:
    """A PBX on ``127.0.0.1`` that speaks AMI and calls a FastAGI IVR like Asterisk 22.

    Args:
        username, secret: the AMI user that may log in.
        shape: ``local`` (channels named as in the recordings) or ``trunk``.
        speed: simulated seconds per real second.
        ivr: the FastAGI IVR to call; ``None`` runs the recordings' probe script.
    """

    username: str = "cti"
    secret: str = "demo-secret"
    host: str = "127.0.0.1"
    port: int = 0
    shape: Shape = "local"
    speed: float = 1.0
    ivr: IvrTarget | None = None
    seed: int = 0
    sessions: list[Session] = field(default_factory=list)
    failed_logins: int = 0

    def __post_init__(self) -> None:
        self.pbx = SimulatedPbx.like_the_recordings(
            self._broadcast, shape=self.shape, speed=self.speed, ivr=self.ivr, seed=self.seed
        )
        self.random = random.Random(self.seed)
        self._server: asyncio.Server | None = None
        self._numbers = itertools.count(1)
        self._calls: set[asyncio.Task[str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._booted = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> PbxSimulator:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for task in list(self._calls) + list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._calls, *self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._server is not None:
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Cut every AMI connection, as a network failure would."""
        for session in list(self.sessions):
            session.writer.transport.abort()
        self.sessions.clear()

    async def restart(self, downtime: float = 0.2) -> None:
        """Behave like an Asterisk restart: connections drop, every live call is gone."""
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        self.pbx.reset()
        await asyncio.sleep(downtime)
        self._booted = time.monotonic()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    # -- calls --------------------------------------------------------------------------

    def place_call(
        self,
        scenario: str = "answered",
        *,
        caller: str = "+79161234567",
        name: str = "Ivan Petrov",
        digits: str | None = None,
    ) -> asyncio.Task[str]:
        """Start one call like a recording's scenario; the task returns how it ended."""
        return self.start_call(self.plan(scenario, caller=caller, name=name, digits=digits))

    def start_call(self, plan: CallPlan) -> asyncio.Task[str]:
        """Start one call from a plan; the task returns how it ended."""
        task = asyncio.create_task(self.pbx.call(plan), name=f"call-{plan.caller}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return task

    def plan(self, scenario: str, *, caller: str, name: str, digits: str | None = None) -> CallPlan:
        """The caller's behaviour for a scenario name."""
        match scenario:
            case "answered":
                return CallPlan(caller, name, CallerScript(digits=digits or "2"))
            case "abandoned":
                return CallPlan(caller, name, CallerScript(digits=digits or "3"), patience=8)
            case "ringnoanswer":
                return CallPlan(caller, name, CallerScript(digits=digits or "3"), patience=24)
            case "hangup-in-ivr":
                return CallPlan(caller, name, CallerScript(digits=digits or "2", hangup_after=4))
            case "unanswered":
                return CallPlan(caller, name, CallerScript(digits=digits or "3"), max_wait=20)
        raise ValueError(f"unknown scenario {scenario!r}")

    async def burst(self, count: int, gap: float = 0.1, scenario: str = "answered") -> list[str]:
        """``count`` calls ``gap`` simulated seconds apart, callers +79161000000 onwards."""
        tasks = []
        for n in range(count):
            tasks.append(self.place_call(scenario, caller=f"+7916100{n:04d}", name=f"Caller {n}"))
            await self.pbx.sleep(gap)
        return list(await asyncio.gather(*tasks))

    def run_mix(
        self,
        calls_per_minute: float = 12.0,
        weights: MixWeights | None = None,
        callers: list[tuple[str, str]] | None = None,
    ) -> asyncio.Task[None]:
        """Place a steady, realistic mix of calls until cancelled (the demo)."""
        task = asyncio.create_task(self._mix(calls_per_minute, weights or MixWeights(), callers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _mix(
        self, per_minute: float, weights: MixWeights, callers: list[tuple[str, str]] | None
    ) -> None:
        kinds = ["answered", "abandoned", "ringnoanswer", "hangup-in-ivr", "unanswered"]
        chances = [
            weights.answered,
            weights.abandoned,
            weights.ringnoanswer,
            weights.hangup_in_ivr,
            weights.unanswered,
        ]
        people = callers or [(f"+7916{n:07d}", f"Caller {n}") for n in range(1000, 1100)]
        self._human_agents()
        while True:
            kind = self.random.choices(kinds, chances)[0]
            number, name = self.random.choice(people)
            plan = self.plan(kind, caller=number, name=name, digits=self.random.choice("123"))
            if kind == "hangup-in-ivr":
                plan.script.hangup_after = self.random.randint(0, 2)
            self.start_call(plan)
            await self.pbx.sleep(self.random.expovariate(per_minute / 60))

    def _human_agents(self) -> None:
        """Give the demo's agents human timings: a few rings, a few minutes of talk."""
        for queue in self.pbx.queues.values():
            for member in queue.members:
                member.agent = Agent(
                    answer_after=self.random.uniform(2, 8), talk=self.random.uniform(30, 240)
                )

    # -- the AMI side -------------------------------------------------------------------

    def _broadcast(self, data: bytes) -> None:
        for session in list(self.sessions):
            if session.logged_in and session.events:
                self._write(session, data)

    def _write(self, session: Session, data: bytes) -> None:
        transport = session.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_SESSION_BUFFER:
            log.warning("simulated Asterisk: AMI client too slow; disconnecting it")
            transport.abort()
            return
        session.writer.write(data)

    async def send_raw(self, data: bytes) -> None:
        """Write raw bytes to every logged-in client (garbage, partial frames)."""
        for session in list(self.sessions):
            if session.logged_in:
                session.writer.write(data)
                with contextlib.suppress(ConnectionError):
                    await session.writer.drain()

    async def replay(self, raw: bytes) -> None:
        """Stream a recorded ``ami.raw`` to logged-in clients, from its first event on."""
        start = raw.find(b"\r\n\r\nEvent: ")
        await self.send_raw(raw[start + 4 if start >= 0 else 0 :])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer, next(self._numbers))
        self.sessions.append(session)
        writer.write(BANNER)
        framer = AmiFramer(expect_banner=False)
        try:
            while data := await reader.read(65536):
                for frame in framer.feed(data):
                    if not self._action(session, parse_headers(frame)):
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            writer.close()

    def _reply(self, session: Session, *fields: tuple[str, str]) -> None:
        self._write(session, format_message(list(fields)))

    def _action(self, session: Session, action: dict[str, str]) -> bool:
        name = action.get("Action", "").lower()
        action_id = action.get("ActionID", "")
        aid = ("ActionID", action_id)
        if name == "login":
            return self._login(session, action, aid)
        if not session.logged_in:
            self._reply(session, ("Response", "Error"), aid, ("Message", "Permission denied"))
            return True
        handler: dict[str, Callable[[Session, dict[str, str], tuple[str, str]], None]] = {
            "ping": self._ping,
            "coresettings": self._core_settings,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "command": self._command,
            "queuepause": self._queue_pause,
            "originate": self._originate,
        }
        if name == "logoff":
            self._reply(
                session, ("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")
            )
            return False
        if name in handler:
            handler[name](session, action, aid)
        else:
            self._reply(session, ("Response", "Error"), aid, ("Message", "Invalid/unknown command"))
        return True

    def _login(self, session: Session, action: dict[str, str], aid: tuple[str, str]) -> bool:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            self.failed_logins += 1
            self._reply(session, ("Response", "Error"), aid, ("Message", "Authentication failed"))
            return False
        session.logged_in = True
        session.events = action.get("Events", "on").lower() not in ("off", "no")
        self._reply(session, ("Response", "Success"), aid, ("Message", "Authentication accepted"))
        uptime = str(int(time.monotonic() - self._booted))
        if session.events:
            self._write(
                session,
                render_event(
                    "FullyBooted",
                    {"Uptime": uptime, "LastReload": uptime, "Status": "Fully Booted"},
                ),
            )
        return True

    def _ping(self, session: Session, _: dict[str, str], aid: tuple[str, str]) -> None:
        self._reply(
            session,
            ("Response", "Success"),
            aid,
            ("Ping", "Pong"),
            ("Timestamp", f"{time.time():.6f}"),
        )

    def _core_settings(self, session: Session, _: dict[str, str], aid: tuple[str, str]) -> None:
        self._reply(
            session,
            ("Response", "Success"),
            aid,
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", VERSION),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", "asterisk"),
            ("CoreRunGroup", "asterisk"),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        )

    def _list(
        self,
        session: Session,
        aid: tuple[str, str],
        message: str,
        items: list[tuple[str, dict[str, str]]],
        complete: str,
    ) -> None:
        self._reply(
            session, ("Response", "Success"), aid, ("EventList", "start"), ("Message", message)
        )
        for event, values in items:
            self._write(session, render_event(event, {**values, "ActionID": aid[1]}))
        self._write(
            session,
            render_event(
                complete,
                {"ActionID": aid[1], "EventList": "Complete", "ListItems": str(len(items))},
            ),
        )

    def _core_show_channels(
        self, session: Session, _: dict[str, str], aid: tuple[str, str]
    ) -> None:
        items = [("CoreShowChannel", row) for row in self.pbx.core_show_channels()]
        self._list(session, aid, "Channels will follow", items, "CoreShowChannelsComplete")

    def _queue_status(self, session: Session, action: dict[str, str], aid: tuple[str, str]) -> None:
        wanted = action.get("Queue")
        items: list[tuple[str, dict[str, str]]] = []
        for queue in self.pbx.queues.values():
            if wanted and queue.name != wanted:
                continue
            answered = queue.completed
            items.append(
                (
                    "QueueParams",
                    {
                        "Queue": queue.name,
                        "Max": "0",
                        "Strategy": queue.strategy,
                        "Calls": str(len(queue.callers)),
                        "Holdtime": str(round(queue.holdtime)),
                        "TalkTime": str(round(queue.talktime)),
                        "Completed": str(answered),
                        "Abandoned": str(queue.abandoned),
                        "ServiceLevel": "0",
                        "ServicelevelPerf": "0.0",
                        "ServicelevelPerf2": "0.0",
                        "Weight": "0",
                    },
                )
            )
            items.extend(("QueueMember", member.values()) for member in queue.members)
            for position, chan in enumerate(queue.callers, start=1):
                wait = self.pbx.elapsed(queue.joined.get(chan.uniqueid, time.monotonic()))
                items.append(
                    (
                        "QueueEntry",
                        {
                            **chan.snapshot(),
                            "Queue": queue.name,
                            "Position": str(position),
                            "Wait": str(int(wait)),
                            "Priority": "0",
                        },
                    )
                )
        self._list(session, aid, "Queue status will follow", items, "QueueStatusComplete")

    def _queue_summary(self, session: Session, _: dict[str, str], aid: tuple[str, str]) -> None:
        items = []
        for queue in self.pbx.queues.values():
            available = [m for m in queue.members if not m.busy and not m.paused]
            longest = max((self.pbx.elapsed(t) for t in queue.joined.values()), default=0)
            items.append(
                (
                    "QueueSummary",
                    {
                        "Queue": queue.name,
                        "LoggedIn": str(len(queue.members)),
                        "Available": str(len(available)),
                        "Callers": str(len(queue.callers)),
                        "HoldTime": str(round(queue.holdtime)),
                        "TalkTime": str(round(queue.talktime)),
                        "LongestHoldTime": str(int(longest)),
                    },
                )
            )
        self._list(session, aid, "Queue summary will follow", items, "QueueSummaryComplete")

    def _command(self, session: Session, action: dict[str, str], aid: tuple[str, str]) -> None:
        command = action.get("Command", "").strip().lower()
        if command == "core show version":
            output = f"Asterisk {VERSION} built by simulator on a x86_64 running Linux"
        elif command.startswith("core show channels"):
            output = f"{len(self.pbx.channels)} active channels"
        else:
            output = (
                f"No such command '{action.get('Command', '')}' (type 'core show help' for help)"
            )
        self._reply(session, ("Response", "Success"), aid, ("Output", output))

    def _queue_pause(self, session: Session, action: dict[str, str], aid: tuple[str, str]) -> None:
        interface = action.get("Interface", "")
        paused = action.get("Paused", "true").lower() in ("true", "1", "yes")
        members = [
            m
            for q in self.pbx.queues.values()
            if not action.get("Queue") or q.name == action.get("Queue")
            for m in q.members
            if m.interface == interface
        ]
        if not members:
            self._reply(session, ("Response", "Error"), aid, ("Message", "Interface not found"))
            return
        for member in members:
            member.paused = paused
            member.paused_reason = action.get("Reason", "") if paused else ""
            member.last_pause = int(time.time())
            self._broadcast(render_event("QueueMemberPause", member.values()))
        word = "paused" if paused else "unpaused"
        self._reply(
            session, ("Response", "Success"), aid, ("Message", f"Interface {word} successfully")
        )

    def _originate(self, session: Session, action: dict[str, str], aid: tuple[str, str]) -> None:
        number, _, name = action.get("CallerID", "").partition(" <")
        caller = name.rstrip(">") if name else number
        display = number.strip('"') if name else ""
        self._reply(
            session, ("Response", "Success"), aid, ("Message", "Originate successfully queued")
        )
        self.place_call("answered", caller=caller or "+79161234567", name=display or "Caller")
