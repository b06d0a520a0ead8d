"""The agent desktop in a real Chromium: a simulated call rings the agent, the card shows
the right customer and hints before the agent answers, and the wrap-up is saved."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from cti.store.contacts import ContactRepository
from tests.conftest import need_service
from tests.desk import IVAN, PASSWORDS, Desk, desk_settings, running_desk

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CTI_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        need_service("Chromium", f"{CHROMIUM} is not installed (scripts/system-deps.sh)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[Desk]:
    async with running_desk(desk_settings(sqlite_url), speed=5.0) as running:
        yield running


PROBLEMS: dict[int, list[str]] = {}
"""Per page: script errors and Content-Security-Policy refusals (there must be none)."""


def answered_call(desk: Desk, caller: str, digits: str = "1") -> None:
    """A call alice answers at once and stays on for a minute (12 s at this speed).

    ``digits`` are the caller's keys: 1 takes a known caller's offer; a shared number
    gets the menu, where 0 asks for a person.
    """
    plan = desk.sim.plan("answered", caller=caller, name="", digits=digits, talk=60.0)
    plan.rings = (2.0,)
    plan.script.press_delay = 0.3
    desk.sim.place_call(plan=plan)


async def watched_page(browser: Browser) -> Page:
    """A new page whose script errors and CSP refusals are collected in ``PROBLEMS``."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = PROBLEMS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page


async def logged_in(
    browser: Browser, desk: Desk, username: str, *, watching: str | None = None
) -> Page:
    """The desktop logged in as ``username`` (a supervisor may be ``watching`` an agent)."""
    page = await watched_page(browser)
    errors = PROBLEMS[id(page)]
    await page.goto(f"{desk.base}/desktop/" + (f"?agent={watching}" if watching else ""))
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(PASSWORDS[username])
    await page.get_by_test_id("login-submit").click()
    if watching:
        await expect(page.get_by_test_id("connection")).to_have_attribute(
            "data-state", "connected", timeout=10_000
        )
    else:
        await expect(page.get_by_test_id("agent-state")).to_contain_text(
            "Available", timeout=10_000
        )
    assert errors == []
    return page


async def test_a_call_pops_up_before_the_answer_and_the_wrap_up_is_saved(
    browser: Browser, desk: Desk
) -> None:
    page = await logged_in(browser, desk, "alice")
    await expect(page.get_by_test_id("empty-state")).to_be_visible()
    plan = desk.sim.plan("answered", caller=IVAN, name="", digits="1", talk=10.0)
    plan.rings = (12.0,)  # alice answers after 12 s of ringing (2.4 s at this speed)
    plan.script.press_delay = 0.3
    call = desk.sim.place_call(plan=plan)

    ringing = page.locator('[data-testid="call-card"][data-stage="ringing"]')
    await expect(ringing).to_be_visible(timeout=20_000)
    assert not call.done(), "the card is up while the phone still rings"
    await expect(ringing.get_by_test_id("contact-name").first).to_have_text("Ivan Petrov")
    await expect(ringing.get_by_test_id("hints")).to_contain_text("offer delivery")
    await expect(ringing.get_by_test_id("reason")).to_contain_text("Delivery")
    await expect(page.get_by_test_id("agent-state")).not_to_contain_text("Logged out")

    ended = page.locator('[data-testid="call-card"][data-stage="ended"]')
    await expect(ended).to_be_visible(timeout=30_000)
    assert (await call).outcome == "answered"
    form = page.get_by_test_id("wrapup-form")
    await form.get_by_test_id("wrapup-disposition").select_option("sale")
    await form.get_by_test_id("wrapup-notes").fill("Delivery booked for Friday")
    await form.get_by_test_id("wrapup-save").click()
    await expect(page.get_by_test_id("call-card")).to_have_count(0, timeout=10_000)
    await expect(page.get_by_test_id("empty-state")).to_be_visible()

    entries = await ContactRepository(desk.runtime.sessionmaker).timeline(1, 5)
    assert entries is not None
    saved = [e for e in entries if e["agent"] == "alice"]
    assert saved and (saved[0]["outcome"], saved[0]["summary"]) == (
        "sale",
        "Delivery booked for Friday",
    )
    assert PROBLEMS[id(page)] == []
    headers = (await page.request.get(f"{desk.base}/desktop/")).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    shared = await page.request.get(f"{desk.base}/shared/session.js")  # both pages load it
    assert shared.ok and "javascript" in shared.headers["content-type"]
    assert shared.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in shared.headers["content-security-policy"]


async def test_the_screen_says_when_the_connection_drops_and_comes_back(
    browser: Browser, desk: Desk
) -> None:
    page = await logged_in(browser, desk, "alice")
    connection = page.get_by_test_id("connection")
    await expect(connection).to_have_attribute("data-state", "connected")
    await desk.runtime.hub.close()  # every screen on this process is told: going away
    await expect(connection).not_to_have_attribute("data-state", "connected", timeout=5_000)
    await desk.runtime.hub.start()
    await expect(connection).to_have_attribute("data-state", "connected", timeout=20_000)


async def test_a_wrong_password_is_said_plainly(browser: Browser, desk: Desk) -> None:
    page = await browser.new_page()
    await page.goto(f"{desk.base}/desktop/")
    await page.get_by_test_id("login-username").fill("alice")
    await page.get_by_test_id("login-password").fill("not her password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("login-error")).to_be_visible()
    await expect(page.get_by_test_id("login-error")).not_to_be_empty()


async def test_a_message_given_to_the_agent_shows_up_on_their_screen(
    browser: Browser, desk: Desk
) -> None:
    from cti.messaging.sms import InboundSms

    page = await logged_in(browser, desk, "alice")
    sms = InboundSms("generic", "b-1", IVAN, "+74950000000", "Can you deliver on Friday?")
    await desk.runtime.messaging.receive_sms(sms)
    toast = page.get_by_test_id("toast").filter(has_text="SMS for you")
    await expect(toast).to_contain_text("Can you deliver on Friday?", timeout=10_000)
    assert PROBLEMS[id(page)] == []
