"""Reports as pure code: ranges and time zones, figures from hand-counted calls, sections, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.reports import export, sections
from cti.reports.exceptions import (
    InvalidRange,
    InvalidReportRequest,
    RangeTooLong,
    UnknownTimeZone,
    UnsupportedServiceLevel,
)
from cti.reports.figures import (
    AgentTally,
    CallTally,
    missed_rings,
    service_level,
    tally_call,
    tally_calls,
    wrapup_seconds,
)
from cti.reports.period import day_range, local_hour, report_range, slot_of, slot_start
from cti.store.reports import decode_cursor, encode_cursor, stale_runs

pytestmark = pytest.mark.unit

END = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def call(outcome: str, wait: float | None = None, talk: float | None = None, **more: Any) -> dict:
    return {"outcome": outcome, "wait_seconds": wait, "talk_seconds": talk, **more}


def saved(seconds_after_end: float) -> dict[str, Any]:
    return {
        "ended_at": END,
        "wrapup": {"at": (END + timedelta(seconds=seconds_after_end)).isoformat()},
    }


CALLS = [
    call("answered", 10, 100, **saved(30)),
    call("answered", 25, 200),
    call("abandoned", 40),
    call("ivr_hangup"),
    call("answered", None, 50, **saved(-20)),  # put through directly; wrapped up mid-call
    call("answered", 5, 60, **saved(7200)),  # wrapped up two hours later: not after-call work
]


# --- figures ---------------------------------------------------------------------------------


def test_figures_of_a_hand_counted_set_of_calls() -> None:
    figures = tally_calls(CALLS).figures(20)
    assert figures == {
        "offered": 6,
        "answered": 4,
        "abandoned": 1,
        "ivr_hangup": 1,
        "unanswered": 0,
        "lost": 0,
        "other": 0,
        "answer_pct": 66.7,
        "abandon_pct": 16.7,
        "service_level_pct": 60.0,  # 10 s, direct, 5 s of 4 answered + 1 abandoned
        "asa_seconds": 13.3,  # (10 + 25 + 5) / 3: the direct call had no wait
        "avg_abandon_seconds": 40.0,
        "max_wait_seconds": 40.0,
        "avg_talk_seconds": 102.5,
        "avg_wrapup_seconds": 15.0,  # 30 s and 0 s; the one two hours later is left out
        "aht_seconds": 110.0,  # (410 s talk + 30 s wrap-up) / 4
        "talk_seconds": 410.0,
    }
    assert tally_calls(CALLS).figures(30)["service_level_pct"] == 80.0


def test_an_empty_group_has_counts_but_no_rates() -> None:
    figures = CallTally().figures()
    assert figures["offered"] == 0
    assert figures["answer_pct"] is None
    assert figures["asa_seconds"] is None
    assert figures["max_wait_seconds"] is None


def test_an_outcome_nobody_knows_counts_as_other() -> None:
    figures = tally_calls([call("self_served"), call("answered", 3, 9)]).figures()
    assert (figures["offered"], figures["answered"], figures["other"]) == (2, 1, 1)


def test_only_the_kept_thresholds_are_accepted() -> None:
    assert service_level(20) == 20
    with pytest.raises(UnsupportedServiceLevel, match="choose one of 5, 10"):
        service_level(21)


@pytest.mark.parametrize(
    ("after", "expected"),
    [(45.5, 45.5), (-3, 0.0), (1800, 1800.0), (1801, None)],
)
def test_wrapup_seconds(after: float, expected: float | None) -> None:
    assert wrapup_seconds(END, {"at": (END + timedelta(seconds=after)).isoformat()}) == expected


@pytest.mark.parametrize(
    "wrapup", [None, {}, {"at": "soon"}, {"at": 3}, {"at": "2026-11-10"}, "resolved"]
)
def test_a_wrapup_without_a_time_is_not_counted(wrapup: Any) -> None:
    assert wrapup_seconds(END, wrapup) is None


def test_missed_rings_are_the_ones_that_rang_out() -> None:
    rings = [
        {"interface": "PJSIP/1002", "outcome": "noanswer"},
        {"interface": "PJSIP/1003", "outcome": "busy"},
        {"interface": "PJSIP/1001", "outcome": "answered"},
        "garbage",
    ]
    assert missed_rings({"rings": rings}) == ["PJSIP/1002"]
    assert missed_rings({"rings": "garbage"}) == []


calls_strategy = st.lists(
    st.builds(
        call,
        st.sampled_from(["answered", "abandoned", "ivr_hangup", "unanswered", "lost", "odd"]),
        st.none() | st.floats(0, 900),
        st.none() | st.floats(0, 7200),
    ),
    max_size=30,
)


@given(calls_strategy, calls_strategy)
def test_tallies_add_up_in_any_grouping(first: list[dict], second: list[dict]) -> None:
    """What lets a report sum 15-minute roll-ups instead of calls."""
    together = tally_calls(first + second)
    apart = tally_calls(first).add(tally_calls(second))
    for threshold in (5, 20, 300):
        assert apart.figures(threshold) == together.figures(threshold)


# --- ranges and time zones ----------------------------------------------------------------------


def test_a_range_of_dates_is_local_midnight_to_midnight() -> None:
    period = report_range("2026-11-10", "2026-11-11", "Europe/Moscow", max_days=92)
    assert period.start.isoformat() == "2026-11-10T00:00:00+03:00"
    assert period.start_utc == datetime(2026, 11, 9, 21, 0, tzinfo=UTC)
    assert period.end_slot - period.first_slot == 96
    assert period.to_dict() == {
        "from": "2026-11-10T00:00:00+03:00",
        "to": "2026-11-11T00:00:00+03:00",
        "tz": "Europe/Moscow",
        "hours": 24.0,
    }
    assert period.file_part() == "2026-11-10"


def test_times_are_widened_to_whole_quarter_hours() -> None:
    period = report_range("2026-11-10T10:07", "2026-11-10T10:08:30+00:00", max_days=1)
    assert period.start.isoformat() == "2026-11-10T10:00:00+00:00"
    assert period.end.isoformat() == "2026-11-10T10:15:00+00:00"
    assert period.file_part() == "2026-11-10T1000--2026-11-10T1015"


def test_an_offset_in_a_bound_wins_over_the_zone() -> None:
    period = report_range("2026-11-10T00:00+03:00", "2026-11-10T06:00", "UTC", max_days=1)
    assert period.start_utc == datetime(2026, 11, 9, 21, 0, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 11, 10, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-11-10", "2026-11-10", InvalidRange),
        ("2026-11-11", "2026-11-10", InvalidRange),
        ("yesterday", "2026-11-10", InvalidRange),
        ("2026-11-10", "2026-13-01", InvalidRange),
        ("0001-01-01", "2026-11-10", InvalidRange),
        ("2026-01-01", "2026-04-04", RangeTooLong),
    ],
)
def test_bad_ranges_are_refused(start: str, end: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        report_range(start, end, "UTC", max_days=92)


def test_the_longest_range_is_allowed_and_says_so_when_exceeded() -> None:
    report_range("2026-01-01", "2026-04-03", "UTC", max_days=92)  # 92 days
    with pytest.raises(RangeTooLong, match="at most 92"):
        report_range("2026-01-01", "2026-04-03T00:15", "UTC", max_days=92)


def test_length_is_counted_on_the_local_clock_across_a_clock_change() -> None:
    period = report_range("2026-10-01", "2026-11-01", "Europe/Berlin", max_days=31)
    assert period.to_dict()["hours"] == 31 * 24 + 1


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "x" * 100])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(UnknownTimeZone):
        report_range("2026-11-10", "2026-11-11", name, max_days=1)


@pytest.mark.parametrize(("day", "hours"), [("2026-10-25", 25), ("2026-03-29", 23)])
def test_a_daylight_saving_day_has_its_real_length(day: str, hours: int) -> None:
    assert day_range(day, "Europe/Berlin", max_days=1).to_dict()["hours"] == hours


def test_a_day_must_be_a_date() -> None:
    with pytest.raises(InvalidRange):
        day_range("2026-11-10T10:00", "UTC", max_days=1)


def test_slots_are_quarter_hours_of_utc() -> None:
    moment = datetime(2026, 11, 10, 10, 14, 59, tzinfo=UTC)
    assert slot_start(slot_of(moment)) == datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: each slot still in one local hour
    assert local_hour(slot_of(datetime(2026, 11, 10, 4, 15, tzinfo=UTC)), kolkata) == 9
    assert local_hour(slot_of(datetime(2026, 11, 10, 4, 30, tzinfo=UTC)), kolkata) == 10


# --- sections ---------------------------------------------------------------------------------


def one(outcome: str = "answered") -> CallTally:
    return tally_call(call(outcome, 10, 60))


def test_hours_follow_the_local_clock_on_the_day_clocks_go_back() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:xx happens twice.
    at = [datetime(2026, 10, 25, h, 30, tzinfo=UTC) for h in (0, 1, 2)]
    slots = [(slot_of(moment), one()) for moment in at]
    report = sections.calls_by_hour(slots, BERLIN)
    offered = [row["offered"] for row in report["rows"]]
    assert len(offered) == 24
    assert offered[2] == 2 and offered[3] == 1 and sum(offered) == 3
    assert report["rows"][2]["label"] == "02:00"
    assert report["series"]["offered"] == offered
    assert report["labels"][0] == "00:00"


def test_the_skipped_hour_stays_empty_on_the_day_clocks_go_forward() -> None:
    # 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    at = [datetime(2026, 3, 29, h, 10, tzinfo=UTC) for h in (0, 1)]
    report = sections.calls_by_hour([(slot_of(m), one()) for m in at], BERLIN)
    offered = [row["offered"] for row in report["rows"]]
    assert offered[1] == 1 and offered[2] == 0 and offered[3] == 1


def test_groups_come_by_volume_with_the_calls_without_one_last() -> None:
    groups = [("support", one()), (None, one()), (None, one()), ("sales", one()), ("sales", one())]
    groups += [("sales", one("abandoned"))]
    report = sections.calls_by("queue", groups)
    assert [row["key"] for row in report["rows"]] == ["sales", "support", None]
    assert [row["label"] for row in report["rows"]] == ["sales", "support", "(no queue)"]
    assert report["rows"][0]["offered"] == 3 and report["rows"][0]["abandoned"] == 1
    assert report["total"]["offered"] == 6
    assert report["series"]["offered"] == [3, 1, 2]


def test_channels_side_by_side() -> None:
    report = sections.channels(
        [("inbound", 7), ("outbound", 2)],
        [("sms", "inbound", 3), ("email", "outbound", 1), ("chat", "inbound", 1)],
    )
    assert [(r["key"], r["inbound"], r["outbound"], r["total"]) for r in report["rows"]] == [
        ("voice", 7, 2, 9),
        ("sms", 3, 0, 3),
        ("email", 0, 1, 1),
        ("chat", 1, 0, 1),
    ]
    assert report["total"] == {"inbound": 11, "outbound": 3, "total": 14}


DIRECTORY = [
    sections.Agent("alice", "Alice Smith", "PJSIP/1001"),
    sections.Agent("bob", "Bob Jones", "pjsip/1002"),
    sections.Agent("sam", "Sam Supervisor", None),
]


def agent_calls(answered: int, talk: float, missed: int = 0) -> AgentTally:
    return AgentTally(answered=answered, talk_sum=talk, talk_n=answered, missed=missed)


def test_agents_join_calls_messages_and_ratings() -> None:
    report = sections.agents(
        [
            ("PJSIP/1001", agent_calls(3, 300)),
            ("PJSIP/1002", agent_calls(1, 50, missed=2)),
            ("SIP/9999", agent_calls(1, 10)),
        ],
        [("alice", "inbound", 4), ("alice", "outbound", 2), ("csat", "outbound", 9)],
        [("alice", 5, 1), ("alice", 3, 1), ("alice", 0, 2), ("bob", 1, 1)],
        DIRECTORY,
    )
    rows = {row["key"]: row for row in report["rows"]}
    assert list(rows) == ["alice", "SIP/9999", "bob"]
    alice = rows["alice"]
    assert (alice["label"], alice["interface"], alice["handled"]) == (
        "Alice Smith",
        "PJSIP/1001",
        3,
    )
    assert (alice["messages_in"], alice["messages_out"]) == (4, 2)
    assert (alice["csat_answered"], alice["csat_average"]) == (2, 4.0)
    assert rows["bob"]["missed"] == 2 and rows["bob"]["username"] == "bob"
    assert rows["SIP/9999"]["username"] is None
    assert report["total"]["handled"] == 5 and report["total"]["messages_out"] == 2


def test_csat_distribution_and_agents() -> None:
    report = sections.csat(
        [("alice", 5, 2), ("alice", 4, 1), ("alice", 0, 3), ("bob", 2, 1)], DIRECTORY
    )
    assert report["total"] == {
        "asked": 7,
        "answered": 4,
        "response_pct": 57.1,
        "average": 4.0,
        "satisfied_pct": 75.0,
        "score_1": 0,
        "score_2": 1,
        "score_3": 0,
        "score_4": 1,
        "score_5": 2,
    }
    assert report["distribution"] == {
        "labels": ["1", "2", "3", "4", "5"],
        "counts": [0, 1, 0, 1, 2],
    }
    assert [row["label"] for row in report["rows"]] == ["Alice Smith", "Bob Jones"]


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+7 916", "'+7 916"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("sales", "sales"),
        (-3, -3),
        (12.5, 12.5),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_defused(value: Any, written: Any) -> None:
    assert export.cell(value) == written


def parse(text: str) -> list[list[str]]:
    assert text.startswith(export.BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(export.BOM))))


def test_a_section_as_csv_reads_back() -> None:
    section = sections.calls_by("queue", [("=cmd", one()), (None, one("abandoned"))])
    rows = parse(export.section_csv(section))
    assert rows[0][:4] == ["queue", "offered", "answered", "abandoned"]
    assert rows[1][:3] == ["'=cmd", "1", "1"]
    assert rows[2][0] == "(no queue)"
    assert rows[3][:4] == ["Total", "2", "1", "1"]
    assert len({len(row) for row in rows}) == 1


def test_the_day_as_csv_is_one_long_table() -> None:
    report = {name: sections.channels([("inbound", 1)], []) for name in export.DAY_SECTIONS}
    rows = parse(export.day_csv(report))
    assert rows[0] == ["section", "group", "figure", "value"]
    assert ["queues", "Voice", "inbound", "1"] in rows
    assert ["csat", "Total", "total", "1"] in rows


# --- store helpers that are pure --------------------------------------------------------------


def test_stale_slots_are_recomputed_an_hour_at_a_time() -> None:
    stale = [("calls", n) for n in (1, 2, 3, 4, 5, 9)] + [("csat", 2)]
    assert stale_runs(stale, 4) == [
        ("calls", 1, 5),
        ("calls", 5, 6),
        ("calls", 9, 10),
        ("csat", 2, 3),
    ]


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    assert decode_cursor(encode_cursor(END, 42)) == (END, 42)
    with pytest.raises(InvalidReportRequest):
        decode_cursor("not-a-cursor")
