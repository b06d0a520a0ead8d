"""The call-state machine: AMI events in, calls and domain events out. Pure, no I/O.

Calls are keyed by Asterisk's ``Linkedid``: every channel a call creates (the caller's,
Local halves, agent legs) carries it. A call ends when its last channel hangs up; it is
then emitted as ``call.ended`` and forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cti.callbacks.dialer import PREFIX as OUTBOUND_PREFIX
from cti.calls.model import AgentRing, Call, CallEvent, CallEventType, CallOutcome, CallStage

OUTBOUND_VARIABLES = frozenset({"CTI_CUSTOMER", "CTI_CUSTOMER_NAME", "CTI_CONTACT_ID"})
"""What an ``Originate`` tells about the customer of an outbound call."""

Message = Mapping[str, str]
Handler = Callable[[Message, float], list[CallEvent]]

UNKNOWN_CALLERID = frozenset({"", "<unknown>", "unknown"})
DIAL_OUTCOMES = {
    "NOANSWER": "noanswer",
    "CANCEL": "cancelled",
    "BUSY": "busy",
    "CONGESTION": "unavailable",
    "CHANUNAVAIL": "unavailable",
}
DECISION_FIELDS = {
    "CTI_RULE": "rule",
    "CTI_AGENT": "agent",
    "CTI_OVERFLOW_AFTER": "overflow_after",
    "CTI_OVERFLOW_QUEUE": "overflow_queue",
    "CTI_ROUTE": "why",
}
"""Channel variables of routing's decision, and their key in ``Call.routing``."""
LOST_CAUSE_TXT = "vanished while the server could not see Asterisk"


def interface_of(channel: str) -> str:
    """The device a channel belongs to: ``PJSIP/1001-0000000b`` is ``PJSIP/1001``."""
    base = channel.partition(";")[0]
    head, sep, tail = base.rpartition("-")
    return head if sep and tail and all(c in "0123456789abcdef" for c in tail) else base


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _duration(value: str) -> float:
    """Parse ``HH:MM:SS`` as Asterisk prints a channel's age."""
    try:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def _confidence(value: str | None) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if 0.0 <= number <= 1.0 else None


def _callerid(value: str | None) -> str | None:
    return None if value is None or value in UNKNOWN_CALLERID else value


