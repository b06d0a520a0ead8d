"""Asterisk's side of FastAGI as pure code: command lines in, Asterisk 22's replies out."""

from __future__ import annotations

import json

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.pbxsim.agicmd import find_command, parse_args
from cti.pbxsim.agisession import AgiSession
from cti.pbxsim.engine import CallerScript, CallPlan, Pbx, PbxConfig
from cti.pbxsim.scenarios import generate
from tests.conftest import CAPTURES

pytestmark = pytest.mark.unit


class Line:
    """A simulated call parked in ``AGI()``, with the IVR's end of the session in hand."""

    def __init__(self, digits: str = "", hold: float | None = None, **script: float) -> None:
        self.events: list[bytes] = []
        sessions: list[AgiSession] = []
        self.pbx = Pbx(PbxConfig.recordings(ivr=("127.0.0.1", 1)), self.events.append)
        self.pbx.agi_connector = sessions.append
        plan = CallPlan(script=CallerScript(digits=digits, **script), hold=hold)  # type: ignore[arg-type]
        self.call = self.pbx.place_call(plan)
        self.pbx.run_until(self.pbx.now + 0.001)
        (self.session,) = sessions
        self.out: list[str] = []
        self.session.attach(self.out.append)

    def send(self, line: str, wait: float = 0.0) -> str:
        """Send one command; return everything Asterisk wrote within ``wait`` seconds."""
        self.out.clear()
        self.session.receive(line)
        self.pbx.run_until(self.pbx.now + wait)
        return "".join(self.out)

    def ami(self, name: str) -> list[dict[str, str]]:
        frames = AmiFramer(expect_banner=False).feed(b"".join(self.events))
        return [m for m in map(parse_message, frames) if m.get("Event") == name]


def test_arguments_split_like_res_agi() -> None:
    assert parse_args('STREAM FILE cti-welcome "0123456789#*"') == [
        "STREAM",
        "FILE",
        "cti-welcome",
        "0123456789#*",
    ]
    assert parse_args('VERBOSE "cti probe done" 1') == ["VERBOSE", "cti probe done", "1"]
    assert parse_args('SET VARIABLE X ""') == ["SET", "VARIABLE", "X", ""]
    assert parse_args(r"SET VARIABLE X a\ b\"c") == ["SET", "VARIABLE", "X", 'a b"c']
    assert parse_args("  NOOP   ") == ["NOOP"]


def test_commands_are_found_by_their_leading_words() -> None:
    found = find_command(parse_args("get variable CTI_QUEUE"))
    assert found is not None and found.name == "GET VARIABLE" and found.dead
    assert find_command(["GET"]) is None
    assert find_command(["BOGUS", "COMMAND"]) is None
    stream = find_command(["STREAM", "FILE"])
    assert stream is not None and not stream.dead


def test_the_header_block_is_asterisks() -> None:
    recorded = json.loads((CAPTURES / "answered" / "agi.jsonl").read_text().splitlines()[0])
    header = generate("answered").calls[0].agi
    assert header is not None
    mine = dict(line.split(": ", 1) for line in header.transcript[0][1].splitlines() if line)
    theirs = dict(line.split(": ", 1) for line in recorded["data"].splitlines() if line)
    assert list(mine) == list(theirs)
    same = set(theirs) - {"agi_uniqueid", "agi_threadid"}
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
    assert header.transcript[0][1].endswith("\n\n")


def test_replies_to_plain_commands() -> None:
    line = Line()
    assert line.send("GET VARIABLE CALLERID(num)") == "200 result=1 (+79161234567)\n"
    assert line.send("GET VARIABLE CALLERID(name)") == "200 result=1 (Ivan Petrov)\n"
    assert line.send("GET VARIABLE CTI_QUEUE") == "200 result=1 (sales)\n"
    assert line.send("GET VARIABLE NOT_SET") == "200 result=0\n"
    assert line.send("SET VARIABLE CTI_AGENT PJSIP/1002") == "200 result=1\n"
    assert line.send("GET VARIABLE CTI_AGENT") == "200 result=1 (PJSIP/1002)\n"
    assert line.send('VERBOSE "hello" 1') == "200 result=1\n"
    assert line.send("ANSWER") == "200 result=0\n"
    assert line.send("NOOP") == "200 result=0\n"
    assert line.send("CHANNEL STATUS") == "200 result=6\n"
    assert line.send("DATABASE PUT cti last 42") == "200 result=1\n"
    assert line.send("DATABASE GET cti last") == "200 result=1 (42)\n"
    assert line.send("GET FULL VARIABLE ${CTI_AGENT}-x") == "200 result=1 (PJSIP/1002-x)\n"
    assert line.send("BOGUS COMMAND") == "510 Invalid or unknown command\n"
    assert line.send("GET") == "510 Invalid or unknown command\n"
    assert line.session.variables == {"CTI_AGENT": "PJSIP/1002"}
    varsets = [(m["Variable"], m["Value"]) for m in line.ami("VarSet")]
    assert ("CTI_AGENT", "PJSIP/1002") in varsets


