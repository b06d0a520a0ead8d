"""Outbound calls on the pure simulated PBX: timings, the Python API, repeatability."""

from __future__ import annotations

from cti.ami.protocol import AmiFramer, parse_message
from cti.pbxsim import Callee, Originate, Pbx, PbxConfig


def outbound(pbx: Pbx, number: str = "+79160000000", **changes: object) -> list[dict[str, str]]:
    """Originate PJSIP/1001 into cti-outbound, run the PBX dry; the events it wrote."""
    events: list[bytes] = []
    pbx.emit = events.append
    request = Originate(
        "PJSIP/1001",
        "cti-outbound",
        number,
        caller=(number, "Ivan Petrov"),
        channel_id="cti-out-7",
        variables=[("CTI_ANNOUNCE", ""), ("CTI_OUTBOUND_ID", "7")],
    )
    for key, value in changes.items():
        setattr(request, key, value)
    pbx.originate(request)
    pbx.run()
    return [parse_message(frame) for frame in AmiFramer(expect_banner=False).feed(b"".join(events))]


def varsets(events: list[dict[str, str]]) -> dict[str, str]:
    return {e["Variable"]: e["Value"] for e in events if e["Event"] == "VarSet"}


def test_a_number_not_in_the_registry_answers_after_2_s_and_talks_5_s() -> None:
    pbx = Pbx(PbxConfig.production())
    events = outbound(pbx)
    values = varsets(events)
    # The agent answers after 2 s (production members), 0.1 s after the INVITE: the
    # customer's phone rings 0.1 s after its INVITE, answers 2 s later, talks 5 s.
    assert (values["RINGTIME"], values["RINGTIME_MS"]) == ("0", "100")
    assert (values["ANSWEREDTIME"], values["ANSWEREDTIME_MS"]) == ("7", "7100")
    assert (values["DIALEDTIME"], values["DIALEDTIME_MS"]) == ("9", "9200")
    assert values["DIALSTATUS"] == "ANSWER"
    assert not pbx.calls and not pbx.channels


def test_callees_are_set_from_python_and_outlive_the_pbx_they_were_set_on() -> None:
    config = PbxConfig.production()
    Pbx(config).callees["+79160000000"] = Callee(busy=True)
    pbx = Pbx(config)
    events = outbound(pbx)
    assert [e["DialStatus"] for e in events if e["Event"] == "DialEnd"] == ["ANSWER", "BUSY"]
    assert varsets(events)["DIALSTATUS"] == "BUSY"


def test_the_same_seed_writes_the_same_bytes() -> None:
    runs = []
    for _ in range(2):
        pbx = Pbx(PbxConfig.production(), seed=3)
        runs.append(outbound(pbx, timeout=5.0))
    assert runs[0] == runs[1]
    assert [e["Event"] for e in runs[0]].count("BridgeCreate") == 1


def test_an_agent_who_answers_after_the_timeout_never_gets_the_call() -> None:
    pbx = Pbx(PbxConfig.production())
    events = outbound(pbx, timeout=2.0)
    (response,) = [e for e in events if e["Event"] == "OriginateResponse"]
    assert (response["Response"], response["Reason"]) == ("Failure", "3")
    assert not [e for e in events if e["Event"] == "Newexten" and e["Context"] == "cti-outbound"]