class CallTracker:
    """Follow every live call from AMI events; emit ``CallEvent`` as calls progress."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._channel_call: dict[str, str] = {}
        self._legs: dict[str, tuple[str, AgentRing]] = {}
        self._abandoned: set[str] = set()
        self._handlers: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_newcallerid,
            "AGIExecStart": self._on_agiexecstart,
            "VarSet": self._on_varset,
            "QueueCallerJoin": self._on_queuecallerjoin,
            "QueueCallerAbandon": self._on_queuecallerabandon,
            "QueueCallerLeave": self._on_queuecallerleave,
            "AgentCalled": self._on_agentcalled,
            "AgentRingNoAnswer": self._on_agentringnoanswer,
            "AgentConnect": self._on_agentconnect,
            "AgentComplete": self._on_agentcomplete,
            "AgentDump": self._on_agentdump,
            "DialBegin": self._on_dialbegin,
            "DialEnd": self._on_dialend,
            "BlindTransfer": self._on_transfer,
            "AttendedTransfer": self._on_transfer,
            "Hangup": self._on_hangup,
        }

    @property
    def handled_events(self) -> frozenset[str]:
        """Names of the AMI events that change call state; all others can be dropped."""
        return frozenset(self._handlers)

    def handle(self, message: Message, now: float) -> list[CallEvent]:
        """Apply one AMI event; return the domain events it caused."""
        handler = self._handlers.get(message.get("Event", ""))
        return handler(message, now) if handler is not None else []

    def active(self) -> list[Call]:
        """Live calls, oldest first."""
        return sorted(self.calls.values(), key=lambda call: call.started_at)

    # -- channel lifecycle -------------------------------------------------------------

    def _call_of(self, message: Message) -> Call | None:
        linkedid = self._channel_call.get(message.get("Uniqueid", ""))
        return self.calls.get(linkedid) if linkedid is not None else None

    def _on_newchannel(self, msg: Message, now: float) -> list[CallEvent]:
        uniqueid = msg.get("Uniqueid", "")
        if not uniqueid or uniqueid in self._channel_call:
            return []
        linkedid = msg.get("Linkedid") or uniqueid
        events = []
        call = self.calls.get(linkedid)
        if call is None:
            call = Call(linkedid=linkedid, started_at=now)
            self.calls[linkedid] = call
            events.append(CallEventType.STARTED)
        call.channels[uniqueid] = msg.get("Channel", "")
        self._channel_call[uniqueid] = linkedid
        if linkedid.startswith(OUTBOUND_PREFIX):
            # An agent-first outbound call (cti.callbacks.dialer): the first channel is the
            # agent's phone; the customer is who CTI_CUSTOMER names, not any caller ID.
            call.direction = "outbound"
        elif uniqueid == linkedid or call.caller_num is None:
            self._take_callerid(call, msg, force=uniqueid == linkedid)
        return [self._event(kind, call, now) for kind in events]

    def _on_newcallerid(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is not None and call.direction != "outbound":  # CTI_CUSTOMER names the customer
            is_root = msg.get("Uniqueid") == call.linkedid
            if is_root or (call.caller_num is None and not self._is_leg(msg.get("Channel", ""))):
                self._take_callerid(call, msg, force=is_root)
        return []

    @staticmethod
    def _take_callerid(call: Call, msg: Message, *, force: bool) -> None:
        number = _callerid(msg.get("CallerIDNum"))
        if number is None:
            return
        if force or call.caller_num is None:
            call.caller_num = number
            call.caller_name = _callerid(msg.get("CallerIDName"))

    def _on_hangup(self, msg: Message, now: float) -> list[CallEvent]:
        uniqueid = msg.get("Uniqueid", "")
        call = self._call_of(msg)
        if call is None:
            return []
        del self._channel_call[uniqueid]
        call.channels.pop(uniqueid, None)
        if uniqueid == call.linkedid or call.hangup_cause is None:
            cause = msg.get("Cause", "")
            call.hangup_cause = int(cause) if cause.isdigit() else None
            call.hangup_cause_txt = msg.get("Cause-txt") or None
        leg = self._legs.get(msg.get("Channel", ""))
        if leg is not None and leg[1].ended_at is None:
            self._end_ring(leg[1], now, "cancelled")
        if call.channels:
            return []
        return [self._finish(call, now)]

    def _finish(self, call: Call, now: float, *, vanished: bool = False) -> CallEvent:
        call.ended_at = now
        call.stage = CallStage.ENDED
        for ring in call.rings:
            if ring.ended_at is None:
                self._end_ring(ring, now, "cancelled")
            if ring.channel is not None:
                self._legs.pop(ring.channel, None)
        if call.answered_at is not None:
            call.outcome = CallOutcome.ANSWERED
            if call.talk_seconds is None:
                call.talk_seconds = round(now - call.answered_at, 3)
        elif call.linkedid in self._abandoned:
            call.outcome = CallOutcome.ABANDONED
        elif vanished:
            call.outcome = CallOutcome.LOST
        elif call.queued_at is None and call.ivr_started_at is not None:
            call.outcome = CallOutcome.IVR_HANGUP
        else:
            call.outcome = CallOutcome.UNANSWERED
        if vanished and call.hangup_cause_txt is None:
            call.hangup_cause_txt = LOST_CAUSE_TXT
        for uniqueid in call.channels:
            self._channel_call.pop(uniqueid, None)
        call.channels.clear()
        self._abandoned.discard(call.linkedid)
        del self.calls[call.linkedid]
        if vanished:
            return self._event(CallEventType.ENDED, call, now, vanished=True)
        return self._event(CallEventType.ENDED, call, now)

    # -- IVR and queue ------------------------------------------------------------------

    def _on_agiexecstart(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is None or call.ivr_started_at is not None:
            return []
        call.ivr_started_at = now
        if call.stage is CallStage.NEW:
            call.stage = CallStage.IVR
        return [self._event(CallEventType.IVR, call, now)]

    def _on_varset(self, msg: Message, now: float) -> list[CallEvent]:
        variable = msg.get("Variable", "")
        if not variable.startswith("CTI_"):
            return []
        call = self._call_of(msg)
        if call is not None:
            value = msg.get("Value") or None
            if call.direction == "outbound" and variable in OUTBOUND_VARIABLES:
                return self._outbound_variable(call, variable, value, msg, now)
            if variable == "CTI_REASON":
                call.reason = value
            elif variable == "CTI_CONTACT_ID":
                call.contact_id = value
            elif variable == "CTI_IVR_PATH":
                call.ivr_path = value
            elif variable == "CTI_REASON_CONFIDENCE":
                call.reason_confidence = _confidence(value)
            elif variable in DECISION_FIELDS and value is not None:
                if call.routing is None:
                    call.routing = {}
                call.routing[DECISION_FIELDS[variable]] = value
        return []

    def _outbound_variable(
        self, call: Call, variable: str, value: str | None, msg: Message, now: float
    ) -> list[CallEvent]:
        """The ``Originate``'s variables on the agent's channel: who the customer is. Once
        the number is known the agent's phone counts as ringing (the pop goes out)."""
        if variable == "CTI_CUSTOMER_NAME":
            call.caller_name = value
        elif variable == "CTI_CONTACT_ID":
            call.contact_id = value
        elif variable == "CTI_CUSTOMER" and value and call.caller_num is None:
            call.caller_num = value
            channel = msg.get("Channel", "")
            if msg.get("Uniqueid") == call.linkedid and not call.rings:
                return self._ring(call, now, interface_of(channel), channel, msg)
        return []

    def _on_queuecallerjoin(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is None:
            return []
        call.queue = msg.get("Queue")
        position = msg.get("Position", "")
        call.queue_position = int(position) if position.isdigit() else None
        call.queued_at = now
        if call.stage is not CallStage.TALKING:
            call.stage = CallStage.QUEUED
        if call.caller_num is None:
            self._take_callerid(call, msg, force=False)
        return [self._event(CallEventType.QUEUED, call, now)]

    def _on_queuecallerabandon(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is None:
            return []
        self._abandoned.add(call.linkedid)
        call.wait_seconds = _seconds(msg.get("HoldTime"))
        position = msg.get("Position", "")
        return [
            self._event(
                CallEventType.ABANDONED,
                call,
                now,
                queue=msg.get("Queue"),
                position=int(position) if position.isdigit() else None,
                wait_seconds=call.wait_seconds,
            )
        ]

    def _on_queuecallerleave(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is not None and call.stage is CallStage.QUEUED:
            call.queue_position = None
        return []

    # -- agents -------------------------------------------------------------------------

    def _is_leg(self, channel: str) -> bool:
        if channel in self._legs:
            return True
        return channel.endswith(";2") and f"{channel[:-2]};1" in self._legs

    def _ring(
        self, call: Call, now: float, interface: str, channel: str | None, msg: Message
    ) -> list[CallEvent]:
        ring = AgentRing(
            interface=interface,
            member_name=msg.get("MemberName") or None,
            queue=msg.get("Queue") or None,
            channel=channel,
            started_at=now,
        )
        call.rings.append(ring)
        if channel:
            self._legs[channel] = (call.linkedid, ring)
        if call.stage is not CallStage.TALKING:
            call.stage = CallStage.RINGING
        return [
            self._event(
                CallEventType.AGENT_RINGING,
                call,
                now,
                agent=interface,
                member_name=ring.member_name,
                queue=ring.queue,
            )
        ]

    def _end_ring(self, ring: AgentRing, now: float, outcome: str) -> None:
        ring.ended_at = now
        ring.outcome = outcome

    def _ring_ended(self, call: Call, ring: AgentRing, now: float, outcome: str) -> CallEvent:
        self._end_ring(ring, now, outcome)
        if call.stage is CallStage.RINGING and all(r.ended_at is not None for r in call.rings):
            call.stage = CallStage.QUEUED if call.queued_at is not None else CallStage.NEW
        return self._event(
            CallEventType.AGENT_RING_ENDED,
            call,
            now,
            agent=ring.interface,
            queue=ring.queue,
            outcome=outcome,
        )

    def _open_ring(self, msg: Message) -> tuple[Call, AgentRing] | None:
        leg = self._legs.get(msg.get("DestChannel", ""))
        if leg is None:
            return None
        call = self.calls.get(leg[0])
        if call is None or leg[1].ended_at is not None:
            return None
        return call, leg[1]

    def _on_agentcalled(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg)
        if call is None:
            return []
        return self._ring(call, now, msg.get("Interface", ""), msg.get("DestChannel"), msg)

    def _on_agentringnoanswer(self, msg: Message, now: float) -> list[CallEvent]:
        found = self._open_ring(msg)
        return [] if found is None else [self._ring_ended(*found, now, "noanswer")]

    def _on_agentdump(self, msg: Message, now: float) -> list[CallEvent]:
        found = self._open_ring(msg)
        return [] if found is None else [self._ring_ended(*found, now, "dumped")]

    def _answer(
        self, call: Call, ring: AgentRing, now: float, wait: float | None
    ) -> list[CallEvent]:
        events = []
        self._end_ring(ring, now, "answered")
        for other in call.rings:
            if other.ended_at is None:
                events.append(self._ring_ended(call, other, now, "answered_elsewhere"))
        call.agent = ring.interface
        call.agent_name = ring.member_name
        call.answered_at = now
        call.wait_seconds = wait
        call.stage = CallStage.TALKING
        call.queue_position = None
        events.append(
            self._event(
                CallEventType.ANSWERED,
                call,
                now,
                agent=ring.interface,
                member_name=ring.member_name,
                queue=ring.queue,
                wait_seconds=wait,
            )
        )
        return events

    def _on_agentconnect(self, msg: Message, now: float) -> list[CallEvent]:
        wait = _seconds(msg.get("HoldTime"))
        found = self._open_ring(msg)
        if found is not None:
            return self._answer(*found, now, wait)
        call = self._call_of(msg)
        if call is None or call.answered_at is not None:
            return []
        events = self._ring(call, now, msg.get("Interface", ""), None, msg)
        return events + self._answer(call, call.rings[-1], now, wait)

    def _on_agentcomplete(self, msg: Message, now: float) -> list[CallEvent]:
        call = self._call_of(msg) or self._talking_with(msg.get("Interface"), msg.get("Queue"))
        if call is not None:
            call.wait_seconds = _seconds(msg.get("HoldTime"))
            call.talk_seconds = _seconds(msg.get("TalkTime"))
        return []

    def _talking_with(self, agent: str | None, queue: str | None) -> Call | None:
        """The live call an agent is answering in a queue (events that lost their channel)."""
        for call in self.calls.values():
            if call.agent == agent and call.queue == queue and call.stage is CallStage.TALKING:
                return call
        return None

    def _on_dialbegin(self, msg: Message, now: float) -> list[CallEvent]:
        dest = msg.get("DestChannel", "")
        source = msg.get("Channel")
        if not source or dest in self._legs or self._is_leg(source):
            return []
        call = self._call_of(msg)
        if call is None:
            return []
        return self._ring(call, now, interface_of(dest), dest, msg)

    def _on_dialend(self, msg: Message, now: float) -> list[CallEvent]:
        if msg.get("DestUniqueid", "").startswith(OUTBOUND_PREFIX) and not msg.get("Uniqueid"):
            return []  # an originate reaching the agent's phone: not the customer answering
        call = self._call_of(msg)
        outbound = call is not None and call.direction == "outbound"
        if outbound and msg.get("Uniqueid") == call.linkedid:  # type: ignore[union-attr]
            return self._outbound_dialed(call, msg, now)  # type: ignore[arg-type]
        found = self._open_ring(msg)
        if found is None:
            return []
        call, ring = found
        status = msg.get("DialStatus", "")
        if status == "ANSWER":
            if ring.queue is not None:
                return []
            start = call.queued_at if call.queued_at is not None else call.started_at
            return self._answer(call, ring, now, round(now - start, 3))
        return [self._ring_ended(call, ring, now, DIAL_OUTCOMES.get(status, status.lower()))]

    def _outbound_dialed(self, call: Call, msg: Message, now: float) -> list[CallEvent]:
        """The agent's phone dialled the customer: answered, the call is on; else the
        agent's hangup that follows ends it."""
        ring = next((r for r in call.rings if r.ended_at is None), None)
        if ring is None or msg.get("DialStatus") != "ANSWER":
            return []
        return self._answer(call, ring, now, round(now - call.started_at, 3))

    def _on_transfer(self, msg: Message, now: float) -> list[CallEvent]:
        blind = msg.get("Event") == "BlindTransfer"
        prefix = "Transferer" if blind else "OrigTransferer"
        linkedid = self._channel_call.get(msg.get(f"{prefix}Uniqueid", ""))
        call = self.calls.get(linkedid) if linkedid else None
        if call is None:
            return []
        transfer = {
            "kind": "blind" if blind else "attended",
            "by": msg.get(f"{prefix}Channel", ""),
            "result": msg.get("Result", ""),
            "to": f"{msg.get('Extension', '')}@{msg.get('Context', '')}"
            if blind
            else msg.get("TransferTargetChannel") or msg.get("SecondTransfererChannel", ""),
        }
        call.transfers.append(transfer)
        return [self._event(CallEventType.TRANSFERRED, call, now, **transfer)]

    # -- handing calls between processes ---------------------------------------------------

    def export(self, linkedid: str) -> dict[str, Any] | None:
        """A live call with all tracking needs to carry on (its channels too), JSON-ready.

        What another process passes to ``adopt`` when it takes over reading AMI.
        """
        call = self.calls.get(linkedid)
        if call is None:
            return None
        state = call.to_dict()
        state["channels"] = dict(call.channels)
        state["abandoned"] = linkedid in self._abandoned
        return state

    def adopt(self, state: Mapping[str, Any]) -> Call:
        """Carry on tracking a live call as another process's ``export`` left it.

        The next ``reconcile`` settles it against what Asterisk reports: still live, it
        goes on; gone, it is finished as vanished.

        Raises:
            KeyError, TypeError, ValueError: ``state`` is not an export.
        """
        call = Call.from_dict(state)
        linkedid = call.linkedid
        self.calls[linkedid] = call
        for uniqueid in call.channels:
            self._channel_call[uniqueid] = linkedid
        for ring in call.rings:
            if ring.channel:
                self._legs[ring.channel] = (linkedid, ring)
        if state.get("abandoned"):
            self._abandoned.add(linkedid)
        return call

    # -- resynchronisation ---------------------------------------------------------------

    def reconcile(
        self, channels: Iterable[Message], queue_entries: Iterable[Message], now: float
    ) -> list[CallEvent]:
        """Make the tracked calls match what Asterisk reports live right now.

        ``channels`` are ``CoreShowChannel`` events, ``queue_entries`` the ``QueueEntry``
        events of a ``QueueStatus`` reply. Calls whose channels are all gone ended while
        we could not see them (Asterisk restarted or the connection dropped): they are
        finished, never left as ghosts. Channels we do not know become calls.
        """
        live = {msg.get("Uniqueid", ""): msg for msg in channels}
        events: list[CallEvent] = []
        for call in list(self.calls.values()):
            for uniqueid in [u for u in call.channels if u not in live]:
                del call.channels[uniqueid]
                self._channel_call.pop(uniqueid, None)
        born: list[CallEvent] = []
        for uniqueid, msg in live.items():
            if uniqueid and uniqueid not in self._channel_call:
                started = now - _duration(msg.get("Duration", "0:0:0"))
                born.extend(self._on_newchannel(msg, started))
        # Only now, so that a call whose known channels are gone but which lives on in a
        # channel not seen yet (an adopted call's newer leg) is kept, not ended and reborn.
        for call in list(self.calls.values()):
            if not call.channels:
                events.append(self._finish(call, now, vanished=True))
        events.extend(born)
        entries = {msg.get("Uniqueid", ""): msg for msg in queue_entries}
        for uniqueid, msg in live.items():
            live_call = self._call_of(msg)
            if live_call is not None:
                events.extend(
                    self._reconcile_channel(live_call, msg, entries.get(uniqueid), live, now)
                )
        return events

    def _reconcile_channel(
        self,
        call: Call,
        msg: Message,
        entry: Message | None,
        live: Mapping[str, Message],
        now: float,
    ) -> list[CallEvent]:
        application = msg.get("Application", "")
        bridge = msg.get("BridgeId", "")
        events: list[CallEvent] = []
        if entry is not None and call.queued_at is None:
            wait = _seconds(entry.get("Wait")) or 0.0
            call.queue = entry.get("Queue")
            position = entry.get("Position", "")
            call.queue_position = int(position) if position.isdigit() else None
            call.queued_at = now - wait
            call.stage = CallStage.QUEUED
            events.append(self._event(CallEventType.QUEUED, call, now))
        # QueueStatus is read before CoreShowChannels: a caller still listed as waiting
        # may have been answered in between, and the channel's bridge is the newer word.
        if application not in {"Queue", "Dial"} or not bridge or call.answered_at is not None:
            return events
        peers = [
            other
            for uid, other in live.items()
            if uid != msg.get("Uniqueid") and other.get("BridgeId") == bridge
        ]
        if not peers:
            return events
        agent = interface_of(peers[0].get("Channel", ""))
        if application == "Queue":
            call.queue = msg.get("ApplicationData", "").split(",")[0] or call.queue
        ring = AgentRing(
            interface=agent, member_name=None, queue=call.queue, channel=None, started_at=now
        )
        call.rings.append(ring)
        return events + self._answer(call, ring, now, None)

    # -- output -------------------------------------------------------------------------

    @staticmethod
    def _event(kind: CallEventType, call: Call, now: float, /, **data: object) -> CallEvent:
        return CallEvent(type=kind, at=now, call=call.to_dict(), data=dict(data))
