"""Reports over real SQLite and PostgreSQL, through the HTTP API: figures, CSV, limits, roles.

The day below (2026-11-10 in Moscow, UTC+3) has hand-counted figures; every call is
stored through ``CallRepository`` and every change reaches the reports through the
database triggers that mark roll-ups stale.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, text

from cti.api.app import create_api
from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.reports.exceptions import ReportTimeout
from cti.reports.figures import tally_calls
from cti.reports.period import day_range
from cti.settings import Settings
from cti.store import migrate
from cti.store.contacts import ContactRepository
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker
from cti.store.models import CallRecord, CsatSurvey, MessageRecord
from cti.store.reports import ReportStore, time_limit
from cti.store.repositories import CallRepository
from tests.integration.test_api import KEY, PASSWORD, FakeLiveCalls, assert_error, client_for

pytestmark = pytest.mark.integration

DATE = "2026-11-10"
MSK = "Europe/Moscow"
T = datetime(2026, 11, 10, 6, 0, tzinfo=UTC).timestamp()  # 09:00 in Moscow


def at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def a_call(linkedid: str, started: float, outcome: str, **more: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "linkedid": linkedid,
        "direction": "inbound",
        "started_at": started,
        "ended_at": started + 300,
        "outcome": outcome,
        "rings": [],
        "transfers": [],
    }
    return {**call, **more}


CALLS = [
    a_call(
        "r1",
        T,
        "answered",
        queue="sales",
        reason="order_status",
        agent="PJSIP/1001",
        wait_seconds=10.0,
        talk_seconds=100.0,
        answered_at=T + 10,
        ended_at=T + 110,
        wrapup={"disposition": "resolved", "by": "agent1", "at": at(T + 140)},
        rings=[
            {"interface": "PJSIP/1002", "outcome": "noanswer"},
            {"interface": "PJSIP/1001", "outcome": "answered"},
        ],
    ),
    a_call("r2", T + 600, "abandoned", queue="sales", reason="complaint", wait_seconds=40.0),
    a_call(
        "r3",
        T + 3600,
        "answered",
        queue="support",
        reason="order_status",
        agent="PJSIP/1002",
        wait_seconds=25.0,
        talk_seconds=200.0,
    ),
    a_call("r4", T + 3700, "ivr_hangup"),
    a_call(
        "r5",
        T + 7200,
        "answered",
        direction="outbound",
        agent="PJSIP/1001",
        talk_seconds=60.0,
    ),
    a_call(  # 23:30 in Moscow: the day's last hour
        "r6",
        datetime(2026, 11, 10, 20, 30, tzinfo=UTC).timestamp(),
        "answered",
        queue="sales",
        agent="PJSIP/1001",
        wait_seconds=5.0,
        talk_seconds=50.0,
    ),
    a_call(  # 00:30 on the 11th in Moscow: another day
        "r7", datetime(2026, 11, 10, 21, 30, tzinfo=UTC).timestamp(), "abandoned", queue="sales"
    ),
    a_call(  # 00:10 on the 10th in Moscow, still the 9th in UTC
        "r8", datetime(2026, 11, 9, 21, 10, tzinfo=UTC).timestamp(), "lost", queue="support"
    ),
]
IN_DAY = [c for c in CALLS if c["linkedid"] not in {"r7"}]
INBOUND = [c for c in IN_DAY if c["direction"] == "inbound"]


class Reports:
    def __init__(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        tokens: dict[str, str],
    ) -> None:
        self.app = app
        self.client = client
        self.sessionmaker = sessionmaker
        self.tokens = tokens

    async def get(self, path: str, as_: str = "supervisor1", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"}
        return await self.client.get(path, params=params, headers=headers)

    async def json(self, path: str, **params: Any) -> dict[str, Any]:
        reply = await self.get(path, **params)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body


@pytest.fixture
async def reports(database_url: str) -> AsyncIterator[Reports]:
    await migrate.upgrade(database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    passwords = Passwords.fast()
    accounts = {f"{role.value}1": role for role in Role}
    for username, role in accounts.items():
        await create_user(
            sessionmaker,
            username=username,
            password=PASSWORD[role],
            role=role,
            display_name=f"{role.value.title()} One",
            agent_interface="PJSIP/1001" if role is Role.AGENT else None,
            passwords=passwords,
        )
    await create_user(
        sessionmaker,
        username="bob",
        password="bob-password",
        role=Role.AGENT,
        display_name="Bob Jones",
        agent_interface="pjsip/1002",  # the calls say PJSIP/1002: matched in any case
        passwords=passwords,
    )
    settings = Settings(secret_key=KEY, demo=False)
    app = create_api(
        settings=settings,
        sessionmaker=sessionmaker,
        live_calls=FakeLiveCalls(),
        passwords=passwords,
    )
    async with client_for(app) as client:
        tokens = {}
        logins = {name: PASSWORD[role] for name, role in accounts.items()} | {"bob": "bob-password"}
        for username, password in logins.items():
            reply = await client.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
            assert reply.status_code == 200, reply.text
            tokens[username] = reply.json()["token"]
        yield Reports(app, client, sessionmaker, tokens)
    await engine.dispose()


async def seed(sessionmaker: Sessionmaker) -> None:
    """The hand-counted day: calls, messages and CSAT surveys."""
    await CallRepository(sessionmaker).save_many(CALLS)
    contact = await ContactRepository(sessionmaker).create("Ivan Petrov", phones=["+79161234567"])
    day = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)

    def message(n: int, channel: str, direction: str, **who: str) -> MessageRecord:
        return MessageRecord(
            channel=channel,
            direction=direction,
            provider="test",
            provider_id=f"m{n}",
            sender="+79161234567",
            recipient="shop",
            body="Where is my order?",
            status="received" if direction == "inbound" else "sent",
            created_at=day + timedelta(minutes=n),
            **who,
        )

    def survey(n: int, agent: str, score: int | None, sent: datetime) -> CsatSurvey:
        answered = sent + timedelta(minutes=5) if score is not None else None
        return CsatSurvey(
            contact_id=contact,
            agent=agent,
            about=f"call:s{n}",
            channel="sms",
            sent_at=sent,
            score=score,
            answered_at=answered,
        )

    async with sessionmaker.begin() as session:
        session.add_all(
            [
                message(1, "sms", "inbound", assigned_to="agent1"),
                message(2, "sms", "inbound", assigned_to="agent1"),
                message(3, "sms", "outbound", agent="agent1"),
                message(4, "email", "inbound", assigned_to="bob"),
                message(5, "email", "outbound", agent="csat"),
                message(6, "sms", "inbound", assigned_to="agent1"),
            ]
        )
        session.add_all(
            [
                survey(1, "agent1", 5, day),
                survey(2, "agent1", 4, day),
                survey(3, "agent1", None, day),
                survey(4, "bob", 2, day),
                survey(5, "agent1", 1, day - timedelta(days=2)),  # another day
            ]
        )
    async with sessionmaker.begin() as session:  # one message moved to the next day
        await session.execute(
            text("UPDATE messages SET created_at = :later WHERE provider_id = 'm6'").bindparams(
                later=datetime(2026, 11, 12, 8, 0, tzinfo=UTC)
            ),
        )


# --- figures ------------------------------------------------------------------------------------


async def test_the_full_day_report_has_the_hand_counted_figures(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    day = await reports.json("/api/reports/day", date=DATE, tz=MSK)
    assert day["range"] == {
        "from": "2026-11-10T00:00:00+03:00",
        "to": "2026-11-11T00:00:00+03:00",
        "tz": MSK,
        "hours": 24.0,
    }
    summary = day["summary"]
    assert {k: summary[k] for k in ("offered", "answered", "abandoned", "ivr_hangup", "lost")} == {
        "offered": 6,
        "answered": 3,
        "abandoned": 1,
        "ivr_hangup": 1,
        "lost": 1,
    }
    assert summary["answer_pct"] == 50.0
    assert summary["abandon_pct"] == 16.7
    assert summary["service_level_pct"] == 50.0  # 10 s and 5 s of 3 answered + 1 abandoned
    assert summary["asa_seconds"] == 13.3
    assert summary["avg_abandon_seconds"] == 40.0
    assert summary["max_wait_seconds"] == 40.0
    assert summary["avg_talk_seconds"] == 116.7
    assert summary["avg_wrapup_seconds"] == 30.0
    assert summary["aht_seconds"] == 126.7

    queues = day["queues"]
    assert [(r["key"], r["offered"], r["answered"]) for r in queues["rows"]] == [
        ("sales", 3, 2),
        ("support", 2, 1),
        (None, 1, 0),
    ]
    assert queues["labels"] == ["sales", "support", "(no queue)"]
    assert queues["series"]["abandoned"] == [1, 0, 0]

    hours = {r["key"]: r["offered"] for r in day["hours"]["rows"] if r["offered"]}
    assert hours == {0: 1, 9: 2, 10: 2, 23: 1}
    assert len(day["hours"]["rows"]) == 24

    reasons = [(r["label"], r["offered"]) for r in day["reasons"]["rows"]]
    assert reasons == [("order_status", 2), ("complaint", 1), ("(no reason)", 3)]

    channels = {
        r["key"]: (r["inbound"], r["outbound"], r["total"]) for r in day["channels"]["rows"]
    }
    assert channels == {"voice": (6, 1, 7), "sms": (2, 1, 3), "email": (1, 1, 2)}

    agents = {r["key"]: r for r in day["agents"]["rows"]}
    assert list(agents) == ["agent1", "bob"]
    one, bob = agents["agent1"], agents["bob"]
    assert (one["label"], one["handled"], one["outbound"], one["missed"]) == ("Agent One", 3, 1, 0)
    assert (one["talk_seconds"], one["avg_talk_seconds"], one["aht_seconds"]) == (210.0, 70.0, 80.0)
    assert (one["messages_in"], one["messages_out"]) == (2, 1)
    assert (one["csat_answered"], one["csat_average"]) == (2, 4.5)
    assert (bob["handled"], bob["missed"], bob["interface"], bob["aht_seconds"]) == (
        1,
        1,
        "PJSIP/1002",
        200.0,
    )
    assert (bob["messages_in"], bob["csat_average"]) == (1, 2.0)

    csat = day["csat"]
    assert csat["total"]["asked"] == 4 and csat["total"]["answered"] == 3
    assert (csat["total"]["response_pct"], csat["total"]["average"]) == (75.0, 3.67)
    assert csat["total"]["satisfied_pct"] == 66.7
    assert csat["distribution"]["counts"] == [0, 1, 0, 1, 1]


async def test_the_sql_roll_ups_agree_with_the_python_definitions(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    for tz in (MSK, "UTC", "Asia/Kolkata"):
        period = day_range(DATE, tz, max_days=1)
        inside = [
            c
            for c in CALLS
            if period.start_utc.timestamp() <= c["started_at"] < period.end_utc.timestamp()
        ]
        inbound = [c for c in inside if c["direction"] == "inbound"]
        for sl in (5, 20, 300):
            got = await reports.json(
                "/api/reports/calls", **{"from": DATE, "to": "2026-11-11"}, tz=tz, sl=sl
            )
            assert got["total"] == tally_calls(inbound).figures(sl), (tz, sl)
            by_queue = {r["key"]: r for r in got["rows"]}
            for queue in {c.get("queue") for c in inbound}:
                mine = [c for c in inbound if c.get("queue") == queue]
                expected = {k: v for k, v in tally_calls(mine).figures(sl).items()}
                assert {k: by_queue[queue][k] for k in expected} == expected


async def test_other_reports_by_hour_reason_channel_agents_and_csat(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    span = {"from": DATE, "to": "2026-11-11", "tz": MSK}
    hours = await reports.json("/api/reports/calls", by="hour", **span)
    assert hours["by"] == "hour" and hours["direction"] == "inbound"
    assert hours["series"]["offered"][9] == 2
    everything = await reports.json("/api/reports/calls", by="hour", direction="all", **span)
    assert everything["series"]["offered"][11] == 1  # the outbound call at 11:00
    outbound = await reports.json("/api/reports/calls", direction="outbound", **span)
    assert outbound["total"]["offered"] == 1
    reasons = await reports.json("/api/reports/calls", by="reason", **span)
    assert reasons["rows"][0]["key"] == "order_status"
    channel = await reports.json("/api/reports/calls", by="channel", **span)
    assert channel["total"] == {"inbound": 9, "outbound": 3, "total": 12}
    agents = await reports.json("/api/reports/agents", **span)
    assert [r["key"] for r in agents["rows"]] == ["agent1", "bob"]
    assert agents["report"] == "agents" and agents["range"]["tz"] == MSK
    csat = await reports.json("/api/reports/csat", **span)
    assert [(r["key"], r["asked"], r["average"]) for r in csat["rows"]] == [
        ("agent1", 3, 4.5),
        ("bob", 1, 2.0),
    ]
    week = await reports.json("/api/reports/csat", **{"from": "2026-11-05", "to": "2026-11-12"})
    assert week["total"]["asked"] == 5


async def test_late_changes_reach_the_next_report(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    before = (await reports.json("/api/reports/day", date=DATE, tz=MSK))["summary"]
    assert before["avg_wrapup_seconds"] == 30.0
    calls = CallRepository(reports.sessionmaker)
    assert await calls.annotate(
        "r3", "wrapup", {"disposition": "resolved", "at": at(T + 3600 + 300 + 90)}
    )
    await calls.save_many(
        [
            {
                **CALLS[1],
                "outcome": "answered",
                "agent": "PJSIP/1001",
                "talk_seconds": 20.0,
                "wait_seconds": 12.0,
            }
        ]
    )
    async with reports.sessionmaker.begin() as session:
        await session.execute(delete(CallRecord).where(CallRecord.linkedid == "r4"))
    after = (await reports.json("/api/reports/day", date=DATE, tz=MSK))["summary"]
    assert (after["offered"], after["answered"], after["abandoned"], after["ivr_hangup"]) == (
        5,
        4,
        0,
        0,
    )
    assert after["avg_wrapup_seconds"] == 60.0  # 30 s and 90 s
    assert after["service_level_pct"] == 75.0  # 10, 12 and 5 s of 4 answered


async def test_a_call_with_an_unreadable_wrapup_still_counts(reports: Reports) -> None:
    bad = a_call(
        "bad",
        T,
        "answered",
        queue="sales",
        agent="PJSIP/1001",
        talk_seconds=30.0,
        wrapup={"at": "2026-02-30T10:00:00+00:00"},
        rings=[{"interface": "PJSIP/1002", "outcome": "noanswer"}],
    )
    await CallRepository(reports.sessionmaker).save_many([bad])
    day = await reports.json("/api/reports/day", date=DATE, tz=MSK)
    assert (day["summary"]["offered"], day["summary"]["answered"]) == (1, 1)
    assert day["summary"]["avg_talk_seconds"] == 30.0


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(reply: httpx.Response) -> list[list[str]]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))


async def test_reports_as_csv_files(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    await CallRepository(reports.sessionmaker).save_many(
        [
            a_call(
                "evil",
                T + 900,
                "abandoned",
                queue='=HYPERLINK("http://evil")',
                reason="-1+1",
                wait_seconds=3.0,
            )
        ]
    )
    span = {"from": DATE, "to": "2026-11-11", "tz": MSK, "format": "csv"}
    reply = await reports.get("/api/reports/calls", **span)
    assert (
        reply.headers["content-disposition"]
        == 'attachment; filename="calls-by-queue-2026-11-10.csv"'
    )
    rows = read_csv(reply)
    header = rows[0]
    assert header[:4] == ["queue", "offered", "answered", "abandoned"]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert table["sales"]["offered"] == "3" and table["sales"]["service_level_pct"] == "66.7"
    assert table['\'=HYPERLINK("http://evil")']["abandoned"] == "1"
    assert table["(no queue)"]["answer_pct"] == "0.0"
    assert table["Total"]["offered"] == "7"
    assert table["support"]["avg_wrapup_seconds"] == ""  # nothing to average

    reasons = read_csv(await reports.get("/api/reports/calls", by="reason", **span))
    assert "'-1+1" in {row[0] for row in reasons}
    agents = read_csv(await reports.get("/api/reports/agents", **span))
    assert agents[0][:4] == ["agent", "username", "interface", "handled"]
    assert agents[1][:4] == ["Agent One", "agent1", "PJSIP/1001", "3"]
    assert read_csv(await reports.get("/api/reports/csat", **span))[-1][:3] == ["Total", "4", "3"]

    reply = await reports.get("/api/reports/day", date=DATE, tz=MSK, format="csv")
    assert reply.headers["content-disposition"] == 'attachment; filename="day-2026-11-10.csv"'
    day = read_csv(reply)
    assert day[0] == ["section", "group", "figure", "value"]
    assert ["queues", "sales", "offered", "3"] in day
    assert ["agents", "Bob Jones", "missed", "1"] in day
    assert ["channels", "Total", "total", "13"] in day


# --- drill-down ---------------------------------------------------------------------------------


async def test_the_calls_behind_a_figure_come_a_page_at_a_time(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    span = {"from": DATE, "to": "2026-11-11", "tz": MSK}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {**span, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await reports.json("/api/reports/calls/list", **params)
        seen += [c["linkedid"] for c in page["calls"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["r8", "r1", "r2", "r3", "r4", "r5", "r6"]
    first = (await reports.json("/api/reports/calls/list", **span, limit=1))["calls"][0]
    assert first["started_at"] == "2026-11-10T00:10:00+03:00"
    sales = await reports.json("/api/reports/calls/list", **span, queue="sales", outcome="answered")
    assert [c["linkedid"] for c in sales["calls"]] == ["r1", "r6"]
    none = await reports.json("/api/reports/calls/list", **span, queue="", direction="inbound")
    assert [c["linkedid"] for c in none["calls"]] == ["r4"]
    reply = await reports.get("/api/reports/calls/list", **span, cursor="bm90LWEtY3Vyc29y")
    assert_error(reply, 422, "report.invalid")


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error_id", "words"),
    [
        ({"from": "2026-11-11", "to": "2026-11-10"}, "report.invalid_range", "later than"),
        ({"from": "2026-11-10", "to": "2026-11-10"}, "report.invalid_range", "later than"),
        ({"from": "last week", "to": "2026-11-10"}, "report.invalid_range", "ISO date"),
        ({"from": "2025-01-01", "to": "2026-11-10"}, "report.range_too_long", "at most 92"),
        (
            {"from": "2026-11-10", "to": "2026-11-11", "tz": "Moon/Base"},
            "report.invalid_timezone",
            "IANA",
        ),
        (
            {"from": "2026-11-10", "to": "2026-11-11", "sl": 21},
            "report.invalid_service_level",
            "one of",
        ),
        ({"to": "2026-11-11"}, "request.invalid", "from"),
        ({"from": "2026-11-10", "to": "2026-11-11", "by": "weather"}, "request.invalid", "by"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    reports: Reports, params: dict[str, Any], error_id: str, words: str
) -> None:
    reply = await reports.get("/api/reports/calls", **params)
    error = assert_error(reply, 422, error_id)
    assert words in error["message"]


async def test_a_day_must_be_a_day(reports: Reports) -> None:
    reply = await reports.get("/api/reports/day", date="2026-11")
    assert_error(reply, 422, "report.invalid_range")


@pytest.mark.parametrize(
    "path",
    ["/api/reports/calls", "/api/reports/agents", "/api/reports/csat", "/api/reports/calls/list"],
)
async def test_agents_may_not_see_reports(reports: Reports, path: str) -> None:
    span = {"from": DATE, "to": "2026-11-11", "format": "csv"}
    for who in ("agent1", "bob"):
        assert_error(await reports.get(path, as_=who, **span), 403, "auth.forbidden")
    assert (await reports.get(path, as_="admin1", **span)).status_code == 200
    assert_error(await reports.get("/api/reports/day", as_="bob", date=DATE), 403, "auth.forbidden")


# --- time limits --------------------------------------------------------------------------------


async def test_a_report_that_runs_out_of_time_is_stopped_with_503(reports: Reports) -> None:
    await seed(reports.sessionmaker)
    reports.app.state.context.settings.reports.timeout = 1e-9
    reply = await reports.get("/api/reports/day", date=DATE)
    assert_error(reply, 503, "report.timeout")
    assert reply.headers["Retry-After"] == "30"


async def test_a_slow_statement_is_interrupted_by_the_database(reports: Reports) -> None:
    slow = {
        "postgresql": "SELECT pg_sleep(5)",
        "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT count(*) FROM n",
    }
    started = asyncio.get_running_loop().time()
    async with reports.sessionmaker() as session:
        dialect = session.get_bind().dialect.name
        with pytest.raises(ReportTimeout):
            async with time_limit(session, 0.2):
                await session.execute(text(slow[dialect]))
        await session.rollback()
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1  # still usable
    assert asyncio.get_running_loop().time() - started < 3


async def test_the_background_roll_up_catches_up(reports: Reports) -> None:
    store = ReportStore(reports.sessionmaker)
    await CallRepository(reports.sessionmaker).save_many(CALLS)
    assert await store.stale()
    task = asyncio.create_task(store.run(0.05))
    try:
        for _ in range(100):
            if not await store.stale():
                break
            await asyncio.sleep(0.05)
        assert await store.stale() == []
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    day = await store.day(day_range(DATE, MSK, max_days=1), 20)
    assert day["summary"]["offered"] == len(INBOUND)
