"""The AMI events the server consumes; the shipped manager.conf lets exactly these through."""

from __future__ import annotations

SERVER_EVENTS: frozenset[str] = frozenset(
    {
        "Newchannel",
        "NewCallerid",
        "Hangup",
        "DialBegin",
        "DialEnd",
        "OriginateResponse",
        "BridgeEnter",
        "BridgeLeave",
        "BlindTransfer",
        "AttendedTransfer",
        "AGIExecStart",
        "VarSet",
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentConnect",
        "AgentComplete",
        "AgentDump",
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "FullyBooted",
        "Shutdown",
        "Reload",
    }
)
"""Event names as Asterisk spells them; ``VarSet`` only for variables named ``VARSET_PREFIX…``."""

VARSET_PREFIX = "CTI_"
"""The prefix of the channel variables the IVR and dialplan hand to the server."""
