"""The simulator writes every event type of the recordings byte for byte as Asterisk 22 did."""

from __future__ import annotations

import pytest

from cti.ami.protocol import AmiFramer, parse_headers
from cti.pbxsim.render import SCHEMAS, render_event
from tests.conftest import SCENARIOS, capture_bytes

pytestmark = pytest.mark.protocol


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_recorded_event_renders_identically(scenario: str) -> None:
    frames = AmiFramer().feed(capture_bytes(scenario))
    seen = set()
    for frame in frames:
        values = parse_headers(frame)
        name = values.get("Event")
        if name is None:
            continue
        assert name in SCHEMAS, f"no schema for {name}"
        assert render_event(name, values) == frame + b"\r\n\r\n", name
        seen.add(name)
    assert {"Newchannel", "Hangup"} <= seen
