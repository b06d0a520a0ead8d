"""Outbound attempts: the Originate sent, and the result read from Asterisk's events."""

from __future__ import annotations

from cti.callbacks.dialer import AttemptWatch, Call, Outcome, Result, attempt_of, linkedid_of


def call(**changes: object) -> Call:
    values: dict[str, object] = {
        "attempt_id": 42,
        "agent": "PJSIP/1001",
        "number": "+79161234567",
        "name": 'Ivan "the" Petrov, <VIP>',
        "contact_id": 7,
        "kind": "callback",
        "context": "cti-outbound",
        "agent_ring_seconds": 20,
        "customer_ring_seconds": 30,
        "caller_id": "+74950000000",
        "caller_name": "Acme, Ltd",
        "announce": "cti/callback-hello",
    }
    values.update(changes)
    return Call(**values)  # type: ignore[arg-type]


def test_the_originate_rings_the_agent_then_runs_the_outbound_context() -> None:
    action = call().action()
    assert action["Channel"] == "PJSIP/1001"
    assert (action["Context"], action["Exten"], action["Priority"]) == (
        "cti-outbound",
        "+79161234567",
        "1",
    )
    assert action["ChannelId"] == action["ActionID"] == "cti-out-42"
    assert action["CallerID"] == '"Call-back: Ivan the Petrov VIP" <+79161234567>'
    assert action["Timeout"] == "20000" and action["Async"] == "true"
    variables = dict(item.split("=", 1) for item in action["Variable"].split(","))
    assert variables == {
        "CTI_CUSTOMER": "+79161234567",
        "CTI_CUSTOMER_NAME": "Ivan the Petrov VIP",
        "CTI_CONTACT_ID": "7",
        "CTI_OUTBOUND_ID": "42",
        "CTI_OUTBOUND_KIND": "callback",
        "CTI_CALLER_ID": "+74950000000",
        "CTI_CALLER_NAME": "Acme Ltd",
        "CTI_ANNOUNCE": "cti/callback-hello",
        "CTI_DIAL_SECONDS": "30",
    }


def test_names_round_trip() -> None:
    assert attempt_of(linkedid_of(7)) == 7
    assert attempt_of("1795403632.0") is None and attempt_of("cti-out-x") is None


def watch() -> tuple[AttemptWatch, list[Outcome]]:
    seen: list[Outcome] = []
    return AttemptWatch(seen.append, clock=lambda: 1000.0), seen


def test_the_agent_not_answering_is_the_agents_failure() -> None:
    w, seen = watch()
    w.expect(42)
    w.on_event({"Event": "Hangup", "Uniqueid": "cti-out-42", "Cause-txt": "No answer"}, 0)
    assert seen == []
    w.on_event(
        {
            "Event": "OriginateResponse",
            "ActionID": "cti-out-42",
            "Response": "Failure",
            "Reason": "3",
        },
        0,
    )
    assert seen == [Outcome(42, Result.AGENT_NOANSWER, False, True, "reason 3")]
    assert Result.AGENT_NOANSWER.agent_side and not Result.BUSY.agent_side


def test_a_busy_agent_and_an_unreachable_phone() -> None:
    """PJSIP's 486 gives Reason 0: the originate's own DialEnd BUSY tells a busy phone."""
    w, seen = watch()
    w.on_event({"Event": "DialEnd", "DestUniqueid": "cti-out-1", "DialStatus": "BUSY"}, 0)
    w.on_event({"Event": "Hangup", "Uniqueid": "cti-out-1", "Cause": "17"}, 0)
    for attempt in (1, 2):
        w.on_event(
            {
                "Event": "OriginateResponse",
                "ActionID": f"cti-out-{attempt}",
                "Response": "Failure",
                "Reason": "0",
            },
            0,
        )
    assert [o.result for o in seen] == [Result.AGENT_BUSY, Result.AGENT_UNAVAILABLE]


def test_the_agent_answering_is_not_the_customer_answering() -> None:
    w, seen = watch()
    w.on_event({"Event": "DialEnd", "DestUniqueid": "cti-out-1", "DialStatus": "ANSWER"}, 0)
    w.on_event({"Event": "OriginateResponse", "ActionID": "cti-out-1", "Response": "Success"}, 0)
    assert seen == []


def test_a_trunk_that_cannot_be_reached_has_no_dial_end() -> None:
    w, seen = watch()
    w.on_event({"Event": "OriginateResponse", "ActionID": "cti-out-1", "Response": "Success"}, 0)
    w.on_event(
        {
            "Event": "Hangup",
            "Uniqueid": "cti-out-1",
            "Cause": "3",
            "Cause-txt": "No route to destination",
        },
        0,
    )
    assert seen == [Outcome(1, Result.UNAVAILABLE, True, True, "cause 3 No route to destination")]


def test_answered_then_ended() -> None:
    w, seen = watch()
    w.on_event(
        {
            "Event": "OriginateResponse",
            "ActionID": "cti-out-42",
            "Response": "Success",
            "Reason": "4",
        },
        0,
    )
    w.on_event({"Event": "DialEnd", "Uniqueid": "cti-out-42", "DialStatus": "ANSWER"}, 0)
    w.on_event({"Event": "Hangup", "Uniqueid": "1795403632.7", "Linkedid": "cti-out-42"}, 0)
    w.on_event({"Event": "Hangup", "Uniqueid": "cti-out-42", "Cause-txt": "Normal Clearing"}, 0)
    assert seen == [
        Outcome(42, Result.ANSWERED, True, False, "ANSWER"),
        Outcome(42, Result.ANSWERED, True, True, "Normal Clearing"),
    ]


def test_customer_outcomes() -> None:
    for status, result in (
        ("BUSY", Result.BUSY),
        ("NOANSWER", Result.NOANSWER),
        ("CONGESTION", Result.UNAVAILABLE),
        ("CHANUNAVAIL", Result.UNAVAILABLE),
        ("CANCEL", Result.CANCELLED),
    ):
        w, seen = watch()
        w.on_event(
            {"Event": "OriginateResponse", "ActionID": "cti-out-1", "Response": "Success"}, 0
        )
        w.on_event({"Event": "DialEnd", "Uniqueid": "cti-out-1", "DialStatus": status}, 0)
        w.on_event({"Event": "Hangup", "Uniqueid": "cti-out-1"}, 0)
        assert [o.result for o in seen] == [result, result]
        assert not seen[0].ended and seen[1].ended


def test_the_agent_hanging_up_before_the_customer_is_dialled() -> None:
    w, seen = watch()
    w.on_event({"Event": "OriginateResponse", "ActionID": "cti-out-1", "Response": "Success"}, 0)
    w.on_event({"Event": "Hangup", "Uniqueid": "cti-out-1"}, 0)
    assert seen == [Outcome(1, Result.CANCELLED, True, True, "")]


def test_other_calls_are_ignored_and_lost_attempts_are_closed() -> None:
    now = [1000.0]
    seen: list[Outcome] = []
    w = AttemptWatch(seen.append, clock=lambda: now[0])
    w.on_event({"Event": "DialEnd", "Uniqueid": "1795403632.0", "DialStatus": "ANSWER"}, 0)
    w.on_event({"Event": "OriginateResponse", "ActionID": "orig-1", "Response": "Success"}, 0)
    assert seen == []
    w.expect(9)
    now[0] += 1000
    w.sweep()
    assert seen == [Outcome(9, Result.FAILED, False, True, "no word from Asterisk")]
    w.sweep()
    assert len(seen) == 1
