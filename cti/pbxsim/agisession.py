"""Asterisk's side of one FastAGI session as pure code: commands in, replies and AMI events out.

``AgiSession`` runs inside ``cti.pbxsim.engine.Pbx``: it executes each command on the
simulated channel in virtual time (prompts play, keys arrive, the caller may hang up)
and answers exactly as ``res_agi`` of Asterisk 22 does, announcing every command with
``AGIExecStart`` / ``AGIExecEnd``. The transport (``cti.pbxsim.agi`` over TCP, or the
built-in probe) only moves lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.pbxsim.agicmd import (
    DEAD,
    DEAD_RESULT,
    HANGUP_NOTICE,
    INVALID,
    UNKNOWN_RESULT,
    find_command,
    parse_args,
    usage_reply,
)
from cti.pbxsim.process import Proc, Signal, Step, Wait
from cti.pbxsim.render import STATE_DESC, VERSION

if TYPE_CHECKING:
    from cti.pbxsim.engine import Call, Channel, Pbx, ProbeScript

SAMPLES_PER_SECOND = 8000

_FUNCTION = re.compile(r"^(?P<name>[A-Z_]+)\((?P<arg>[^)]*)\)$", re.IGNORECASE)
_SUBST = re.compile(r"\$\{([^}]+)\}")


class AgiSession:
    """One FastAGI session of one channel: commands in, Asterisk 22's replies out.

    The transport (the network client, or the built-in probe) calls ``attach`` with a
    writer, sends the ``header``, feeds each command line to ``receive`` and calls
    ``close`` when the IVR hangs up the connection (or ``fail`` if it never connected).
    Replies and the bare ``HANGUP`` notice come out through the writer, each at the
    virtual time Asterisk would write it.
    """

    def __init__(self, pbx: Pbx, call: Call, chan: Channel, *, url: str = "") -> None:
        self.pbx = pbx
        self.call = call
        self.chan = chan
        self.url = url or pbx.config.agi_url
        """The ``AGI()`` argument: ``agi_request``, its path ``agi_network_script``."""
        self.done = Signal()
        self.status = "SUCCESS"
        self.variables: dict[str, str] = {}
        self.dead = False
        self.finished = False
        self._writer: Callable[[str], None] | None = None
        self._queue: list[str] = []
        self._busy = False
        self._pumping = False
        self.commands = 0
        self.transcript: list[tuple[str, str]] = []
        """Every write, as the recordings' ``agi.jsonl`` has them: ``in`` from Asterisk."""
        self._interrupt: Callable[[], None] | None = None
        self._replies: list[str] = []
        self._reply_signal = Signal()
        chan.hangup_requested.subscribe(self._on_hangup)

    # -- transport side ---------------------------------------------------------

    def header(self) -> str:
        """The ``agi_*`` block Asterisk 22 sends first (``agi_network`` lines included)."""
        chan, url = self.chan, self.url
        script = url.split("://", 1)[-1].partition("/")[2]
        env = {"agi_network": "yes"}
        if script:
            env["agi_network_script"] = script
        env.update(
            {
                "agi_request": url,
                "agi_channel": chan.name,
                "agi_language": chan.language,
                "agi_type": chan.tech,
                "agi_uniqueid": chan.uniqueid,
                "agi_version": VERSION,
                "agi_callerid": chan.caller_num or "unknown",
                "agi_calleridname": chan.caller_name or "unknown",
                "agi_callingpres": "0",
                "agi_callingani2": "0",
                "agi_callington": "0",
                "agi_callingtns": "0",
                "agi_dnid": "unknown" if chan.tech == "Local" else chan.exten,
                "agi_rdnis": "unknown",
                "agi_context": chan.context,
                "agi_extension": chan.exten,
                "agi_priority": str(chan.priority),
                "agi_enhanced": "0.0",
                "agi_accountcode": chan.accountcode,
                "agi_threadid": str(140090000000000 + self.pbx.random.randrange(1 << 24) * 64),
            }
        )
        text = "".join(f"{key}: {value}\n" for key, value in env.items()) + "\n"
        self.transcript.append(("in", text))
        return text

    def attach(self, writer: Callable[[str], None]) -> None:
        """Give the session its writer: every reply and notice goes through it."""
        self._writer = writer

    def receive(self, line: str) -> None:
        """One command line from the IVR (without its line ending)."""
        if self.finished:
            return
        self.transcript.append(("out", line))
        self._queue.append(line)
        self._pump()

    def close(self) -> None:
        """The IVR closed the connection: the ``AGI()`` application returns."""
        if self.finished:
            return
        self.finished = True
        self._queue.clear()
        if self._interrupt is not None:
            self._interrupt()
        self.chan.hangup_requested.unsubscribe(self._on_hangup)
        self.done.fire(self.status)

    def fail(self) -> None:
        """The FastAGI server could not be reached: ``AGISTATUS`` is ``FAILURE``."""
        self.status = "FAILURE"
        self.close()

    # -- execution -----------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self._writer is not None and not self.finished:
            self.transcript.append(("in", text))
            self._writer(text)

    def _on_hangup(self, _signal: Signal) -> None:
        if self.finished:
            return
        if self._busy:
            if self._interrupt is not None:
                self._interrupt()
            return
        self._notice()

    def _notice(self) -> None:
        if self.dead or self.finished:
            return
        self.dead = True
        if self.status == "SUCCESS":
            self.status = "HANGUP"
        self._write(HANGUP_NOTICE)

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._queue and not self._busy and not self.finished:
                self._start(self._queue.pop(0))
        finally:
            self._pumping = False

    def _start(self, line: str) -> None:
        self._busy = True
        self.commands += 1
        command_id = str(self.pbx.random.randrange(1 << 31))
        self.pbx.chan_event("AGIExecStart", self.chan, CommandId=command_id, Command=line)
        limit = self.call.plan.script.hangup_after
        if limit is not None and self.commands == limit + 1:
            self.pbx.caller_hangs_up(self.call)
        args = parse_args(line)
        command = find_command(args)
        if command is None:
            self._end(command_id, line, 510, UNKNOWN_RESULT, INVALID + "\n")
            return
        if self.dead and not command.dead:
            self._end(command_id, line, 511, DEAD_RESULT, DEAD + "\n")
            return
        outcome = _HANDLERS[command.name](self, args, len(args))
        if outcome is None:
            self._end(command_id, line, 520, "Usage", usage_reply(command))
        elif isinstance(outcome, tuple):
            reply, failed = outcome
            if failed:
                self._end(command_id, line, -1, "Failure", reply + "\n")
            else:
                self._end(command_id, line, 200, "Success", reply + "\n")
        else:
            self.pbx.spawn(self._run_media(outcome, command_id, line))

    def _end(self, command_id: str, line: str, code: int, result: str, reply: str) -> None:
        self._write(reply)
        self.pbx.chan_event(
            "AGIExecEnd",
            self.chan,
            CommandId=command_id,
            Command=line,
            ResultCode=str(code),
            Result=result,
        )
        self._busy = False
        self._interrupt = None
        gone = self.pbx.gone(self.chan)
        if code == -1 and (self.dead or not gone):
            self.status = "FAILURE"
        if gone:
            self._notice()
        self._pump()

    def _run_media(self, media: _Media, command_id: str, line: str) -> Proc:
        interrupted = Signal()
        self._interrupt = interrupted.fire
        complete = Signal()
        progress = [Signal()]
        collected: list[str] = []
        chan = self.chan

        def sink(digit: str) -> None:
            if not media.accepts(digit, collected):
                return
            collected.append(digit)
            if media.complete(collected):
                complete.fire(digit)
            else:
                signal, progress[0] = progress[0], Signal()
                signal.fire(digit)

        if self.pbx.gone(chan):
            interrupted.fire()
        if media.listen:
            chan.dtmf_sink = sink
            chan.listen_since = self.pbx.now
            listening, chan.listening = chan.listening, Signal()
            listening.fire()
        started = self.pbx.now
        remaining = media.duration
        while True:
            signal = yield Wait((complete, interrupted, progress[0]), timeout=remaining)
            if signal is not None and signal not in (complete, interrupted):
                remaining = media.digit_timeout
                continue
            break
        if chan.dtmf_sink is sink:
            chan.dtmf_sink = None
        if self.finished:
            return
        elapsed = self.pbx.now - started
        if signal is interrupted:
            reply, failed = media.on_hangup(elapsed)
        elif signal is complete:
            reply, failed = media.on_digits(collected, elapsed)
        else:
            reply, failed = media.on_timeout(collected, elapsed)
        code, result = (-1, "Failure") if failed else (200, "Success")
        self._end(command_id, line, code, result, reply + "\n")

    # -- variables -------------------------------------------------------------------

    def lookup(self, name: str) -> str | None:
        """What ``GET VARIABLE`` reads: a dialplan function, a channel variable or a builtin."""
        chan = self.chan
        match = _FUNCTION.match(name)
        if match:
            function, arg = match["name"].upper(), match["arg"].lower()
            if function == "CALLERID":
                values = {
                    "num": chan.caller_num,
                    "number": chan.caller_num,
                    "name": chan.caller_name,
                    "all": f'"{chan.caller_name or ""}" <{chan.caller_num or ""}>',
                }
                return values.get(arg)
            if function == "CONNECTEDLINE":
                return {"num": chan.connected_num, "name": chan.connected_name}.get(arg)
            if function == "CHANNEL":
                values = {
                    "name": chan.name,
                    "uniqueid": chan.uniqueid,
                    "linkedid": chan.linkedid,
                    "language": chan.language,
                    "state": STATE_DESC.get(chan.state, "Unknown"),
                    "context": chan.context,
                    "exten": chan.exten,
                    "channeltype": chan.tech,
                }
                return values.get(arg)
            if function == "DB":
                family, _, key = match["arg"].partition("/")
                return self.pbx.database.get((family, key))
            return None
        if name in chan.variables:
            return chan.variables[name]
        builtins = {
            "CHANNEL": chan.name,
            "UNIQUEID": chan.uniqueid,
            "EXTEN": chan.exten,
            "CONTEXT": chan.context,
            "PRIORITY": str(chan.priority),
            "LANGUAGE": chan.language,
            "EPOCH": str(int(self.pbx.now)),
            "SYSTEMNAME": self.pbx.config.system_name,
            "ASTERISKVERSION": VERSION,
        }
        if name in builtins:
            return builtins[name]
        return self.pbx.globals.get(name)

    def substitute(self, text: str) -> str:
        """Expand ``${NAME}`` references as ``GET FULL VARIABLE`` does."""
        return _SUBST.sub(lambda m: self.lookup(m.group(1)) or "", text)

    def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable for the IVR (``VarSet`` on AMI)."""
        self.variables[name] = value
        self.pbx.varset(self.chan, name, value)

    def prompt_exists(self, name: str) -> bool:
        """Whether a sound file would play (the PBX's ``missing_prompts`` do not)."""
        return bool(name) and name not in self.pbx.config.missing_prompts

    # -- the recordings' probe (the built-in IVR) -----------------------------------

    def probe_output(self, text: str) -> None:
        """The built-in probe's writer: collect replies, skip the ``HANGUP`` notice."""
        if text == HANGUP_NOTICE:
            return
        self._replies.append(text)
        signal, self._reply_signal = self._reply_signal, Signal()
        signal.fire(text)

    def _ask(self, line: str) -> Generator[Step, Signal | None, str]:
        signal = self._reply_signal
        self.receive(line)
        if not signal.fired:
            yield Wait((signal,))
        return signal.value

    def probe(self, script: ProbeScript) -> Proc:
        """The FastAGI probe that produced the recordings, run against this session."""
        yield from self._ask("GET VARIABLE CALLERID(num)")
        yield from self._ask("GET VARIABLE CTI_QUEUE")
        yield from self._ask('STREAM FILE cti-welcome "0123456789#*"')
        reply = yield from self._ask(f"WAIT FOR DIGIT {script.first_wait_ms}")
        code = reply.partition("result=")[2].split()[0] if "result=" in reply else "0"
        digit = chr(int(code)) if code.isdigit() and int(code) > 0 else ""
        if script.second_wait_ms is not None:
            yield from self._ask(f"WAIT FOR DIGIT {script.second_wait_ms}")
            yield from self._ask("GET VARIABLE CALLERID(num)")
        queue = "support" if digit == "3" else "sales"
        yield from self._ask(f"SET VARIABLE CTI_QUEUE {queue}")
        yield from self._ask(f"SET VARIABLE CTI_REASON {script.reason}")
        if script.agent:
            yield from self._ask(f"SET VARIABLE CTI_AGENT {script.agent}")
        yield from self._ask('VERBOSE "cti probe done" 1')
        if script.bogus:
            yield from self._ask("BOGUS COMMAND")
        self.close()


@dataclass
class _Media:
    """A command that takes time on the channel: a prompt, a wait for keys, or both."""

    duration: float | None
    listen: bool
    escape: str = ""
    max_digits: int = 1
    digit_timeout: float | None = None
    samples: int = 0
    kind: str = "wait"

    def accepts(self, digit: str, collected: list[str]) -> bool:
        if self.kind == "getdata":
            return len(collected) < self.max_digits
        return self.kind == "wait" or digit in self.escape

    def complete(self, collected: list[str]) -> bool:
        if self.kind != "getdata":
            return True
        return len(collected) >= self.max_digits or collected[-1] == "#"

    def _endpos(self, elapsed: float) -> int:
        return min(self.samples, int(elapsed * SAMPLES_PER_SECOND))

    def on_hangup(self, elapsed: float) -> tuple[str, bool]:
        if self.kind == "stream":
            return f"200 result=-1 endpos={self._endpos(elapsed)}", True
        if self.kind == "getdata":
            return "200 result=-1", False
        return "200 result=-1", True

    def on_digits(self, collected: list[str], elapsed: float) -> tuple[str, bool]:
        if self.kind == "getdata":
            digits = "".join(collected).rstrip("#")
            return f"200 result={digits}", False
        code = ord(collected[-1])
        if self.kind == "stream":
            return f"200 result={code} endpos={self._endpos(elapsed)}", False
        return f"200 result={code}", False

    def on_timeout(self, collected: list[str], elapsed: float) -> tuple[str, bool]:
        if self.kind == "getdata":
            return f"200 result={''.join(collected)} (timeout)", False
        if self.kind == "stream":
            return f"200 result=0 endpos={self.samples}", False
        if self.kind == "recvchar":
            return "200 result=0 (timeout)", False
        if self.kind == "recvtext":
            return "200 result=-1", False
        return "200 result=0", False


Outcome = tuple[str, bool] | _Media | None
"""A handler's answer: an immediate ``(reply, failed)``, a timed ``_Media`` or ``None`` (520)."""


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _answer(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if session.chan.state != 6:
        session.pbx.update(session.chan, state=6)
    return "200 result=0", False


def _channel_status(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc == 2:
        return f"200 result={session.chan.state}", False
    if argc == 3:
        other = session.pbx.find_channel(args[2])
        return (f"200 result={other.state}" if other else "200 result=-1"), False
    return None


def _database(session: AgiSession, args: list[str], argc: int) -> Outcome:
    verb, db = args[1].lower(), session.pbx.database
    if verb == "get":
        if argc != 4:
            return None
        value = db.get((args[2], args[3]))
        return (f"200 result=1 ({value})" if value is not None else "200 result=0"), False
    if verb == "put":
        if argc != 5:
            return None
        db[(args[2], args[3])] = args[4]
        return "200 result=1", False
    if verb == "del":
        if argc != 4:
            return None
        return (
            "200 result=1" if db.pop((args[2], args[3]), None) is not None else "200 result=0"
        ), False
    if argc not in (3, 4):
        return None
    keys = [k for k in db if k[0] == args[2] and (argc == 3 or k[1].startswith(args[3]))]
    for key in keys:
        del db[key]
    return ("200 result=1" if keys else "200 result=0"), False


def _exec(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 2:
        return None
    application, options = args[1].lower(), args[2] if argc > 2 else ""
    if application == "set" and "=" in options:
        name, _, value = options.partition("=")
        session.set_variable(name, value)
        return "200 result=0", False
    if application in ("playback", "background"):
        exists = all(session.prompt_exists(p) for p in options.split(",")[0].split("&"))
        seconds = session.pbx.config.prompt_seconds if exists else 0.0
        return _Media(seconds, listen=False, kind="exec")
    if application == "wait":
        seconds = float(options) if _int(options.split(".")[0] or "x") is not None else 0.0
        return _Media(seconds, listen=False, kind="exec")
    if application in ("noop", "verbose", "log", "userevent", "answer", "progress", "ringing"):
        return "200 result=0", False
    if application == "hangup":
        session.pbx.hangup_request(session.chan, 16)
        return "200 result=-1", False
    return "200 result=-2", False


def _get_data(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 3:
        return None
    timeout_ms = _int(args[3]) if argc >= 4 else 0
    max_digits = _int(args[4]) if argc >= 5 else 1024
    seconds = session.pbx.config.prompt_seconds if session.prompt_exists(args[2]) else 0.0
    wait = (timeout_ms or 2000) / 1000
    return _Media(
        seconds + wait,
        listen=True,
        max_digits=max(1, max_digits or 1024),
        digit_timeout=wait,
        kind="getdata",
    )


def _get_full_variable(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc not in (4, 5):
        return None
    if argc == 5 and session.pbx.find_channel(args[4]) is None:
        return "200 result=0", False
    return f"200 result=1 ({session.substitute(args[3])})", False


def _get_option(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc not in (4, 5):
        return None
    if not session.prompt_exists(args[2]):
        return "200 result=-1 endpos=0", True
    timeout = (_int(args[4]) or 5000) / 1000 if argc == 5 else 5.0
    seconds = session.pbx.config.prompt_seconds
    return _Media(
        seconds + timeout,
        listen=True,
        escape=args[3],
        samples=int(seconds * SAMPLES_PER_SECOND),
        kind="stream",
    )


def _get_variable(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    value = session.lookup(args[2])
    return (f"200 result=1 ({value})" if value is not None else "200 result=0"), False


def _hangup(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc == 1:
        session.pbx.call_later(0.0, lambda: session.pbx.hangup_request(session.chan, 16))
        return "200 result=1", False
    if argc == 2:
        other = session.pbx.find_channel(args[1])
        if other is None:
            return "200 result=-1", False
        session.pbx.call_later(0.0, lambda: session.pbx.hangup_request(other, 16))
        return "200 result=1", False
    return None


def _noop(session: AgiSession, args: list[str], argc: int) -> Outcome:
    return "200 result=0", False


def _receive_char(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    return _Media((_int(args[2]) or 0) / 1000, listen=False, kind="recvchar")


def _receive_text(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 3:
        return None
    return _Media((_int(args[2]) or 0) / 1000, listen=False, kind="recvtext")


def _record_file(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 6:
        return None
    timeout = _int(args[5])
    if timeout is None:
        return None
    seconds = timeout / 1000 if timeout > 0 else 60.0
    return _Media(seconds, listen=bool(args[4]), escape=args[4], kind="record")


def _say(session: AgiSession, args: list[str], argc: int) -> Outcome:
    verb = args[1].lower()
    if verb in ("digits", "number") and (argc < 4 or _int(args[2]) is None):
        return None
    if argc < 4:
        return None
    length = max(1, len(args[2]))
    return _Media(0.4 * length, listen=bool(args[3]), escape=args[3], kind="say")


def _set_callerid(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    text = args[2]
    match = re.match(r'^\s*"?([^"<]*)"?\s*<([^>]*)>\s*$', text)
    number, name = (match.group(2), match.group(1).strip() or None) if match else (text, None)
    session.pbx.update(session.chan, caller=(number or None, name or session.chan.caller_name))
    return "200 result=1", False


def _set_context(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    session.chan.context = args[2]
    return "200 result=0", False


def _set_extension(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    session.chan.exten = args[2]
    return "200 result=0", False


def _set_priority(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 3:
        return None
    return "200 result=0", False


def _set_variable(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 4:
        return None
    session.set_variable(args[2], args[3])
    return "200 result=1", False


def _simple(
    result: str, minimum: int, maximum: int = 99
) -> Callable[[AgiSession, list[str], int], Outcome]:
    def handler(session: AgiSession, args: list[str], argc: int) -> Outcome:
        if not minimum <= argc <= maximum:
            return None
        return result, False

    return handler


def _stream_file(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 4 or argc > 5:
        return None
    offset = 0
    if argc > 4:
        parsed = _int(args[4])
        if parsed is None:
            return None
        offset = parsed
    if not session.prompt_exists(args[2]):
        return f"200 result=-1 endpos={offset}", True
    seconds = session.pbx.config.prompt_seconds
    return _Media(
        seconds,
        listen=bool(args[3]),
        escape=args[3],
        samples=int(seconds * SAMPLES_PER_SECOND),
        kind="stream",
    )


def _verbose(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc < 2:
        return None
    return "200 result=1", False


def _wait_for_digit(session: AgiSession, args: list[str], argc: int) -> Outcome:
    if argc != 4:
        return None
    timeout = _int(args[3])
    if timeout is None:
        return None
    return _Media(timeout / 1000 if timeout >= 0 else None, listen=True, kind="wait")


_HANDLERS: dict[str, Callable[[AgiSession, list[str], int], Outcome]] = {
    "ANSWER": _answer,
    "ASYNCAGI BREAK": _simple("200 result=0", 2),
    "CHANNEL STATUS": _channel_status,
    "DATABASE DEL": _database,
    "DATABASE DELTREE": _database,
    "DATABASE GET": _database,
    "DATABASE PUT": _database,
    "EXEC": _exec,
    "GET DATA": _get_data,
    "GET FULL VARIABLE": _get_full_variable,
    "GET OPTION": _get_option,
    "GET VARIABLE": _get_variable,
    "HANGUP": _hangup,
    "NOOP": _noop,
    "RECEIVE CHAR": _receive_char,
    "RECEIVE TEXT": _receive_text,
    "RECORD FILE": _record_file,
    "SAY ALPHA": _say,
    "SAY DIGITS": _say,
    "SAY NUMBER": _say,
    "SAY PHONETIC": _say,
    "SAY DATE": _say,
    "SAY TIME": _say,
    "SAY DATETIME": _say,
    "SEND IMAGE": _simple("200 result=0", 3, 3),
    "SEND TEXT": _simple("200 result=0", 3, 3),
    "SET AUTOHANGUP": _simple("200 result=0", 3, 3),
    "SET CALLERID": _set_callerid,
    "SET CONTEXT": _set_context,
    "SET EXTENSION": _set_extension,
    "SET MUSIC": _simple("200 result=0", 3, 4),
    "SET PRIORITY": _set_priority,
    "SET VARIABLE": _set_variable,
    "STREAM FILE": _stream_file,
    "CONTROL STREAM FILE": _stream_file,
    "TDD MODE": _simple("200 result=0", 3, 3),
    "VERBOSE": _verbose,
    "WAIT FOR DIGIT": _wait_for_digit,
    "SPEECH CREATE": _simple("200 result=0", 3, 3),
    "SPEECH SET": _simple("200 result=0", 4, 4),
    "SPEECH DESTROY": _simple("200 result=0", 2, 2),
    "SPEECH LOAD GRAMMAR": _simple("200 result=0", 5, 5),
    "SPEECH UNLOAD GRAMMAR": _simple("200 result=0", 4, 4),
    "SPEECH ACTIVATE GRAMMAR": _simple("200 result=0", 4, 4),
    "SPEECH DEACTIVATE GRAMMAR": _simple("200 result=0", 4, 4),
    "SPEECH RECOGNIZE": _simple("200 result=0", 5, 6),
}
