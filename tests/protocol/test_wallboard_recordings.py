"""The wallboard's figures, folded from the recorded events, equal Asterisk's own read-backs.

The recordings were made one after another on one Asterisk (see tests/captures/README.md),
so its queue counters run on from one to the next: replayed in the order they were made,
every ``QueueParams`` and ``QueueSummary`` Asterisk sent must equal what the wallboard
computed from the events before it.
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.ami.protocol import AmiFramer, parse_message
from cti.supervision.figures import Wallboard
from tests.conftest import capture_bytes

RECORDED_IN_ORDER = ("answered", "abandoned", "ringnoanswer", "burst30", "hangup-in-ivr")
"""By their channels' ``Uniqueid`` (creation time)."""


def test_every_read_back_equals_the_folded_figures() -> None:
    board = Wallboard(default_servicelevel=0)
    read_back: dict[str, list[Mapping[str, str]]] = {}
    compared: list[tuple[str, str, str]] = []
    now = 1795403600.0
    for scenario in RECORDED_IN_ORDER:
        for raw in AmiFramer().feed(capture_bytes(scenario)):
            msg = parse_message(raw)
            if msg is None:
                continue
            now += 0.001
            kind = msg.get("Event", "")
            if kind in ("QueueParams", "QueueMember", "QueueEntry"):
                read_back.setdefault(kind, []).append(msg)
            if kind == "QueueParams":
                ours = board.queue_params(msg["Queue"])
                assert ours == {f: msg[f] for f in ours}, (scenario, msg["Queue"])
                compared.append((scenario, kind, msg["Queue"]))
            elif kind == "QueueSummary":
                ours = board.queue_summary(msg["Queue"], now)
                assert ours == {f: msg[f] for f in ours}, (scenario, msg["Queue"])
                compared.append((scenario, kind, msg["Queue"]))
            elif kind == "QueueStatusComplete":
                board.on_snapshot(
                    read_back.get("QueueParams", []),
                    read_back.get("QueueMember", []),
                    read_back.get("QueueEntry", []),
                    now,
                )
                read_back.clear()
            elif kind not in ("QueueMember", "QueueEntry"):
                board.on_event(msg, now)
    assert len(compared) == 20
    assert {s for s, _, _ in compared} == set(RECORDED_IN_ORDER)
    sales = board.queue_params("sales")
    assert int(sales["Completed"]) > 1 and int(sales["Abandoned"]) > 0
    assert board.queue("sales").abandoned_calls[0].caller_num.startswith("+7916100")


def test_the_burst_counts_only_each_members_latest_call() -> None:
    """With ``ringinuse`` a member takes a second call before the first ends; app_queue
    counts one completion per member start time, and so does the wallboard."""
    board = Wallboard(default_servicelevel=0)
    completes = 0
    for raw in AmiFramer().feed(capture_bytes("burst30")):
        msg = parse_message(raw)
        if msg is not None:
            completes += msg.get("Event") == "AgentComplete"
            board.on_event(msg, 0.0)
    assert board.queue("sales").completed < completes
