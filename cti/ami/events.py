"""The AMI events the server consumes: the shipped manager.conf lets exactly these through."""

from __future__ import annotations

SERVER_EVENTS: frozenset[str] = frozenset(
    {
        "Newchannel",
        "NewCallerid",
        "Hangup",
        "DialBegin",
        "DialEnd",
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
"""``VarSet`` is let through only for variables whose name starts with ``CTI_``."""
