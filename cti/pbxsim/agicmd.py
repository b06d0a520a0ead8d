"""Asterisk 22's FastAGI command line as pure code: argument splitting, command lookup, replies.

``res_agi`` splits a command line on blanks, with double quotes grouping and a backslash
escaping the next character; it finds the first registered command whose words all
match the first words of the line (case-insensitive), so ``GET`` alone is unknown
(``510``) while ``GET VARIABLE`` without a name is a usage error (``520``). Commands
not marked as allowed on a dead channel answer ``511`` once the caller has hung up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

INVALID = "510 Invalid or unknown command"
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
DEAD_RESULT = "Command Not Permitted on a dead channel or intercept routine"
UNKNOWN_RESULT = "Invalid or unknown command"
HANGUP_NOTICE = "HANGUP\n"
MAX_ARGS = 128


@dataclass(frozen=True, slots=True)
class AgiCommand:
    """One registered AGI command: its words, whether a dead channel may run it, its usage."""

    words: tuple[str, ...]
    dead: bool
    usage: str

    @property
    def name(self) -> str:
        return " ".join(self.words).upper()


def _command(words: str, dead: bool, usage: str) -> AgiCommand:
    return AgiCommand(tuple(words.split()), dead, usage)


COMMANDS = (
    _command("answer", False, "ANSWER\nAnswers the channel if it is not already up."),
    _command("asyncagi break", True, "ASYNCAGI BREAK\nLeaves asynchronous AGI."),
    _command("channel status", False, "CHANNEL STATUS [channelname]\nReports a channel's state."),
    _command("database del", True, "DATABASE DEL <family> <key>\nDeletes a database entry."),
    _command("database deltree", True, "DATABASE DELTREE <family> [keytree]\nDeletes a tree."),
    _command("database get", True, "DATABASE GET <family> <key>\nReads a database entry."),
    _command("database put", True, "DATABASE PUT <family> <key> <value>\nWrites an entry."),
    _command("exec", True, "EXEC <application> <options>\nRuns a dialplan application."),
    _command("get data", False, "GET DATA <file> [timeout] [maxdigits]\nPlays and reads digits."),
    _command(
        "get full variable",
        True,
        "GET FULL VARIABLE <expression> [channelname]\nEvaluates an expression.",
    ),
    _command(
        "get option", False, "GET OPTION <filename> <escape_digits> [timeout]\nPlays, reads one."
    ),
    _command("get variable", True, "GET VARIABLE <variablename>\nReads a channel variable."),
    _command("hangup", False, "HANGUP [channelname]\nHangs up a channel."),
    _command("noop", True, "NOOP\nDoes nothing."),
    _command("receive char", False, "RECEIVE CHAR <timeout>\nReceives one text character."),
    _command("receive text", False, "RECEIVE TEXT <timeout>\nReceives a text message."),
    _command(
        "record file",
        False,
        "RECORD FILE <filename> <format> <escape_digits> <timeout>\nRecords to a file.",
    ),
    _command("say alpha", False, "SAY ALPHA <text> <escape_digits>\nSpells a string."),
    _command("say digits", False, "SAY DIGITS <number> <escape_digits>\nSays digits."),
    _command("say number", False, "SAY NUMBER <number> <escape_digits> [gender]\nSays a number."),
    _command("say phonetic", False, "SAY PHONETIC <text> <escape_digits>\nSpells phonetically."),
    _command("say date", False, "SAY DATE <date> <escape_digits>\nSays a date."),
    _command("say time", False, "SAY TIME <time> <escape_digits>\nSays a time."),
    _command(
        "say datetime", False, "SAY DATETIME <time> <escape_digits> [format] [timezone]\nSays both."
    ),
    _command("send image", False, "SEND IMAGE <image>\nSends an image."),
    _command("send text", False, "SEND TEXT <text to send>\nSends text."),
    _command("set autohangup", False, "SET AUTOHANGUP <time>\nHangs up after a delay."),
    _command("set callerid", False, "SET CALLERID <number>\nSets the caller ID."),
    _command("set context", False, "SET CONTEXT <desired context>\nSets the context."),
    _command("set extension", False, "SET EXTENSION <new extension>\nSets the extension."),
    _command("set music", False, "SET MUSIC <on|off> <class>\nStarts or stops hold music."),
    _command("set priority", False, "SET PRIORITY <priority>\nSets the priority."),
    _command("set variable", True, "SET VARIABLE <variablename> <value>\nSets a variable."),
    _command(
        "stream file",
        False,
        "STREAM FILE <filename> <escape_digits> [sample offset]\nPlays a file.",
    ),
    _command(
        "control stream file",
        False,
        "CONTROL STREAM FILE <filename> <escape_digits> [skipms] [ffchar] [rewchr] [pausechr]\n"
        "Plays a file that the caller may wind and pause.",
    ),
    _command("tdd mode", False, "TDD MODE <on|off>\nToggles TDD mode."),
    _command("verbose", True, "VERBOSE <message> <level>\nLogs a message."),
    _command("wait for digit", False, "WAIT FOR DIGIT <timeout>\nWaits for one key."),
    _command("speech create", False, "SPEECH CREATE <engine>\nCreates a speech object."),
    _command("speech set", False, "SPEECH SET <name> <value>\nSets an engine setting."),
    _command("speech destroy", True, "SPEECH DESTROY\nDestroys the speech object."),
    _command(
        "speech load grammar", False, "SPEECH LOAD GRAMMAR <grammar> <path>\nLoads a grammar."
    ),
    _command("speech unload grammar", True, "SPEECH UNLOAD GRAMMAR <grammar>\nUnloads one."),
    _command("speech activate grammar", False, "SPEECH ACTIVATE GRAMMAR <grammar>\nActivates one."),
    _command(
        "speech deactivate grammar", False, "SPEECH DEACTIVATE GRAMMAR <grammar>\nDeactivates."
    ),
    _command(
        "speech recognize", False, "SPEECH RECOGNIZE <prompt> <timeout> [offset]\nRecognises."
    ),
)


def parse_args(line: str) -> list[str]:
    """Split a command line into arguments exactly as ``res_agi`` does."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
                args.append("")
            continue
        if char in " \t" and not quoted and not escaped:
            if current is not None:
                args[-1] = "".join(current)
                current = None
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        escaped = False
        if current is None:
            if len(args) >= MAX_ARGS - 1:
                continue
            current = []
            args.append("")
        current.append(char)
    if current is not None:
        args[-1] = "".join(current)
    return args


def find_command(args: list[str]) -> AgiCommand | None:
    """The first registered command whose words all match the start of ``args``."""
    lowered = [arg.lower() for arg in args]
    for command in COMMANDS:
        size = len(command.words)
        if len(lowered) >= size and tuple(lowered[:size]) == command.words:
            return command
    return None


def usage_reply(command: AgiCommand) -> str:
    """The multi-line ``520`` reply that Asterisk sends for a syntax error."""
    return (
        "520-Invalid command syntax.  Proper usage follows:\n"
        f"{command.usage}\n"
        "520 End of proper usage.\n"
    )


def agi_header(env: Mapping[str, str]) -> str:
    """The request block: ``agi_name: value`` lines in Asterisk's order, then a blank line."""
    return "".join(f"{key}: {value}\n" for key, value in env.items()) + "\n"