def test_bad_syntax_gets_the_multi_line_usage() -> None:
    reply = Line().send("GET VARIABLE")
    lines = reply.splitlines()
    assert lines[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert lines[-1] == "520 End of proper usage."
    assert len(lines) >= 3
    assert Line().send("WAIT FOR DIGIT soon").startswith("520-")


def test_every_command_is_announced_on_ami() -> None:
    line = Line()
    line.send("GET VARIABLE CALLERID(num)")
    line.send("BOGUS COMMAND")
    line.send("GET VARIABLE")
    starts, ends = line.ami("AGIExecStart"), line.ami("AGIExecEnd")
    assert [m["CommandId"] for m in starts] == [m["CommandId"] for m in ends]
    assert [(m["ResultCode"], m["Result"]) for m in ends] == [
        ("200", "Success"),
        ("510", "Invalid or unknown command"),
        ("520", "Usage"),
    ]
    assert all(0 <= int(m["CommandId"]) < 2**31 for m in starts)


def test_prompts_keys_and_silence() -> None:
    line = Line(digits="2")
    assert line.send('STREAM FILE cti-welcome "0123456789#*"') == "200 result=-1 endpos=0\n"
    assert line.send("WAIT FOR DIGIT 4000", wait=3.0) == "200 result=50\n"
    assert line.send("WAIT FOR DIGIT 1500", wait=1.4) == ""
    line.pbx.run_until(line.pbx.now + 0.2)
    assert line.out == ["200 result=0\n"], "silence: the timeout answers 0"
    assert line.send("STREAM FILE hello-world #", wait=5.0) == "200 result=0 endpos=16000\n"
    results = [(m["Command"][:11], m["ResultCode"]) for m in line.ami("AGIExecEnd")]
    assert results[0] == ("STREAM FILE", "-1")
    dtmf = line.ami("DTMFEnd")
    assert [(m["Digit"], m["DurationMs"], m["Direction"]) for m in dtmf] == [
        ("2", "100", "Received")
    ]


def test_get_data_collects_several_keys() -> None:
    line = Line(digits="123")
    assert line.send("GET DATA cti-welcome 3000 3", wait=10.0) == "200 result=123\n"
    silent = Line()
    assert silent.send("GET DATA cti-welcome 1000 4", wait=5.0) == "200 result= (timeout)\n"


def test_hangup_mid_command_then_notice_then_dead_channel() -> None:
    line = Line(digits="", hold=None, ivr_patience=0.5)
    reply = line.send("WAIT FOR DIGIT 6000", wait=3.0)
    assert reply == "200 result=-1\nHANGUP\n", "the reply first, then the bare notice"
    assert line.send("GET VARIABLE CALLERID(num)") == "200 result=1 (+79161234567)\n"
    assert line.send("SET VARIABLE CTI_QUEUE sales") == "200 result=1\n"
    assert line.send("STREAM FILE hello-world #") == (
        "511 Command Not Permitted on a dead channel or intercept routine\n"
    )
    assert line.send("HANGUP") == (
        "511 Command Not Permitted on a dead channel or intercept routine\n"
    )
    assert line.send("BOGUS") == "510 Invalid or unknown command\n"
    line.session.close()
    assert line.session.status == "HANGUP", "a failure caused by the hangup is not FAILURE"


def test_hangup_between_commands_is_noticed_at_once() -> None:
    line = Line(digits="", hold=None, hangup_after=1)
    assert line.send("GET VARIABLE CALLERID(num)") == "200 result=1 (+79161234567)\n"
    assert line.send("GET VARIABLE CTI_QUEUE") == "200 result=1 (sales)\nHANGUP\n"
    line.session.close()
    assert line.session.status == "HANGUP"
    line.pbx.run()
    assert line.call.outcome == "ivr_hangup"


def test_agistatus_is_success_when_nothing_failed_and_the_call_goes_on() -> None:
    line = Line(hold=None)
    line.send("SET VARIABLE CTI_QUEUE support")
    line.session.close()
    line.pbx.run(limit=5.0)
    statuses = [m["Value"] for m in line.ami("VarSet") if m["Variable"] == "AGISTATUS"]
    assert statuses == ["SUCCESS"]
    joins = line.ami("QueueCallerJoin")
    assert [m["Queue"] for m in joins] == ["support"], "the queue the IVR chose"


def test_an_unreachable_ivr_fails_open_into_the_default_queue() -> None:
    line = Line(hold=None)
    line.session.fail()
    line.pbx.run(limit=5.0)
    assert [m["Value"] for m in line.ami("VarSet") if m["Variable"] == "AGISTATUS"] == ["FAILURE"]
    assert not line.ami("AGIExecStart")
    assert [m["Queue"] for m in line.ami("QueueCallerJoin")] == ["sales"]
