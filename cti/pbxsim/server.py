"""The simulator's AMI server: Asterisk 22's banner, login, actions and event stream.

``PbxSimulator`` runs ``cti.pbxsim.engine.Pbx`` in real time scaled by ``speed``
(virtual seconds per real second), serves AMI on ``127.0.0.1`` and, when given an
IVR address, calls it over FastAGI for every inbound call. ``Originate`` into
``cti-outbound`` rings an agent's phone and dials the customer (``PbxSimulator.callees``
says how customers answer); any other ``Originate`` with ``Exten`` places a simulated
inbound call, as the recordings were made. Replies are Asterisk's,
texts included (``main/manager.c`` of 22.10.1); fault hooks (``restart``,
``drop_connections``, ``send_raw``) let tests break things the way a real PBX does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cti.ami.protocol import AmiFramer, parse_headers
from cti.dialplan.pbx import extension_match
from cti.pbxsim.agi import MAX_AGI_CONNECT, run_fastagi
from cti.pbxsim.agisession import AgiSession
from cti.pbxsim.dialplan import SimDialplan
from cti.pbxsim.engine import (
    ORIGINATE_TIMEOUT,
    Call,
    Callee,
    CallPlan,
    IvrTarget,
    Originate,
    Pbx,
    PbxConfig,
    Shape,
)
from cti.pbxsim.render import (
    AMI_VERSION,
    BANNER,
    VERSION,
    render_error,
    render_event,
    render_goodbye,
    render_list_complete,
    render_list_start,
    render_response,
    render_success,
)
from cti.pbxsim.scenarios import MixWeights, config_for, human_behaviour, human_plan, plan_for

log = logging.getLogger(__name__)

MAX_SESSION_BUFFER = 8 * 1024 * 1024
AUTH_TIMEOUT = 30.0
TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})
EVENT_CLASSES = {
    "system": 1 << 0,
    "call": 1 << 1,
    "log": 1 << 2,
    "verbose": 1 << 3,
    "command": 1 << 4,
    "agent": 1 << 5,
    "user": 1 << 6,
    "config": 1 << 7,
    "dtmf": 1 << 8,
    "reporting": 1 << 9,
    "cdr": 1 << 10,
    "dialplan": 1 << 11,
    "originate": 1 << 12,
    "agi": 1 << 13,
    "cc": 1 << 15,
    "aoc": 1 << 16,
    "test": 1 << 17,
    "security": 1 << 18,
    "message": 1 << 30,
}
"""``perms[]`` of ``main/manager.c``: the event classes and their bits."""
ALL_CLASSES = sum(EVENT_CLASSES.values())
"""What the simulator's AMI user may read (``read = all``)."""
DEFAULT_CALLERS = [(f"+7916{n:07d}", f"Caller {n}") for n in range(1000, 1100)]
MAX_PUBLIC_UNIQUEID = 149
"""``AST_MAX_PUBLIC_UNIQUEID``: the longest ``ChannelId`` ``Originate`` takes."""
OUTBOUND_PATTERN = "_+X."
"""The one extension of ``[cti-outbound]`` (dialplans/outbound.conf): E.164 numbers."""


@dataclass(eq=False)
class Session:
    """One AMI client connection and what Asterisk keeps about it."""

    writer: asyncio.StreamWriter
    number: int
    logged_in: bool = False
    send_events: int = ALL_CLASSES
    """The event classes sent to this session (``Events`` on ``Login``, the ``Events`` action)."""
    username: str = ""
    challenge: str = ""

    @property
    def events(self) -> bool:
        """Whether this session gets events at all (``Events: off`` clears every class)."""
        return self.send_events != 0

    def wants(self, category: int) -> bool:
        """Whether an event of ``category`` goes to this session, as Asterisk decides it."""
        return self.logged_in and self.send_events & category == category

    @property
    def peer(self) -> tuple[str, int]:
        address = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        return str(address[0]), int(address[1])

    @property
    def local(self) -> tuple[str, int]:
        address = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        return str(address[0]), int(address[1])


@dataclass(frozen=True)
class CallResult:
    """How a simulated call ended and what the IVR decided for it."""

    outcome: str
    linkedid: str
    queue: str
    agent: str
    variables: dict[str, str]


