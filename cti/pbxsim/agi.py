"""Asterisk's side of FastAGI: the simulated channel calls the IVR and answers its commands.

Replies are Asterisk 22's (see ``tests/captures/*/agi.jsonl``): ``200 result=1 (value)``
for a set variable, ``200 result=-1 endpos=0`` for a missing prompt, ``200 result=50``
for the key ``2``, ``510 Invalid or unknown command``; after the caller hangs up a bare
``HANGUP`` line precedes the next reply, and media commands get ``511``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cti.pbxsim.pbx import Chan, SimulatedPbx

log = logging.getLogger(__name__)

IvrTarget = tuple[str, int]
DEAD_OK = frozenset({"GET", "SET", "VERBOSE", "HANGUP", "NOOP"})
PROBE_QUEUES = {"1": ("sales", "order"), "2": ("sales", "delivery"), "3": ("support", "complaint")}
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


@dataclass
class CallerScript:
    """What the simulated caller does in the IVR."""

    digits: str = "1"
    """Keys pressed, one each time the IVR waits for a key or plays an interruptible prompt."""
    hangup_after: int | None = None
    """Hang up once the IVR has sent this many commands."""
    missing_prompts: frozenset[str] = frozenset({"cti-welcome"})
    press_after: float = 0.7
    """Seconds the caller takes to press a key."""


@dataclass
class AgiCaller:
    """One FastAGI session of one simulated channel."""

    pbx: SimulatedPbx
    chan: Chan
    script: CallerScript
    target: IvrTarget | None = None
    caller: Chan | None = None
    """The caller's own channel when it differs from the one running the IVR (Local)."""
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False
    commands: int = 0
    _digits: list[str] = field(default_factory=list)
    _notified: bool = False

    def header(self) -> bytes:
        """The ``agi_*`` block exactly as Asterisk 22 sends it."""
        chan = self.chan
        host, port = self.target or ("127.0.0.1", 4573)
        lines = [
            ("agi_network", "yes"),
            ("agi_network_script", "ivr"),
            ("agi_request", f"agi://{host}:{port}/ivr"),
            ("agi_channel", chan.name),
            ("agi_language", "en"),
            ("agi_type", chan.name.split("/", 1)[0]),
            ("agi_uniqueid", chan.uniqueid),
            ("agi_version", "22.10.1"),
            ("agi_callerid", chan.caller_num),
            ("agi_calleridname", chan.caller_name),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", chan.context),
            ("agi_extension", chan.exten),
            ("agi_priority", str(chan.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(140090019473088 + self.pbx.random.randrange(1 << 20))),
        ]
        return ("".join(f"{k}: {v}\n" for k, v in lines) + "\n").encode()

    async def run(self) -> dict[str, str]:
        """Run the IVR session; return the channel variables it set."""
        self._digits = list(self.script.digits)
        if self.target is None:
            await self._probe()
            return self.variables
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 2.0)
        except (OSError, TimeoutError) as exc:
            log.warning(
                "simulated Asterisk: IVR unreachable (%s); falling through to the queue", exc
            )
            self.pbx.event(
                "AGIExecEnd",
                self.chan,
                CommandId="0",
                Command="",
                ResultCode="-1",
                Result="Failure",
            )
            return {}
        try:
            writer.write(self.header())
            while line := await reader.readline():
                command = line.decode("utf-8", "replace").strip()
                if not command:
                    continue
                reply = await self.answer(command)
                writer.write(reply.encode())
                await writer.drain()
                if command.upper().startswith("HANGUP"):
                    break
        except (ConnectionError, OSError) as exc:
            log.warning("simulated Asterisk: IVR connection failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return self.variables

    async def _probe(self) -> None:
        """The recordings' probe IVR, for runs without a real IVR server."""
        for command in ("GET VARIABLE CALLERID(num)", "GET VARIABLE CTI_QUEUE"):
            await self.answer(command)
        await self.answer('STREAM FILE cti-welcome "0123456789#*"')
        reply = await self.answer("WAIT FOR DIGIT 4000")
        digit = chr(int(reply.split("result=")[1].split()[0])) if "result=" in reply else ""
        if self.script.hangup_after is not None:
            await self.answer("WAIT FOR DIGIT 6000")
            await self.answer("GET VARIABLE CALLERID(num)")
        queue, _ = PROBE_QUEUES.get(digit, ("sales", "other"))
        await self.answer(f"SET VARIABLE CTI_QUEUE {queue}")
        await self.answer("SET VARIABLE CTI_REASON delivery")
        await self.answer('VERBOSE "cti probe done" 1')
        await self.answer("BOGUS COMMAND")

    async def answer(self, command: str) -> str:
        """Asterisk's reply (with a ``HANGUP`` notice first if the caller has left)."""
        self.commands += 1
        notice = ""
        dying = False
        if self.hung_up and not self._notified:
            self._notified = True
            notice = "HANGUP\n"
        elif (
            not self.hung_up
            and self.script.hangup_after is not None
            and self.commands > self.script.hangup_after
        ):
            dying = True
        command_id = self.pbx.agi_start(self.chan, command)
        if dying:
            self.hung_up = True
            self.pbx.caller_left(self.caller or self.chan, self.chan)
        code, text, result = await self._execute(command, dying)
        result_code = -1 if code == 200 and result < 0 else code
        self.pbx.agi_end(self.chan, command_id, command, result_code, self._word(code, result))
        return f"{notice}{text}\n"

    @staticmethod
    def _word(code: int, result: int) -> str:
        if code == 510:
            return "Invalid or unknown command"
        if code == 511:
            return "Command Not Permitted on a dead channel or intercept routine"
        return "Failure" if result < 0 else "Success"

    async def _execute(self, command: str, dying: bool = False) -> tuple[int, str, int]:
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        verb = " ".join(words[:2]).upper() if words else ""
        head = words[0].upper() if words else ""
        if dying and head in ("STREAM", "WAIT", "GET") and verb != "GET VARIABLE":
            await self.pbx.sleep(0.5)
            return 200, "200 result=-1", -1
        if self.hung_up and not dying and head not in DEAD_OK:
            return 511, DEAD, 0
        if verb == "GET VARIABLE" and len(words) >= 3:
            value = self._variable(words[2])
            return (
                (200, f"200 result=1 ({value})", 1)
                if value is not None
                else (200, "200 result=0", 0)
            )
        if verb == "SET VARIABLE" and len(words) >= 4:
            self.variables[words[2]] = words[3]
            self.pbx.event("VarSet", self.chan, Variable=words[2], Value=words[3])
            return 200, "200 result=1", 1
        if verb == "STREAM FILE" and len(words) >= 3:
            return await self._stream(words[2], words[3] if len(words) > 3 else "")
        if verb == "WAIT FOR" and len(words) >= 4:
            return await self._wait_digit(int(words[3]) if words[3].lstrip("-").isdigit() else 0)
        if verb == "GET DATA" and len(words) >= 2:
            return await self._get_data(words)
        if head == "SAY" or head == "EXEC" or head == "ANSWER":
            await self.pbx.sleep(0.3)
            return 200, "200 result=0", 0
        if head in ("VERBOSE", "NOOP"):
            return 200, "200 result=1", 1
        if head == "HANGUP":
            self.hung_up = True
            return 200, "200 result=1", 1
        return 510, "510 Invalid or unknown command", 0

    def _variable(self, name: str) -> str | None:
        if name == "CALLERID(num)":
            return self.chan.caller_num
        if name == "CALLERID(name)":
            return self.chan.caller_name
        if name == "CTI_QUEUE" and name not in self.variables:
            return self.pbx.default_queue
        return self.variables.get(name)

    async def _press(self, allowed: str = "0123456789*#") -> str | None:
        if not self._digits:
            return None
        await self.pbx.sleep(self.script.press_after)
        digit = self._digits.pop(0)
        if digit not in allowed:
            return None
        self.pbx.dtmf(self.chan, digit)
        return digit

    async def _stream(self, prompt: str, escape: str) -> tuple[int, str, int]:
        if prompt in self.script.missing_prompts:
            return 200, "200 result=-1 endpos=0", -1
        if escape and self._digits and self._digits[0] in escape:
            digit = await self._press(escape)
            if digit is not None:
                return 200, f"200 result={ord(digit)} endpos=4000", ord(digit)
        await self.pbx.sleep(1.0)
        return 200, "200 result=0 endpos=8000", 0

    async def _wait_digit(self, timeout_ms: int) -> tuple[int, str, int]:
        digit = await self._press()
        if digit is not None:
            return 200, f"200 result={ord(digit)}", ord(digit)
        await self.pbx.sleep(max(timeout_ms, 0) / 1000)
        return 200, "200 result=0", 0

    async def _get_data(self, words: list[str]) -> tuple[int, str, int]:
        prompt = words[2] if len(words) > 2 else ""
        limit = int(words[4]) if len(words) > 4 and words[4].isdigit() else 1
        if prompt in self.script.missing_prompts:
            return 200, "200 result=-1", -1
        pressed = ""
        while len(pressed) < limit and self._digits and self._digits[0] != "#":
            digit = await self._press()
            if digit is None:
                break
            pressed += digit
        if not pressed:
            await self.pbx.sleep(
                int(words[3]) / 1000 if len(words) > 3 and words[3].isdigit() else 2
            )
            return 200, "200 result= (timeout)", 0
        return 200, f"200 result={pressed}", 1
