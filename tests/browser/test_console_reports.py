"""The console's Reports tab in a real Chromium: a supervisor reads today's figures drawn
from calls stored straight in the database, downloads CSV files under the page's CSP,
opens the calls behind a queue or a reason a page at a time, and is shown the API's
message when a report cannot be given.

The browser runs in Asia/Kolkata (UTC+05:30, a zone a whole number of quarter hours
from UTC but not of hours), so "today" and the hours of the day are the page's own.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from cti.reports.exceptions import ReportTimeout
from cti.store.contacts import ContactRepository
from cti.store.models import CsatSurvey
from cti.store.reports import ReportStore
from cti.store.repositories import CallRepository
from tests.browser import test_desktop as desktop
from tests.desk import PASSWORDS, Desk

pytestmark = pytest.mark.browser

browser = desktop.browser
desk = desktop.desk
PROBLEMS = desktop.PROBLEMS

TZ = "Asia/Kolkata"


def today() -> date:
    return datetime.now(ZoneInfo(TZ)).date()


def local(day: date, hour: int, minute: int, second: int = 0) -> float:
    """Seconds since the epoch of a time of ``day`` on the clocks of ``TZ``."""
    return datetime.combine(day, time(hour, minute, second), ZoneInfo(TZ)).timestamp()


def a_call(
    linkedid: str,
    started: float,
    outcome: str,
    *,
    wait: float | None = None,
    talk: float | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A finished call as the call tracker stores it."""
    answered = outcome == "answered"
    return {
        "linkedid": linkedid,
        "direction": "inbound",
        "caller_num": "+15550100" + linkedid[-3:].rjust(3, "0"),
        "started_at": started,
        "answered_at": started + (wait or 0) if answered else None,
        "ended_at": started + (wait or 0) + (talk or 0) + 1,
        "outcome": outcome,
        "wait_seconds": wait,
        "talk_seconds": talk if answered else None,
        "rings": [],
        "transfers": [],
        **more,
    }


def seeded(day: date) -> list[dict[str, Any]]:
    """Today: six inbound calls (3 answered, 2 abandoned, 1 hung up in the IVR), one
    outbound call, and one call of yesterday that must not count."""
    return [
        a_call(
            "rp1",
            local(day, 9, 5),
            "answered",
            wait=8,
            talk=120,
            queue="sales",
            reason="order_status",
            agent="PJSIP/1001",
            agent_name="Alice",
        ),
        a_call(
            "rp2",
            local(day, 9, 20),
            "answered",
            wait=30,
            talk=60,
            queue="sales",
            reason="order_status",
            agent="PJSIP/1002",
            agent_name="Bob",
        ),
        a_call("rp3", local(day, 9, 40), "abandoned", wait=45, queue="sales", reason="complaint"),
        a_call(
            "rp4",
            local(day, 11, 10),
            "answered",
            wait=5,
            talk=200,
            queue="support",
            reason="complaint",
            agent="PJSIP/1002",
            agent_name="Bob",
        ),
        a_call("rp5", local(day, 11, 30), "abandoned", wait=12, queue="support"),
        a_call("rp6", local(day, 14, 0), "ivr_hangup"),
        a_call(
            "rp7",
            local(day, 15, 0),
            "answered",
            talk=60,
            direction="outbound",
            agent="PJSIP/1001",
            agent_name="Alice",
        ),
        a_call(
            "rp8",
            local(day - timedelta(days=1), 23, 50),
            "answered",
            wait=3,
            talk=30,
            queue="sales",
            agent="PJSIP/1001",
        ),
    ]


async def seed(desk: Desk, extra: list[dict[str, Any]] | None = None) -> date:
    """Store today's calls and two answered surveys for alice (5 and 4)."""
    day = today()
    sessionmaker = desk.runtime.sessionmaker
    await CallRepository(sessionmaker).save_many([*seeded(day), *(extra or [])])
    contact = await ContactRepository(sessionmaker).create("Report Tester", phones=["+79035550199"])
    sent = datetime.fromtimestamp(local(day, 10, 0), ZoneInfo("UTC"))
    async with sessionmaker.begin() as session:
        session.add_all(
            [
                CsatSurvey(
                    contact_id=contact,
                    agent="alice",
                    about=f"call:rp{n}",
                    channel="sms",
                    sent_at=sent,
                    score=score,
                    answered_at=sent + timedelta(minutes=2),
                )
                for n, score in ((1, 5), (7, 4))
            ]
        )
    return day