def _login_part(raw: bytes) -> int:
    """Where a recording's own banner, login reply, ``FullyBooted`` and ``SuccessfulAuth`` end."""
    position = raw.index(b"\r\n") + 2 if raw.startswith(BANNER[:-2]) else 0
    while (end := raw.find(b"\r\n\r\n", position)) >= 0:
        frame = raw[position:end]
        login = b"Message: Authentication accepted" in frame and frame.startswith(b"Response: ")
        if not login and not frame.startswith((b"Event: FullyBooted", b"Event: SuccessfulAuth")):
            break
        position = end + 4
    return position


def _true(value: str) -> bool:
    return value.strip().lower() in TRUE_WORDS


def _callerid(value: str) -> tuple[str | None, str | None]:
    """``CallerID`` as ``ast_callerid_parse`` and ``ast_shrink_phone_number`` read it."""
    name, bracket, rest = value.partition("<")
    if bracket:
        number = rest.partition(">")[0].strip()
        display = name.strip().strip('"').strip()
    elif value.strip().lstrip("+").replace(" ", "").replace("-", "").isdigit():
        number, display = value.strip(), ""
    else:
        number, display = "", value.strip().strip('"').strip()
    last = len(number) - 1
    shrunk = "".join(c for i, c in enumerate(number) if c not in "() -" and (c != "." or i == last))
    return shrunk or None, display or None


def event_mask(value: str) -> int:
    """An ``Events`` or ``EventMask`` value as Asterisk 22 reads it (``strings_to_mask``).

    -1 when empty; a number is taken as the bits themselves; a false word (``off``) is 0,
    a true word (``on``) every class; otherwise the classes named in a comma list
    (``call,agent``; ``all`` is every class, an unknown name none).
    """
    if not value:
        return -1
    if all("0" <= char <= "9" for char in value):
        return int(value)
    if value.lower() in FALSE_WORDS:
        return 0
    if value.lower() in TRUE_WORDS:
        return ALL_CLASSES
    names = value.split(",")
    if "all" in names:
        return ALL_CLASSES
    return sum(bit for name, bit in EVENT_CLASSES.items() if name in names)


def event_class(data: bytes) -> int:
    """The class bits of a rendered event, from its ``Privilege`` header (0 without one)."""
    start = data.find(b"\r\nPrivilege: ")
    if start < 0:
        return 0
    start += len(b"\r\nPrivilege: ")
    names = data[start : data.find(b"\r\n", start)].decode().split(",")
    return sum(EVENT_CLASSES.get(name, 0) for name in names)


