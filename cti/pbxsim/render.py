"""AMI events rendered exactly as Asterisk 22 writes them: same names, order and privileges.

Each schema lists the headers of one event type in Asterisk's order; ``<chan>`` stands
for the fourteen-header channel snapshot, ``<Dest>`` / ``<LocalOne>`` / ``<LocalTwo>``
for the same snapshot with a prefix, and ``<bridge>`` for the bridge snapshot. A schema
item ending in ``?`` is written only when its first header has a value (``DialBegin`` of
an originated call has no calling channel). ``tests/protocol/test_pbxsim_render.py``
re-renders every event of every recording and compares the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.ami.protocol import format_message

SNAPSHOT = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
BRIDGE = (
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
)
BLOCKS = {
    "<chan>": SNAPSHOT,
    "<Dest>": tuple(f"Dest{name}" for name in SNAPSHOT),
    "<LocalOne>": tuple(f"LocalOne{name}" for name in SNAPSHOT),
    "<LocalTwo>": tuple(f"LocalTwo{name}" for name in SNAPSHOT),
    "<bridge>": BRIDGE,
}
CALL, AGENT = "call,all", "agent,all"
MEMBER = (
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
)
"""The headers of every queue-member event (status, added, removed, pause)."""

SCHEMAS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "Newchannel": (CALL, ("<chan>",)),
    "Newstate": (CALL, ("<chan>",)),
    "NewConnectedLine": (CALL, ("<chan>",)),
    "NewCallerid": (CALL, ("<chan>", "CID-CallingPres")),
    "Newexten": (CALL, ("<chan>", "Extension", "Application", "AppData")),
    "VarSet": ("dialplan,all", ("<chan>", "Variable", "Value")),
    "LocalBridge": (
        CALL,
        ("<LocalOne>", "<LocalTwo>", "Context", "Exten", "LocalOptimization"),
    ),
    "DialBegin": (CALL, ("<chan>?", "<Dest>", "DialString")),
    "DialState": (CALL, ("<chan>", "<Dest>", "DialStatus")),
    "DialEnd": (CALL, ("<chan>?", "<Dest>", "DialStatus")),
    "AGIExecStart": ("agi,all", ("<chan>", "CommandId", "Command")),
    "AGIExecEnd": ("agi,all", ("<chan>", "CommandId", "Command", "ResultCode", "Result")),
    "DTMFBegin": ("dtmf,all", ("<chan>", "Digit", "Direction")),
    "DTMFEnd": ("dtmf,all", ("<chan>", "Digit", "DurationMs", "Direction")),
    "QueueCallerJoin": (AGENT, ("<chan>", "Queue", "Position", "Count")),
    "QueueCallerLeave": (AGENT, ("<chan>", "Queue", "Position", "Count")),
    "QueueCallerAbandon": (
        AGENT,
        ("<chan>", "Queue", "Position", "OriginalPosition", "HoldTime"),
    ),
    "AgentCalled": (AGENT, ("<chan>", "<Dest>", "Queue", "Interface", "MemberName")),
    "AgentRingNoAnswer": (
        AGENT,
        ("<chan>", "<Dest>", "Queue", "Interface", "MemberName", "RingTime"),
    ),
    "AgentConnect": (
        AGENT,
        ("<chan>", "<Dest>", "Queue", "Interface", "MemberName", "HoldTime", "RingTime"),
    ),
    "AgentComplete": (
        AGENT,
        (
            "<chan>?",
            "<Dest>?",
            "Queue",
            "Interface",
            "MemberName",
            "HoldTime",
            "TalkTime",
            "Reason",
        ),
    ),
    "QueueMemberStatus": (
        AGENT,
        MEMBER,
    ),
    "BridgeCreate": (CALL, ("<bridge>",)),
    "BridgeDestroy": (CALL, ("<bridge>",)),
    "BridgeEnter": (CALL, ("<bridge>", "<chan>")),
    "BridgeLeave": (CALL, ("<bridge>", "<chan>")),
    "SoftHangupRequest": (CALL, ("<chan>", "Cause")),
    "HangupRequest": (CALL, ("<chan>", "Cause")),
    "Hangup": (CALL, ("<chan>", "Cause", "Cause-txt")),
    "DeviceStateChange": (CALL, ("Device", "State")),
    "OriginateResponse": (
        CALL,
        (
            "ActionID",
            "Response",
            "Channel",
            "Context",
            "Exten",
            "Reason",
            "Uniqueid",
            "CallerIDNum",
            "CallerIDName",
        ),
    ),
    "FullyBooted": ("system,all", ("Uptime", "LastReload", "Status")),
    "SuccessfulAuth": (
        "security,all",
        (
            "EventTV",
            "Severity",
            "Service",
            "EventVersion",
            "AccountID",
            "SessionID",
            "LocalAddress",
            "RemoteAddress",
            "UsingPassword",
            "SessionTV",
        ),
    ),
    "QueueParams": (
        None,
        (
            "Queue",
            "Max",
            "Strategy",
            "Calls",
            "Holdtime",
            "TalkTime",
            "Completed",
            "Abandoned",
            "ServiceLevel",
            "ServicelevelPerf",
            "ServicelevelPerf2",
            "Weight",
            "ActionID",
        ),
    ),
    "QueueMember": (
        None,
        (
            "Queue",
            "Name",
            "Location",
            "StateInterface",
            "Membership",
            "Penalty",
            "CallsTaken",
            "LastCall",
            "LastPause",
            "LoginTime",
            "InCall",
            "Status",
            "Paused",
            "PausedReason",
            "Wrapuptime",
            "ActionID",
        ),
    ),
    "QueueEntry": (
        None,
        (
            "Queue",
            "Position",
            "Channel",
            "Uniqueid",
            "CallerIDNum",
            "CallerIDName",
            "ConnectedLineNum",
            "ConnectedLineName",
            "Wait",
            "Priority",
            "ActionID",
        ),
    ),
    "QueueSummary": (
        None,
        (
            "Queue",
            "LoggedIn",
            "Available",
            "Callers",
            "HoldTime",
            "TalkTime",
            "LongestHoldTime",
            "ActionID",
        ),
    ),
    "CoreShowChannel": (
        None,
        ("ActionID", "<chan>", "Application", "ApplicationData", "Duration", "BridgeId"),
    ),
    "QueueStatusComplete": (None, ("ActionID", "EventList", "ListItems")),
    "QueueSummaryComplete": (None, ("ActionID", "EventList", "ListItems")),
    "CoreShowChannelsComplete": (None, ("ActionID", "EventList", "ListItems")),
    "QueueMemberAdded": (
        AGENT,
        MEMBER,
    ),
    "QueueMemberRemoved": (
        AGENT,
        MEMBER,
    ),
    "QueueMemberPause": (
        AGENT,
        MEMBER,
    ),
}


def event_fields(name: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """The headers of event ``name`` in Asterisk's order, filled from ``values``.

    Raises:
        KeyError: no schema for that event.
    """
    privilege, items = SCHEMAS[name]
    fields = [("Event", name)]
    if privilege is not None:
        fields.append(("Privilege", values.get("Privilege", privilege)))
    for item in items:
        optional = item.endswith("?")
        key = item.rstrip("?")
        names = BLOCKS.get(key, (key,))
        if optional and not values.get(names[0]):
            continue
        fields.extend((header, values.get(header, "")) for header in names)
    return fields


def render_event(name: str, values: Mapping[str, str]) -> bytes:
    """One event as Asterisk 22 writes it, blank line included."""
    return format_message(event_fields(name, values))


def render_response(fields: list[tuple[str, str]]) -> bytes:
    """A reply to an action: ``Response`` first, the rest as given."""
    return format_message(fields)


def prefixed(prefix: str, snapshot: Mapping[str, str]) -> dict[str, str]:
    """A channel snapshot under a prefix (``Dest``, ``LocalOne``)."""
    return {f"{prefix}{name}": snapshot.get(name, "") for name in SNAPSHOT}