async def reports_page(browser: Browser, desk: Desk) -> Page:
    """The console in ``TZ``, sam signed in, the Reports tab open.

    ``desktop.watched_page`` with a time zone: script errors and CSP refusals go to
    ``PROBLEMS`` the same way."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, timezone_id=TZ)
    errors = PROBLEMS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    await page.goto(f"{desk.base}/console/")
    await page.get_by_test_id("login-username").fill("sam")
    await page.get_by_test_id("login-password").fill(PASSWORDS["sam"])
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("user-name")).to_have_text("Sam")
    await page.get_by_test_id("tab-reports").click()
    await expect(page).to_have_url(f"{desk.base}/console/#reports")
    return page


def summary(page: Page, figure: str) -> Any:
    return page.get_by_test_id(f"reports-summary-{figure}")


async def test_a_supervisor_reads_todays_figures_and_charts(browser: Browser, desk: Desk) -> None:
    day = await seed(desk)
    page = await reports_page(browser, desk)
    await expect(page.get_by_test_id("reports-date")).to_have_value(day.isoformat())
    # the browser's own name for its zone (Chromium's ICU still says Asia/Calcutta)
    browser_zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert browser_zone in {TZ, "Asia/Calcutta"}
    await expect(page.get_by_test_id("reports-tz")).to_have_value(browser_zone)
    await expect(page.get_by_test_id("reports-sl")).to_have_value("20")

    await expect(summary(page, "offered")).to_have_text("6")
    await expect(summary(page, "answered")).to_have_text("3")
    await expect(summary(page, "abandoned")).to_have_text("2")
    await expect(summary(page, "sl")).to_have_text("40.0%")  # 8 s and 5 s of 3 + 2
    await expect(summary(page, "asa")).to_have_text("0:14")  # (8 + 30 + 5) / 3
    await expect(summary(page, "aht")).to_have_text("2:06")  # (120 + 60 + 200) / 3
    await expect(summary(page, "csat")).to_have_text("4.50")
    await expect(page.get_by_test_id("reports-empty")).to_be_hidden()

    hours = page.get_by_test_id("reports-hours-chart")
    await expect(hours).to_have_attribute("role", "img")
    await expect(hours.locator("title").first).to_contain_text(f"Inbound calls by hour, {day}")
    await expect(hours.locator("desc")).to_contain_text("busiest hour is 09:00 with 3 calls")
    bars = hours.locator("rect.rp-bar")
    await expect(bars).to_have_count(5)  # 09 and 11: answered, abandoned; 14: other
    await expect(
        hours.locator('rect[data-label="09:00"][data-series="answered"] title')
    ).to_have_text("09:00: 2 answered")
    await expect(
        hours.locator('rect[data-label="09:00"][data-series="abandoned"] title')
    ).to_have_text("09:00: 1 abandoned")
    await expect(hours.locator('rect[data-label="14:00"][data-series="other"] title')).to_have_text(
        "14:00: 1 other"
    )
    heights = await bars.evaluate_all("bars => bars.map(b => Number(b.getAttribute('height')))")
    assert all(h > 0 for h in heights), heights

    queues = page.get_by_test_id("reports-queue-row")
    await expect(queues).to_have_count(3)
    assert [await row.get_attribute("data-key") for row in await queues.all()] == [
        "sales",
        "support",
        "",
    ]
    sales = queues.and_(page.locator('[data-key="sales"]'))
    await expect(sales.locator("td").nth(0)).to_have_text("3")  # offered
    await expect(page.get_by_test_id("reports-queue-total").locator("td").nth(0)).to_have_text("6")
    await expect(page.get_by_test_id("reports-queues-chart").locator("rect.rp-bar")).to_have_count(
        5  # sales: answered, abandoned; support: answered, abandoned; (no queue): other
    )
    await expect(page.get_by_test_id("reports-reason-row")).to_have_count(3)
    await expect(page.get_by_test_id("reports-channel-row").first).to_contain_text("Voice")
    await expect(
        page.get_by_test_id("reports-channels-chart").locator(
            'rect[data-label="Voice"][data-series="outbound"] title'
        )
    ).to_have_text("Voice: 1 outbound")

    agents = page.get_by_test_id("reports-agent-row")
    alice = agents.and_(page.locator('[data-key="alice"]'))
    bob = agents.and_(page.locator('[data-key="bob"]'))
    await expect(alice.get_by_test_id("reports-agent-handled")).to_have_text("2")  # one outbound
    await expect(bob.get_by_test_id("reports-agent-handled")).to_have_text("2")
    await expect(alice.get_by_test_id("reports-agent-csat")).to_have_text("4.50 (2)")
    await expect(bob.get_by_test_id("reports-agent-aht")).to_have_text("2:10")  # (60 + 200) / 2
    csat = page.get_by_test_id("reports-csat-chart")
    await expect(csat.locator('rect[data-label="5"] title')).to_have_text("5: 1 rating")
    await expect(csat.locator("rect.rp-bar")).to_have_count(2)

    await page.get_by_test_id("reports-sl").select_option("30")  # rp2 waited 30 s
    await expect(summary(page, "sl")).to_have_text("60.0%")
    await expect(summary(page, "sl-sub")).to_have_text("answered within 30 s")

    await page.get_by_test_id("reports-prev").click()  # yesterday: only rp8
    await expect(page.get_by_test_id("reports-date")).to_have_value(
        (day - timedelta(days=1)).isoformat()
    )
    await expect(summary(page, "offered")).to_have_text("1")
    await page.get_by_test_id("reports-next").click()
    await expect(summary(page, "offered")).to_have_text("6")
    assert PROBLEMS[id(page)] == []


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


async def test_csv_files_download_with_the_token_under_the_csp(
    browser: Browser, desk: Desk
) -> None:
    day = await seed(desk)
    page = await reports_page(browser, desk)
    await expect(summary(page, "offered")).to_have_text("6")
    requests: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: requests.append(request.headers) if "format=csv" in request.url else None,
    )

    async with page.expect_download() as downloading:
        await page.get_by_test_id("reports-csv-day").click()
    download = await downloading.value
    assert download.suggested_filename == f"day-{day}.csv"
    assert download.url.startswith("blob:")
    assert await download.failure() is None
    rows = read_csv(Path(await download.path()))
    assert rows[0] == ["section", "group", "figure", "value"]
    assert ["queues", "sales", "offered", "3"] in rows
    assert ["queues", "support", "abandoned", "1"] in rows
    assert ["hours", "09:00", "answered", "2"] in rows
    assert ["queues", "Total", "offered", "6"] in rows
    assert requests and requests[0].get("authorization", "").startswith("Bearer ")

    async with page.expect_download() as downloading:
        await page.get_by_test_id("reports-queues").get_by_test_id("reports-csv-queues").click()
    download = await downloading.value
    assert download.suggested_filename == f"calls-by-queue-{day}.csv"
    table = read_csv(Path(await download.path()))
    header, body = table[0], {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
    assert header[:3] == ["queue", "offered", "answered"]
    assert body["sales"]["offered"] == "3" and body["sales"]["abandoned"] == "1"
    assert body["Total"]["offered"] == "6"

    async with page.expect_download() as downloading:
        await page.get_by_test_id("reports-csv-agents").click()
    download = await downloading.value
    assert download.suggested_filename == f"agents-{day}.csv"
    agents = read_csv(Path(await download.path()))
    assert agents[0][:3] == ["agent", "username", "interface"]
    assert any(row[:2] == ["Alice", "alice"] for row in agents)
    await expect(page.get_by_test_id("reports-csv-day")).to_be_enabled()
    await expect(page.get_by_test_id("toast")).to_have_count(0)
    assert PROBLEMS[id(page)] == []


async def test_a_queue_or_reason_opens_its_calls_a_page_at_a_time(
    browser: Browser, desk: Desk
) -> None:
    day = today()
    billing = [  # 52 answered calls from 16:00, 30 s apart: more than a page (50)
        a_call(
            f"bill{n:03d}",
            local(day, 16, 0) + 30 * n,
            "answered",
            wait=2,
            talk=20,
            queue="billing",
            agent="PJSIP/1002",
        )
        for n in range(52)
    ]
    assert await seed(desk, billing) == day
    page = await reports_page(browser, desk)
    await expect(summary(page, "offered")).to_have_text("58")
    drill, rows = page.get_by_test_id("reports-drill"), page.get_by_test_id("reports-drill-row")
    more = page.get_by_test_id("reports-drill-more")

    await page.locator('[data-testid="reports-queue-row"][data-key="sales"]').click()
    await expect(drill).to_be_visible()
    await expect(page.get_by_test_id("reports-drill-title")).to_contain_text("in queue sales")
    await expect(page.get_by_test_id("reports-drill-title")).to_contain_text(day.isoformat())
    await expect(rows).to_have_count(3)
    assert [await r.get_attribute("data-linkedid") for r in await rows.all()] == [
        "rp1",
        "rp2",
        "rp3",
    ]
    await expect(rows.nth(0).locator("td").nth(0)).to_have_text("09:05:00")  # on TZ's clock
    await expect(rows.nth(2)).to_contain_text("Abandoned")
    await expect(more).to_be_hidden()
    await expect(page.get_by_test_id("reports-drill-count")).to_have_text(
        "3 calls shown, all of them"
    )

    await page.locator('[data-testid="reports-queue-row"][data-key="billing"]').click()
    await expect(page.get_by_test_id("reports-drill-title")).to_contain_text("in queue billing")
    await expect(rows).to_have_count(50)
    await expect(more).to_be_visible()
    await more.click()
    await expect(rows).to_have_count(52)
    await expect(more).to_be_hidden()
    assert await rows.nth(51).get_attribute("data-linkedid") == "bill051"

    await page.locator('[data-testid="reports-queue-row"][data-key=""]').click()  # no queue
    await expect(page.get_by_test_id("reports-drill-title")).to_contain_text("without a queue")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-linkedid", "rp6")
    await expect(rows.first).to_contain_text("Hung up in the IVR")

    complaint = page.locator('[data-testid="reports-reason-row"][data-key="complaint"]')
    await complaint.get_by_test_id("reports-reason-open").press("Enter")  # by keyboard too
    await expect(page.get_by_test_id("reports-drill-title")).to_contain_text("reason complaint")
    await expect(rows).to_have_count(2)
    assert [await r.get_attribute("data-linkedid") for r in await rows.all()] == ["rp3", "rp4"]
    # the list sits under the section it was opened from
    assert (
        await page.get_by_test_id("reports-reasons").evaluate(
            "box => box.nextElementSibling && box.nextElementSibling.dataset.testid"
        )
        == "reports-drill"
    )

    await page.get_by_test_id("reports-drill-close").click()
    await expect(drill).to_be_hidden()
    assert PROBLEMS[id(page)] == []


async def test_the_apis_message_is_shown_when_a_report_cannot_be_given(
    browser: Browser, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = await seed(desk)
    page = await reports_page(browser, desk)
    await expect(summary(page, "offered")).to_have_text("6")
    error, results = page.get_by_test_id("reports-error"), page.get_by_test_id("reports-results")

    await page.get_by_test_id("reports-tz").fill("Mars/Olympus_Mons")
    await page.get_by_test_id("reports-show").click()
    await expect(error).to_contain_text("Unknown time zone 'Mars/Olympus_Mons'")
    await expect(error).to_contain_text("IANA name")
    await expect(results).to_be_hidden()
    await expect(page.get_by_test_id("reports-csv-day")).to_be_disabled()
    await expect(page.get_by_test_id("reports-retry")).to_be_hidden()

    await page.get_by_test_id("reports-tz").fill(TZ)
    await page.get_by_test_id("reports-date").fill("9999-12-31")  # a date the API refuses
    await page.get_by_test_id("reports-show").click()
    await expect(error).to_contain_text("'date' must lie between 1970 and 9998")
    await expect(results).to_be_hidden()

    async def too_slow(*_: Any, **__: Any) -> Any:
        raise ReportTimeout("The report took longer than allowed (CTI_REPORTS_TIMEOUT).")

    monkeypatch.setattr(ReportStore, "day", too_slow)  # the server runs in this process
    await page.get_by_test_id("reports-date").fill(day.isoformat())
    await page.get_by_test_id("reports-show").click()
    await expect(error).to_contain_text("took longer than allowed")
    await expect(page.get_by_test_id("reports-retry")).to_be_visible()
    monkeypatch.undo()
    await page.get_by_test_id("reports-retry").click()
    await expect(error).to_be_hidden()
    await expect(results).to_be_visible()
    await expect(summary(page, "offered")).to_have_text("6")
    assert PROBLEMS[id(page)] == []