def _tv(epoch: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{stamp}.{int(epoch * 1000) % 1000:03d}+0000"


class PbxSimulator:
    """A PBX on ``127.0.0.1`` that speaks AMI and calls a FastAGI IVR like Asterisk 22.

    Args:
        username: the AMI user that may log in (matched case-insensitively).
        secret: its secret.
        host: where to listen.
        port: the port; ``0`` picks a free one (read ``port`` after ``start``).
        shape: ``local`` (channels as the recordings name them) or ``trunk``
            (``PJSIP/trunk-…`` and ``PJSIP/100x`` agents, the project's dialplan).
        speed: virtual seconds per real second (``100`` plays a 30 s call in 0.3 s).
        ivr: ``(host, port)`` of the FastAGI IVR; ``None`` runs the recordings' probe.
        seed: seeds every random choice, so a run can be repeated.
        config: a full PBX configuration (overrides ``shape`` and ``ivr``).
        auth_delay: real seconds before a failed login is answered (Asterisk: 1).
        dialplan: an extensions.conf to load (its ``#include``s relative to its folder);
            ``dialplan reload`` re-reads it and ``dialplan show`` lists what is loaded.
    """

    def __init__(
        self,
        *,
        username: str = "cti",
        secret: str = "demo-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        shape: Shape = "local",
        speed: float = 1.0,
        ivr: IvrTarget | None = None,
        seed: int = 0,
        config: PbxConfig | None = None,
        auth_delay: float = 1.0,
        dialplan: Path | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.username = username
        self.secret = secret
        self.host = host
        self.port = port
        self.speed = speed
        self.seed = seed
        self.auth_delay = auth_delay
        self.config = config or config_for(shape, ivr=ivr)
        self.dialplan = SimDialplan(dialplan)
        self.dialplan.reload()
        self.sessions: list[Session] = []
        self.listeners: list[Callable[[bytes], None]] = []
        """Also receive every AMI event the PBX publishes (recorders, tests)."""
        self._held: list[bytes] | None = None
        self.failed_logins = 0
        self.human_agents = False
        """Whether agents answer and talk with human timings (``run_mix`` turns it on)."""
        self.random = random.Random(seed)
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._driver: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._waiters: set[asyncio.Future[CallResult]] = set()
        self._origin_real = 0.0
        self._origin_virtual = 0.0
        self.pbx = self._new_pbx(time.time())
        self._anchor()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> PbxSimulator:
        """Listen for AMI clients and start the clock."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ensure_clock()
        return self

    async def close(self) -> None:
        """Stop everything: calls, IVR sessions, AMI connections, the listener."""
        tasks = list(self._tasks)
        if self._driver is not None:
            tasks.append(self._driver)
        for task in tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session_tasks:
            await asyncio.wait(list(self._session_tasks), timeout=max(1.0, self.auth_delay + 0.5))
        if self._server is not None:
            await self._server.wait_closed()
        self._fail_waiters()

    async def __aenter__(self) -> PbxSimulator:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def drop_connections(self) -> None:
        """Cut every AMI connection at once, as a network failure would."""
        for session in list(self.sessions):
            session.writer.transport.abort()
        self.sessions.clear()

    async def restart(self, downtime: float = 0.2) -> None:
        """Behave like an Asterisk restart: connections drop, live calls vanish, it comes back.

        New logins get ``FullyBooted`` with a small ``Uptime``; queue statistics and
        channel numbering start again from zero, as they do on a real restart.
        """
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for task in list(self._tasks):
            if task.get_name().startswith("pbxsim-agi"):
                task.cancel()
        self._fail_waiters()
        self.pbx = self._new_pbx(self.virtual_now())
        self._anchor()
        self._kick.set()
        self.dialplan.reload()
        await asyncio.sleep(downtime)
        self.pbx.booted = self.pbx.last_reload = self.virtual_now()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    def _new_pbx(self, start: float) -> Pbx:
        pbx = Pbx(self.config, self._broadcast, seed=self.random.randrange(1 << 30), start=start)
        pbx.agi_connector = self._connect_agi
        pbx.awaiter = self._outcome
        if self.human_agents:
            self._humanise(pbx)
        return pbx

    @staticmethod
    def _humanise(pbx: Pbx) -> None:
        for queue in pbx.queues.values():
            for member in queue.members:
                member.behaviour = human_behaviour

    @property
    def callees(self) -> dict[str, Callee]:
        """How customers' phones answer outbound calls, by number (kept across ``restart``)."""
        return self.pbx.callees

    async def _outcome(self, call: Call) -> str:
        self._ensure_clock()
        return (await self._result(call)).outcome

    def _ensure_clock(self) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive(), name="pbxsim-clock")

    # -- the clock ----------------------------------------------------------------------

    def _anchor(self) -> None:
        self._origin_real = time.monotonic()
        self._origin_virtual = self.pbx.now

    def virtual_now(self) -> float:
        """The PBX's epoch time now: real time elapsed since start, times ``speed``."""
        return self._origin_virtual + (time.monotonic() - self._origin_real) * self.speed

    def sync(self) -> None:
        """Bring the PBX to the present: run every step that is due by now."""
        self.pbx.run_until(self.virtual_now())

    def _poke(self) -> None:
        self._kick.set()

    async def _drive(self) -> None:
        while True:
            try:
                self.sync()
            except Exception:
                log.exception("simulated Asterisk: a call step failed; the PBX carries on")
                continue
            self._kick.clear()
            due = self.pbx.next_due()
            if due is None:
                await self._kick.wait()
                continue
            delay = (due - self.virtual_now()) / self.speed
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), delay)

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- FastAGI ------------------------------------------------------------------------

    def _connect_agi(self, session: AgiSession) -> None:
        target = self.config.ivr
        if target is None:
            session.fail()
            return
        timeout = max(MAX_AGI_CONNECT / self.speed, 0.25)
        self._spawn(
            run_fastagi(
                session, target, connect_timeout=timeout, before=self.sync, after=self._poke
            ),
            f"pbxsim-agi-{session.chan.uniqueid}",
        )

    # -- calls --------------------------------------------------------------------------

    def plan(
        self,
        scenario: str = "answered",
        *,
        caller: str = "+79161234567",
        name: str = "Ivan Petrov",
        digits: str | None = None,
        hold: float | None = None,
        talk: float | None = None,
    ) -> CallPlan:
        """The caller's plan for a scenario, to adjust before ``place_call(plan=…)``."""
        return plan_for(scenario, caller=caller, name=name, digits=digits, hold=hold, talk=talk)

    def place_call(
        self,
        scenario: str = "answered",
        *,
        caller: str = "+79161234567",
        name: str = "Ivan Petrov",
        digits: str | None = None,
        hold: float | None = None,
        talk: float | None = None,
        plan: CallPlan | None = None,
    ) -> asyncio.Future[CallResult]:
        """Start one call of a scenario (see ``cti.pbxsim.scenarios.plan_for``) now.

        Returns:
            A future of the call's ``CallResult``: await it to wait for the end of the
            call, or let the call run on its own.

        Raises:
            ValueError: unknown scenario.
        """
        if plan is None:
            plan = self.plan(
                scenario, caller=caller, name=name, digits=digits, hold=hold, talk=talk
            )
        return self._result(self._start(plan))

    def _start(
        self, plan: CallPlan, *, action_id: str = "", originated: bool | None = None
    ) -> Call:
        self._ensure_clock()
        self.sync()
        call = self.pbx.place_call(plan, action_id=action_id, originated=originated)
        self._poke()
        return call

    def _result(self, call: Call) -> asyncio.Future[CallResult]:
        future: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()
        self._waiters.add(future)
        future.add_done_callback(self._waiters.discard)

        def done(_signal: object) -> None:
            if not future.done():
                future.set_result(
                    CallResult(
                        call.outcome, call.linkedid, call.queue, call.agent, call.ivr_variables
                    )
                )

        call.done.subscribe(done)
        return future

    def _fail_waiters(self) -> None:
        for future in list(self._waiters):
            if not future.done():
                future.set_result(CallResult("lost", "", "", "", {}))

    async def burst(
        self, count: int, *, gap: float = 0.1, scenario: str = "abandoned", digits: str = "2"
    ) -> list[CallResult]:
        """Play ``count`` calls ``gap`` virtual seconds apart (callers ``+79161000000`` on)."""
        futures = []
        for n in range(count):
            futures.append(
                self.place_call(
                    scenario, caller=f"+7916100{n:04d}", name=f"Caller {n}", digits=digits
                )
            )
            await asyncio.sleep(gap / self.speed)
        return list(await asyncio.gather(*futures))

    def run_mix(
        self,
        calls_per_minute: float = 12.0,
        *,
        until: float | None = None,
        weights: MixWeights | None = None,
        callers: Sequence[tuple[str, str]] | None = None,
    ) -> asyncio.Task[None]:
        """Place a steady, realistic mix of calls (the demo) until ``until`` or cancelled.

        Arrivals are a Poisson stream of ``calls_per_minute``; agents answer after a few
        seconds and talk for minutes; some callers give up in the queue, some in the
        IVR, some rings go unanswered.

        Args:
            calls_per_minute: arrival rate, per virtual minute.
            until: virtual seconds to keep placing calls; ``None`` until cancelled.
            weights: how often each kind of caller turns up.
            callers: ``(number, name)`` pairs to draw callers from.

        Returns:
            The task placing the calls (calls already placed run on when it ends).
        """
        return self._spawn(
            self._mix(calls_per_minute, until, weights or MixWeights(), callers),
            "pbxsim-mix",
        )

    async def _mix(
        self,
        per_minute: float,
        until: float | None,
        weights: MixWeights,
        callers: Sequence[tuple[str, str]] | None,
    ) -> None:
        people = list(callers or DEFAULT_CALLERS)
        self.human_agents = True
        self._humanise(self.pbx)
        started = self.virtual_now()
        while until is None or self.virtual_now() - started < until:
            _, plan = human_plan(self.random, weights, people)
            self.place_call(plan=plan)
            await asyncio.sleep(self.random.expovariate(per_minute / 60.0) / self.speed)

    # -- the AMI side -------------------------------------------------------------------

    def _broadcast(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
            return
        for listener in self.listeners:
            listener(data)
        category = event_class(data)
        for session in self.sessions:
            if session.wants(category):
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

    def send_raw(self, data: bytes) -> None:
        """Write raw bytes to every client that takes events (garbage, oversize or partial
        frames)."""
        for session in self.sessions:
            if session.logged_in and session.events:
                self._write(session, data)

    async def replay(self, raw: bytes, *, chunk: int = 65536) -> None:
        """Stream a recorded ``ami.raw`` to logged-in clients, without its banner and login."""
        body = raw[_login_part(raw) :]
        for offset in range(0, len(body), chunk):
            self.send_raw(body[offset : offset + chunk])
            for session in list(self.sessions):
                with contextlib.suppress(ConnectionError):
                    await session.writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        session = Session(writer, next(self._numbers))
        self.sessions.append(session)
        writer.write(BANNER)
        framer = AmiFramer(expect_banner=False)
        try:
            while True:
                timeout = None if session.logged_in else AUTH_TIMEOUT
                data = await asyncio.wait_for(reader.read(65536), timeout)
                if not data:
                    break
                for frame in framer.feed(data):
                    if not await self._action(session, parse_headers(frame)):
                        return
        except (ConnectionError, TimeoutError):
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            writer.close()
            if task is not None:
                self._session_tasks.discard(task)

    def _reply(self, session: Session, data: bytes) -> None:
        self._write(session, data)

    async def _action(self, session: Session, action: dict[str, str]) -> bool:
        name = next((v for k, v in action.items() if k.lower() == "action" and v), "")
        aid = action.get("ActionID", "")
        if not name:
            self._reply(session, render_error(aid, "Missing action in request"))
            return True
        verb = name.lower()
        if not session.logged_in and verb not in ("login", "logoff", "challenge"):
            self._reply(session, render_error(aid, "Permission denied"))
            return True
        if verb == "login":
            return await self._login(session, action, aid)
        if verb == "logoff":
            self._reply(session, render_goodbye(aid))
            return False
        if verb == "challenge":
            self._challenge(session, action, aid)
            return True
        handler = self._handlers().get(verb)
        if handler is None:
            message = (
                f"Invalid/unknown command: {name}. "
                "Use Action: ListCommands to show available commands."
            )
            self._reply(session, render_error(aid, message))
            return True
        self.sync()
        self._held = []
        try:
            handler(session, action, aid)
        finally:
            held, self._held = self._held, None
        for data in held:
            self._broadcast(data)
        self._poke()
        return True

    def _handlers(self) -> dict[str, Callable[[Session, dict[str, str], str], None]]:
        return {
            "ping": self._ping,
            "coresettings": self._core_settings,
            "corestatus": self._core_status,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
            "command": self._command,
            "originate": self._originate,
            "events": self._events,
            "setvar": self._setvar,
            "redirect": self._redirect,
        }

    def _setvar(self, session: Session, action: dict[str, str], aid: str) -> None:
        error = self.pbx.setvar(
            action.get("Channel", ""), action.get("Variable", ""), action.get("Value", "")
        )
        self._reply(
            session, render_error(aid, error) if error else render_success(aid, "Variable Set")
        )

    def _redirect(self, session: Session, action: dict[str, str], aid: str) -> None:
        error = self.pbx.redirect(
            action.get("Channel", ""),
            action.get("Context", ""),
            action.get("Exten", ""),
            action.get("Priority", ""),
        )
        reply = render_error(aid, error) if error else render_success(aid, "Redirect successful")
        self._reply(session, reply)

    def _challenge(self, session: Session, action: dict[str, str], aid: str) -> None:
        if action.get("AuthType", "").lower() != "md5":
            self._reply(session, render_error(aid, "Must specify AuthType"))
            return
        if not session.challenge:
            session.challenge = str(self.random.randrange(1 << 31))
        self._reply(session, render_response("Success", aid, [("Challenge", session.challenge)]))

    async def _login(self, session: Session, action: dict[str, str], aid: str) -> bool:
        if session.logged_in:
            self._reply(session, render_success(aid, "Already authenticated"))
            return True
        if not self._authenticated(session, action):
            self.failed_logins += 1
            await asyncio.sleep(self.auth_delay)
            self._reply(session, render_error(aid, "Authentication failed"))
            return False
        session.logged_in = True
        session.username = action.get("Username", "")
        mask = event_mask(action.get("Events", ""))
        session.send_events = ALL_CLASSES if mask < 0 else ALL_CLASSES & mask
        self.sync()
        self._reply(session, render_success(aid, "Authentication accepted"))
        if session.send_events & EVENT_CLASSES["system"]:
            uptime = str(max(0, int(self.pbx.now - self.pbx.booted)))
            reload = str(max(0, int(self.pbx.now - self.pbx.last_reload)))
            self._write(
                session,
                render_event(
                    "FullyBooted",
                    {"Uptime": uptime, "LastReload": reload, "Status": "Fully Booted"},
                ),
            )
        local, remote = session.local, session.peer
        stamp = _tv(self.pbx.now)
        self._broadcast(
            render_event(
                "SuccessfulAuth",
                {
                    "EventTV": stamp,
                    "Severity": "Informational",
                    "Service": "AMI",
                    "EventVersion": "1",
                    "AccountID": session.username,
                    "SessionID": f"0x{0x7F6948000000 + session.number * 0x11A0:x}",
                    "LocalAddress": f"IPV4/TCP/{local[0]}/{local[1]}",
                    "RemoteAddress": f"IPV4/TCP/{remote[0]}/{remote[1]}",
                    "UsingPassword": "0",
                    "SessionTV": stamp,
                },
            )
        )
        return True

    def _authenticated(self, session: Session, action: dict[str, str]) -> bool:
        if action.get("Username", "").lower() != self.username.lower():
            return False
        if action.get("AuthType", "").lower() == "md5":
            expected = hashlib.md5(
                (session.challenge + self.secret).encode(), usedforsecurity=False
            ).hexdigest()
            return bool(session.challenge) and action.get("Key", "") == expected
        return action.get("Secret", "") == self.secret

    def _events(self, session: Session, action: dict[str, str], aid: str) -> None:
        mask = event_mask(action.get("EventMask", ""))
        if mask < 0:
            self._reply(session, render_error(aid, "Invalid event mask"))
            return
        session.send_events = ALL_CLASSES & mask
        word = "On" if mask > 0 else "Off"
        self._reply(session, render_response("Success", aid, [("Events", word)]))

    def _ping(self, session: Session, _: dict[str, str], aid: str) -> None:
        now = self.pbx.now
        self._reply(
            session,
            render_response("Success", aid, [("Ping", "Pong"), ("Timestamp", f"{now:.6f}")]),
        )

    def _core_settings(self, session: Session, _: dict[str, str], aid: str) -> None:
        fields = [
            ("AMIversion", AMI_VERSION),
            ("AsteriskVersion", VERSION),
            ("SystemName", self.config.system_name),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        ]
        self._reply(session, render_response("Success", aid, fields))

    def _core_status(self, session: Session, _: dict[str, str], aid: str) -> None:
        def split(epoch: float) -> tuple[str, str]:
            moment = time.localtime(epoch)
            return time.strftime("%Y-%m-%d", moment), time.strftime("%H:%M:%S", moment)

        boot_date, boot_time = split(self.pbx.booted)
        reload_date, reload_time = split(self.pbx.last_reload)
        calls = len(self.pbx.calls)
        fields = [
            ("CoreStartupDate", boot_date),
            ("CoreStartupTime", boot_time),
            ("CoreReloadDate", reload_date),
            ("CoreReloadTime", reload_time),
            ("CoreCurrentCalls", str(calls)),
            ("CoreProcessedCalls", str(calls)),
        ]
        self._reply(session, render_response("Success", aid, fields))

    def _list(
        self,
        session: Session,
        aid: str,
        message: str,
        items: list[tuple[str, dict[str, str]]],
        complete: str,
    ) -> None:
        self._reply(session, render_list_start(aid, message))
        for event, values in items:
            self._write(session, render_event(event, {**values, "ActionID": aid}))
        self._write(session, render_list_complete(complete, aid, len(items)))

    def _core_show_channels(self, session: Session, _: dict[str, str], aid: str) -> None:
        items = [("CoreShowChannel", row) for row in self.pbx.core_show_channels()]
        self._list(session, aid, "Channels will follow", items, "CoreShowChannelsComplete")

    def _queue_status(self, session: Session, action: dict[str, str], aid: str) -> None:
        items = self.pbx.queue_status(action.get("Queue", ""), action.get("Member", ""))
        self._list(session, aid, "Queue status will follow", items, "QueueStatusComplete")

    def _queue_summary(self, session: Session, action: dict[str, str], aid: str) -> None:
        items = [("QueueSummary", row) for row in self.pbx.queue_summary(action.get("Queue", ""))]
        self._list(session, aid, "Queue summary will follow", items, "QueueSummaryComplete")

    def _queue_add(self, session: Session, action: dict[str, str], aid: str) -> None:
        queue, interface = action.get("Queue", ""), action.get("Interface", "")
        if not queue:
            self._reply(session, render_error(aid, "'Queue' not specified."))
            return
        if not interface:
            self._reply(session, render_error(aid, "'Interface' not specified."))
            return
        penalty = action.get("Penalty", "0")
        result = self.pbx.queue_add(
            queue,
            interface,
            name=action.get("MemberName", ""),
            penalty=int(penalty) if penalty.isdigit() else 0,
            paused=_true(action.get("Paused", "")),
            reason=action.get("Reason", ""),
            state_interface=action.get("StateInterface", ""),
        )
        messages = {
            "ok": render_success(aid, "Added interface to queue"),
            "exists": render_error(aid, "Unable to add interface: Already there"),
            "no_queue": render_error(aid, "Unable to add interface to queue: No such queue"),
        }
        self._reply(session, messages[result])

    def _queue_remove(self, session: Session, action: dict[str, str], aid: str) -> None:
        queue, interface = action.get("Queue", ""), action.get("Interface", "")
        if not queue or not interface:
            self._reply(session, render_error(aid, "Need 'Queue' and 'Interface' parameters."))
            return
        messages = {
            "ok": render_success(aid, "Removed interface from queue"),
            "not_there": render_error(aid, "Unable to remove interface: Not there"),
            "no_queue": render_error(aid, "Unable to remove interface from queue: No such queue"),
            "not_dynamic": render_error(aid, "Member not dynamic"),
        }
        self._reply(session, messages[self.pbx.queue_remove(queue, interface)])

    def _queue_pause(self, session: Session, action: dict[str, str], aid: str) -> None:
        interface, paused = action.get("Interface", ""), action.get("Paused", "")
        if not interface or not paused:
            self._reply(session, render_error(aid, "Need 'Interface' and 'Paused' parameters."))
            return
        pause = _true(paused)
        found = self.pbx.queue_pause(
            interface, pause, queue_name=action.get("Queue", ""), reason=action.get("Reason", "")
        )
        if not found:
            self._reply(session, render_error(aid, "Interface not found"))
            return
        word = "paused" if pause else "unpaused"
        self._reply(session, render_success(aid, f"Interface {word} successfully"))

    def _command(self, session: Session, action: dict[str, str], aid: str) -> None:
        command = action.get("Command", "")
        if not command.strip():
            self._reply(session, render_error(aid, "No command provided"))
            return
        words = command.split()
        lowered = [w.lower() for w in words]
        answer = self.dialplan.command(command, words)
        if answer is not None:
            ok, output = answer
            fields = [("Message", "Command output follows"), *(("Output", o) for o in output)]
            self._reply(session, render_response("Success" if ok else "Error", aid, fields))
            return
        if lowered == ["core", "show", "version"]:
            output = [
                f"Asterisk {VERSION} built by root @ pbxsim on a x86_64 running Linux "
                "on 2026-11-23 00:00:00 UTC"
            ]
        elif lowered[:3] == ["core", "show", "channels"]:
            count = len(self.pbx.channels)
            output = [
                "Channel              Location             State   Application(Data)",
                *(
                    f"{c.name:<20} {c.exten}@{c.context}:{c.priority} "
                    f"{'Up' if c.state == 6 else 'Ring'} {c.appl}({c.data})"
                    for c in self.pbx.channels.values()
                ),
                f"{len(self.pbx.calls)} active call{'s' if len(self.pbx.calls) != 1 else ''}",
                f"{count} active channel{'s' if count != 1 else ''}",
            ]
        elif lowered[:2] == ["core", "show"] and lowered[2:3] == ["uptime"]:
            output = [f"System uptime: {self.pbx.uptime()} seconds"]
        else:
            self._reply(
                session,
                render_response(
                    "Error",
                    aid,
                    [
                        ("Message", "Command output follows"),
                        (
                            "Output",
                            f"No such command '{command}' (type 'core show help "
                            f"{words[0] if words else ''}' for other possible commands)",
                        ),
                    ],
                ),
            )
            return
        fields = [("Message", "Command output follows"), *(("Output", line) for line in output)]
        self._reply(session, render_response("Success", aid, fields))

    def _originate_outbound(self, session: Session, action: dict[str, str], aid: str) -> None:
        """``Originate`` of a phone into ``cti-outbound``, checked as ``action_originate``
        checks it; replied at once with ``Async``, else once the phone answered or not."""
        channel_id = action.get("ChannelId", "")
        if len(channel_id) > MAX_PUBLIC_UNIQUEID:
            message = f"Uniqueid length exceeds maximum of {MAX_PUBLIC_UNIQUEID}\n"
            self._reply(session, render_error(aid, message))
            return
        priority, timeout = action.get("Priority", ""), action.get("Timeout", "")
        if not priority.lstrip("-").isdigit():
            self._reply(session, render_error(aid, "Invalid priority"))
            return
        if timeout and not timeout.lstrip("-").isdigit():
            self._reply(session, render_error(aid, "Invalid timeout"))
            return
        caller = _callerid(action.get("CallerID", ""))
        exten = action.get("Exten", "")
        if int(priority) and not (
            extension_match(OUTBOUND_PATTERN, exten) and 1 <= int(priority) <= 8
        ):
            self._reply(session, render_error(aid, "Extension does not exist."))
            return
        items = [
            item.partition("=")
            for key, value in action.items()
            if key.lower() == "variable"
            for item in value.replace("\n", ",").split(",")
        ]
        request = Originate(
            channel=action["Channel"],
            context=action.get("Context", ""),
            exten=exten,
            priority=int(priority),
            caller=caller,
            timeout=int(timeout) / 1000 if timeout else ORIGINATE_TIMEOUT,
            channel_id=channel_id,
            variables=[(name, value) for name, sep, value in reversed(items) if sep and name],
            action_id=aid,
            respond=_true(action.get("Async", "")),
        )
        self._ensure_clock()
        if request.respond:
            self._reply(session, render_success(aid, "Originate successfully queued"))
            self.pbx.originate(request)
            return
        call = self.pbx.originate(request)
        call.originated_signal.subscribe(
            lambda signal: self._reply(
                session,
                render_success(aid, "Originate successfully queued")
                if signal.value == "Success"
                else render_error(aid, "Originate failed"),
            )
        )

    def _originate(self, session: Session, action: dict[str, str], aid: str) -> None:
        channel = action.get("Channel", "")
        if not channel:
            self._reply(session, render_error(aid, "Channel not specified"))
            return
        if "/" not in channel:
            self._reply(session, render_error(aid, "Invalid channel"))
            return
        if action.get("Exten") and not (action.get("Context") and action.get("Priority")):
            self._reply(
                session,
                render_error(aid, "Originate with 'Exten' requires 'Context' and 'Priority'"),
            )
            return
        if action.get("Application"):
            self._reply(session, render_success(aid, "Originate successfully queued"))
            self.pbx.originate_application({**action, "ActionID": aid})
            return
        if action.get("Context") == self.config.outbound_context:
            self._originate_outbound(session, action, aid)
            return
        callerid = action.get("CallerID", "")
        name, _, rest = callerid.partition("<")
        number = rest.rstrip(">").strip() if rest else callerid.strip()
        display = name.strip().strip('"') if rest else ""
        variables = dict(
            item.partition("=")[::2]
            for key, value in action.items()
            if key.lower() == "variable"
            for item in value.replace("\n", ",").split(",")
            if "=" in item
        )
        digits = variables.get("DIGITS", "2")
        hold = variables.get("HOLD", "")
        plan = plan_for(
            "answered",
            caller=number or "+79161234567",
            name=display,
            digits=digits,
            hold=float(hold) if hold.replace(".", "", 1).isdigit() else 12.0,
        )
        if _true(action.get("Async", "")):
            self._reply(session, render_success(aid, "Originate successfully queued"))
            self._result(self._start(plan, action_id=aid, originated=True))
            return
        call = self._start(plan, action_id=aid, originated=False)
        self._result(call)
        runner = call.runner
        if runner is None:
            return
        runner.answered.subscribe(
            lambda _s: self._reply(session, render_success(aid, "Originate successfully queued"))
        )
