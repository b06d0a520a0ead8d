"""AMI events and replies rendered exactly as Asterisk 22 writes them: names, order, privileges.

Each schema lists the headers of one event type in Asterisk's order; ``<chan>`` stands
for the fourteen-header channel snapshot, ``<Dest>`` / ``<LocalOne>`` / ``<LocalTwo>``
for the same snapshot with a prefix, and ``<bridge>`` for the bridge snapshot. An item
ending in ``?`` is written only when its first header has a value: ``DialBegin`` of an
originated call has no calling channel, list events carry ``ActionID`` only when the
action had one, ``Hangup`` and the hangup requests carry ``TechCause`` only when the
technology gave one (a SIP status of a PJSIP channel).
``tests/protocol/test_pbxsim_render.py`` re-renders every recorded event and compares bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cti.ami.protocol import format_message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
AMI_VERSION = "11.0.0"
VERSION = "22.10.1"
"""The Asterisk version the simulator claims (``CoreSettings``, ``agi_version``)."""
STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}

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
BLOCKS = {
    "<chan>": SNAPSHOT,
    "<Dest>": tuple(f"Dest{name}" for name in SNAPSHOT),
    "<LocalOne>": tuple(f"LocalOne{name}" for name in SNAPSHOT),
    "<LocalTwo>": tuple(f"LocalTwo{name}" for name in SNAPSHOT),
    "<bridge>": BRIDGE,
    "<member>": MEMBER,
}
CALL, AGENT, DIALPLAN = "call,all", "agent,all", "dialplan,all"
LIST_COMPLETE = ("ActionID?", "EventList", "ListItems")

SCHEMAS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "Newchannel": (CALL, ("<chan>",)),
    "Newstate": (CALL, ("<chan>",)),
    "NewConnectedLine": (CALL, ("<chan>",)),
    "NewCallerid": (CALL, ("<chan>", "CID-CallingPres")),
    "Newexten": (DIALPLAN, ("<chan>", "Extension", "Application", "AppData")),
    "VarSet": (DIALPLAN, ("<chan>", "Variable", "Value")),
    "LocalBridge": (CALL, ("<LocalOne>", "<LocalTwo>", "Context", "Exten", "LocalOptimization")),
    "DialBegin": (CALL, ("<chan>?", "<Dest>", "DialString")),
    "DialState": (CALL, ("<chan>?", "<Dest>", "DialStatus")),
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
    "QueueMemberStatus": (AGENT, ("<member>",)),
    "QueueMemberAdded": (AGENT, ("<member>",)),
    "QueueMemberRemoved": (AGENT, ("<member>",)),
    "QueueMemberPause": (AGENT, ("<member>",)),
    "BridgeCreate": (CALL, ("<bridge>",)),
    "BridgeDestroy": (CALL, ("<bridge>",)),
    "BridgeEnter": (CALL, ("<bridge>", "<chan>")),
    "BridgeLeave": (CALL, ("<bridge>", "<chan>")),
    "SoftHangupRequest": (CALL, ("<chan>", "Cause", "TechCause?")),
    "HangupRequest": (CALL, ("<chan>", "Cause", "TechCause?")),
    "Hangup": (CALL, ("<chan>", "Cause", "Cause-txt", "TechCause?")),
    "DeviceStateChange": (CALL, ("Device", "State")),
    "OriginateResponse": (
        CALL,
        (
            "ActionID?",
            "Response",
            "Channel",
            "Context?",
            "Exten?",
            "Application?",
            "Data?",
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
            "ActionID?",
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
            "ActionID?",
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
            "ActionID?",
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
            "ActionID?",
        ),
    ),
    "CoreShowChannel": (
        None,
        ("ActionID?", "<chan>", "Application", "ApplicationData", "Duration", "BridgeId"),
    ),
    "QueueStatusComplete": (None, LIST_COMPLETE),
    "QueueSummaryComplete": (None, LIST_COMPLETE),
    "CoreShowChannelsComplete": (None, LIST_COMPLETE),
}


def event_fields(name: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """The headers of event ``name`` in Asterisk's order, filled from ``values``.

    ``Privilege`` comes from the schema, never from ``values``: it is part of the format.

    Raises:
        KeyError: no schema for that event.
    """
    privilege, items = SCHEMAS[name]
    fields = [("Event", name)]
    if privilege is not None:
        fields.append(("Privilege", privilege))
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


def render_response(
    response: str, action_id: str = "", fields: Iterable[tuple[str, str]] = ()
) -> bytes:
    """A reply to an action: ``Response``, ``ActionID`` when the action had one, then ``fields``."""
    head = [("Response", response)]
    if action_id:
        head.append(("ActionID", action_id))
    return format_message([*head, *fields])


def render_success(action_id: str, message: str) -> bytes:
    """``Response: Success`` with a message (``astman_send_ack``)."""
    return render_response("Success", action_id, [("Message", message)])


def render_error(action_id: str, message: str) -> bytes:
    """``Response: Error`` with a message (``astman_send_error``)."""
    return render_response("Error", action_id, [("Message", message)])


def render_list_start(action_id: str, message: str) -> bytes:
    """The acknowledgement that opens an event list (``... will follow``)."""
    return render_response("Success", action_id, [("EventList", "start"), ("Message", message)])


def render_list_complete(name: str, action_id: str, count: int) -> bytes:
    """The event that closes an event list."""
    return render_event(
        name, {"ActionID": action_id, "EventList": "Complete", "ListItems": str(count)}
    )


def render_goodbye(action_id: str) -> bytes:
    """The reply to ``Logoff``."""
    return render_response("Goodbye", action_id, [("Message", "Thanks for all the fish.")])


def prefixed(prefix: str, snapshot: Mapping[str, str]) -> dict[str, str]:
    """A channel snapshot under a prefix (``Dest``, ``LocalOne``, ``LocalTwo``)."""
    return {f"{prefix}{name}": snapshot.get(name, "") for name in SNAPSHOT}
