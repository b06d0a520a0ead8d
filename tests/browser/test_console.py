"""The supervisors' console in a real Chromium: the wallboard follows a call live, a
supervisor pauses an agent from it, routing is simulated, an admin reads the audit log
and checks a rule, and an agent is sent back to the desktop without seeing any data."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser import test_desktop as desktop
from tests.desk import IVAN, PASSWORDS, Desk, add_admin

pytestmark = pytest.mark.browser

browser = desktop.browser
desk = desktop.desk
PROBLEMS = desktop.PROBLEMS
PASSWORDS.setdefault("ada", "ada-password")


async def console(browser: Browser, desk: Desk, username: str) -> Page:
    """The console logged in as ``username`` (its display name is the capitalised one)."""
    page = await desktop.watched_page(browser)
    await page.goto(f"{desk.base}/console/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(PASSWORDS[username])
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("user-name")).to_have_text(username.capitalize())
    return page


def agent_row(page: Page, username: str) -> Locator:
    return page.locator(f'[data-testid="agent-row"][data-agent="{username}"]')


async def test_the_wallboard_follows_a_call_and_a_supervisor_pauses_an_agent(
    browser: Browser, desk: Desk
) -> None:
    page = await console(browser, desk, "sam")
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
    sales = page.locator('[data-testid="queue-row"][data-queue="sales"]')
    await expect(sales.get_by_test_id("q-answered")).to_have_text("0")
    await expect(sales.get_by_test_id("q-sl")).to_have_text("—")
    alice, bob = agent_row(page, "alice"), agent_row(page, "bob")
    await expect(alice.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")
    await expect(alice.get_by_test_id("spy-listen")).to_have_count(0)  # not on a call

    await alice.get_by_test_id("agent-pause").click()
    dialog = page.get_by_test_id("pause-dialog")
    await dialog.get_by_test_id("pause-reason").fill("coaching")
    await dialog.get_by_test_id("pause-submit").click()
    await expect(dialog).to_be_hidden()
    await expect(alice.get_by_test_id("agent-state")).to_have_attribute("data-state", "paused")
    await expect(alice.get_by_test_id("agent-pause-reason")).to_have_text("coaching")
    await expect(alice.get_by_test_id("agent-unpause")).to_be_visible()

    call = desk.call(IVAN, digits="1", talk=30.0)  # alice paused: the sales queue rings bob
    await expect(bob.get_by_test_id("agent-state")).to_have_attribute(
        "data-state", "on_call", timeout=20_000
    )
    await bob.get_by_test_id("spy-listen").click()  # sam has no phone to ring
    no_phone = page.get_by_test_id("toast").filter(has_text="no phone")
    await expect(no_phone).to_be_visible()
    await expect(sales.get_by_test_id("q-answered")).to_have_text("1", timeout=20_000)
    await expect(sales.get_by_test_id("q-sl")).to_have_text("100.0%")
    await expect(bob.get_by_test_id("agent-handled")).to_have_text("1")
    assert (await call).outcome == "answered"
    assert PROBLEMS[id(page)] == []


async def test_the_console_says_when_the_wallboard_drops_and_comes_back(
    browser: Browser, desk: Desk
) -> None:
    page = await console(browser, desk, "sam")
    connection, banner = page.get_by_test_id("connection"), page.get_by_test_id("reconnect-banner")
    await expect(connection).to_have_attribute("data-state", "connected")
    await desk.runtime.hub.close()  # every screen is told: going away (1001)
    await expect(banner).to_contain_text("Reconnecting", timeout=5_000)
    await desk.runtime.hub.start()
    await expect(connection).to_have_attribute("data-state", "connected", timeout=20_000)
    await expect(banner).to_be_hidden()
    await expect(agent_row(page, "alice").get_by_test_id("agent-state")).to_be_visible()
    assert PROBLEMS[id(page)] == []


async def test_an_agent_is_told_the_console_is_for_supervisors(
    browser: Browser, desk: Desk
) -> None:
    page = await desktop.logged_in(browser, desk, "alice")  # the desktop's login holds here
    await expect(page.get_by_test_id("console-link")).to_be_hidden()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await page.goto(f"{desk.base}/console/")
    notice = page.get_by_test_id("not-supervisor")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("for supervisors")
    await expect(page.get_by_test_id("login-form")).to_be_hidden()
    await expect(page.get_by_test_id("wallboard-panel")).to_be_hidden()
    await expect(page.get_by_test_id("tab-wallboard")).to_be_hidden()
    await expect(page.get_by_test_id("queue-row")).to_have_count(0)
    await expect(page.get_by_test_id("agent-row")).to_have_count(0)
    assert not [url for url in sockets if url.endswith("/ws/wallboard")]
    assert PROBLEMS[id(page)] == []


async def test_a_supervisor_simulates_where_a_call_would_go(browser: Browser, desk: Desk) -> None:
    page = await console(browser, desk, "sam")
    await page.get_by_test_id("tab-routing").click()
    rules = page.get_by_test_id("rule-row")
    await expect(rules.filter(has_text="delivery")).to_have_count(1)
    await expect(page.get_by_test_id("rule-edit")).to_have_count(0)  # admins only
    await expect(page.get_by_test_id("tab-audit")).to_be_hidden()
    await expect(page.get_by_test_id("tab-dialplan")).to_be_hidden()

    await page.get_by_test_id("simulate-number").fill(IVAN)
    await page.get_by_test_id("simulate-submit").click()
    result = page.get_by_test_id("simulate-result")
    await expect(result.get_by_test_id("simulate-decision")).to_contain_text("alice")
    await expect(result.get_by_test_id("simulate-why")).to_contain_text("rule orders")
    await expect(result).to_contain_text("Ivan Petrov")
    await expect(page).to_have_url(f"{desk.base}/console/#routing")
    assert PROBLEMS[id(page)] == []
    headers = (await page.request.get(f"{desk.base}/console/")).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


async def test_an_admin_reads_the_audit_log_and_checks_a_rule(browser: Browser, desk: Desk) -> None:
    await add_admin(desk.runtime)
    async with httpx.AsyncClient(base_url=desk.base) as client:
        paused = await client.post(
            "/api/agents/alice/pause",
            json={"reason": "coaching"},
            headers={"Authorization": f"Bearer {await desk.token('sam')}"},
        )
        assert paused.status_code == 200, paused.text
    page = await console(browser, desk, "ada")
    await page.get_by_test_id("tab-audit").click()
    entry = page.get_by_test_id("audit-row").filter(has_text="agent.queuepause")
    await expect(entry.get_by_test_id("audit-actor")).to_have_text("sam")
    await expect(entry.get_by_test_id("audit-target")).to_have_text("alice")
    await expect(entry.get_by_test_id("audit-changes")).to_contain_text("Reason=coaching")
    await page.get_by_test_id("audit-filter-actor").fill("nobody")
    await page.get_by_test_id("audit-apply").click()
    await expect(page.get_by_test_id("audit-row")).to_have_count(0)

    await page.get_by_test_id("tab-routing").click()
    delivery = page.get_by_test_id("rule-row").filter(has_text="delivery")
    await delivery.get_by_test_id("rule-edit").click()
    editor = page.get_by_test_id("rule-editor")
    rule = (await editor.input_value()).replace('"sales"', '"nope"')
    await editor.fill(rule)
    await page.get_by_test_id("rule-check").click()
    await expect(page.get_by_test_id("rule-problems")).to_contain_text("nope")

    await page.get_by_test_id("tab-dialplan").click()  # only reads the list: nothing written
    await expect(page.get_by_test_id("dialplan-context-row")).to_have_count(5)
    assert PROBLEMS[id(page)] == []
