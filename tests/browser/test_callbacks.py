"""Calling customers and call-backs in a real Chromium: an agent calls a customer from the
card and sees how it went, a do-not-call number cannot be called, the call-back panel
lists who is owed a call and takes and closes them, and the console shows call-backs
with their attempts and edits the call-back rules (admins only)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, expect

from cti.pbxsim import Callee
from cti.store.callbacks import CallbackRepository, NewCallback
from tests.browser import test_console, test_desktop
from tests.browser.test_desktop import PROBLEMS, logged_in
from tests.desk import IVAN, PASSWORDS, Desk, add_admin

pytestmark = pytest.mark.browser

browser = test_desktop.browser  # the fixtures, shared with the desktop's tests
desk = test_desktop.desk
PASSWORDS.setdefault("ada", "ada-password")
OTHER = "+79035550101"
"""A number no contact has."""


async def ended_call_card(page: Page, desk: Desk) -> Any:
    """Ivan calls, alice answers, they hang up: his card waits for the wrap-up."""
    plan = desk.sim.plan("answered", caller=IVAN, name="", digits="1", talk=5.0)
    plan.rings = (2.0,)
    plan.script.press_delay = 0.3
    call = desk.sim.place_call(plan=plan)
    card = page.locator('[data-testid="call-card"][data-stage="ended"]')
    await expect(card).to_be_visible(timeout=30_000)
    assert (await call).outcome == "answered"
    return card


async def api(desk: Desk, user: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=desk.base) as client:
        return await client.request(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {await desk.token(user)}"},
        )


def is_dial(response: Response) -> bool:
    return response.url.endswith("/api/outbound/calls") and response.request.method == "POST"


async def test_an_agent_calls_a_customer_from_the_card_and_sees_the_result(
    browser: Browser, desk: Desk
) -> None:
    page = await logged_in(browser, desk, "alice")
    ended = await ended_call_card(page, desk)
    card = page.locator(f'[data-call-id="{await ended.get_attribute("data-call-id")}"]')
    phone = card.locator(f'[data-testid="phone"][data-number="{IVAN}"]')
    button = phone.get_by_test_id("phone-call")
    await expect(button).to_be_enabled()
    await expect(button).to_have_accessible_name(f"Call {IVAN}")

    desk.sim.pbx.callees[IVAN] = Callee(answer_after=None)  # rings out: 30 s, 6 s here
    async with page.expect_response(is_dial) as dialled:
        await button.click()
    reply = await dialled.value
    assert reply.status == 202
    assert json.loads(reply.request.post_data or "{}") == {"number": IVAN, "contact_id": 1}
    attempt = await reply.json()
    assert (attempt["requested_by"], attempt["number"], attempt["result"]) == ("alice", IVAN, None)
    status = page.locator(f'[data-testid="outbound-status"][data-attempt-id="{attempt["id"]}"]')
    await expect(status).to_contain_text("Call to Ivan Petrov")
    # alice's phone answered at once: the customer's rings, the button waits.
    await expect(status.get_by_test_id("outbound-text")).to_have_text("Calling the customer…")
    await expect(button).to_be_disabled()
    await expect(button).to_have_text("Calling…")
    outgoing = page.locator(f'[data-call-id="cti-out-{attempt["id"]}"]')
    await expect(outgoing.get_by_test_id("contact-name")).to_have_text("Ivan Petrov")
    await expect(outgoing.get_by_test_id("caller-number")).to_have_text(IVAN)
    await expect(outgoing.locator(".card-head")).not_to_contain_text("null")
    await expect(status).to_have_attribute("data-result", "noanswer", timeout=20_000)
    await expect(status.get_by_test_id("outbound-text")).to_have_text(
        "Not connected: the customer did not answer."
    )
    await expect(button).to_be_enabled()
    await expect(button).to_have_text("Call")

    desk.sim.pbx.callees[IVAN] = Callee(answer_after=1.0, talk=2.0)
    async with page.expect_response(is_dial) as dialled:
        await button.click()
    again = await (await dialled.value).json()
    status = page.locator(f'[data-testid="outbound-status"][data-attempt-id="{again["id"]}"]')
    await expect(status).to_have_attribute("data-result", "answered", timeout=20_000)
    await expect(status.get_by_test_id("outbound-text")).to_have_text(
        "Connected: the customer answered."
    )
    stored = await CallbackRepository(desk.runtime.sessionmaker).attempt(again["id"])
    assert stored is not None and stored["result"] == "answered"
    assert PROBLEMS[id(page)] == []


async def test_a_do_not_call_number_cannot_be_called(browser: Browser, desk: Desk) -> None:
    office = "+74951112233"
    patched = await api(desk, "alice", "PATCH", "/api/contacts/1", {"phones": [IVAN, office]})
    assert patched.status_code == 200, patched.text
    marked = await api(
        desk, "alice", "PUT", "/api/contacts/1/do-not-call", {"number": office, "do_not_call": True}
    )
    assert marked.status_code == 200, marked.text

    page = await logged_in(browser, desk, "alice")
    card = await ended_call_card(page, desk)
    barred = card.locator(f'[data-testid="phone"][data-number="{office}"]')
    await expect(barred.get_by_test_id("phone-dnc")).to_have_text("asked not to be called")
    await expect(barred.get_by_test_id("phone-call")).to_be_disabled()
    await expect(barred.get_by_test_id("phone-mark-dnc")).to_have_count(0)

    mobile = card.locator(f'[data-testid="phone"][data-number="{IVAN}"]')
    await expect(mobile.get_by_test_id("phone-call")).to_be_enabled()
    mark = mobile.get_by_test_id("phone-mark-dnc")
    await mark.click()  # asks first: nothing is sent yet
    await expect(mark).to_have_text("Really mark?")
    await expect(mobile.get_by_test_id("phone-call")).to_be_enabled()
    await mark.click()
    await expect(mobile.get_by_test_id("phone-dnc")).to_be_visible()
    await expect(mobile.get_by_test_id("phone-call")).to_be_disabled()
    contact = (await api(desk, "alice", "GET", "/api/contacts/1")).json()
    assert sorted(contact["do_not_call"]) == sorted([IVAN, office])

    refused = await api(desk, "alice", "POST", "/api/outbound/calls", {"number": IVAN})
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "outbound.do_not_call"
    assert PROBLEMS[id(page)] == []


async def test_the_call_back_panel_lists_takes_and_closes_call_backs(
    browser: Browser, desk: Desk
) -> None:
    store = CallbackRepository(desk.runtime.sessionmaker)
    now = time.time()
    ivan = await store.owe(
        NewCallback(
            number=IVAN,
            queue="sales",
            place=now - 600,
            source="abandoned",
            contact_id=1,
            source_call="test-1",
            wait_seconds=95,
        )
    )
    stranger = await store.owe(
        NewCallback(number=OTHER, queue="sales", place=now - 300, source="abandoned")
    )
    assert ivan and stranger
    retry_at = now + 3600
    await store.move(
        stranger,
        expect=("owed",),
        attempts=1,
        last_result="noanswer",
        next_attempt_at=datetime.fromtimestamp(retry_at, UTC),
    )

    page = await logged_in(browser, desk, "alice")
    panel = page.get_by_test_id("callbacks-panel")
    rows = panel.get_by_test_id("callback-row")
    await expect(rows).to_have_count(2)
    first, second = rows.nth(0), rows.nth(1)  # who waited first comes first
    await expect(first.get_by_test_id("callback-name")).to_have_text("Ivan Petrov")
    await expect(first.get_by_test_id("callback-queue")).to_have_text("sales")
    await expect(first.get_by_test_id("callback-waited")).to_have_text("1:35")
    await expect(first.get_by_test_id("callback-taken-by")).to_have_text("—")
    await expect(second.get_by_test_id("callback-name")).to_have_text(OTHER)
    hhmm = datetime.fromtimestamp(retry_at).strftime("%H:%M")  # the browser's zone is ours
    await expect(second.get_by_test_id("callback-next")).to_have_text(f"retry at {hhmm}")
    await expect(second.get_by_test_id("callback-last-result")).to_have_text("No answer")
    await expect(second.get_by_test_id("callback-attempts")).to_have_text("1")

    await first.get_by_role("button", name="Take the call-back to Ivan Petrov").click()
    await expect(first.get_by_test_id("callback-taken-by")).to_have_text("you")
    await expect(first.get_by_test_id("callback-take")).to_have_count(0)
    assert (await store.get(ivan) or {})["taken_by"] == "alice"

    await first.get_by_test_id("callback-close").click()
    dialog = page.get_by_test_id("callback-close-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_test_id("callback-close-give-up").click()  # no note: asked for one
    await expect(dialog.get_by_test_id("callback-close-problems")).to_contain_text("note")
    await dialog.get_by_test_id("callback-close-note").fill("Number no longer in service")
    await dialog.get_by_test_id("callback-close-give-up").click()
    await expect(dialog).to_be_hidden()
    await expect(rows).to_have_count(1)
    closed = await store.get(ivan) or {}
    assert (closed["state"], closed["note"], closed["closed_by"]) == (
        "given_up",
        "Number no longer in service",
        "alice",
    )

    await rows.first.get_by_test_id("callback-close").click()
    await dialog.get_by_test_id("callback-close-done").click()
    await expect(panel.get_by_test_id("callbacks-empty")).to_be_visible()
    assert (await store.get(stranger) or {})["state"] == "done"
    assert PROBLEMS[id(page)] == []


async def test_an_admin_sees_a_call_back_history_and_edits_the_call_back_rules(
    browser: Browser, desk: Desk
) -> None:
    await add_admin(desk.runtime)
    store = CallbackRepository(desk.runtime.sessionmaker)
    owed = await store.owe(  # a caller who hung up: people call back, not the scheduler
        NewCallback(number=IVAN, queue="sales", place=time.time() - 900, source="abandoned")
    )
    assert owed
    attempt = await store.start_attempt(
        kind="callback",
        requested_by="bob",
        agent="PJSIP/1002",
        number=IVAN,
        contact_id=None,
        callback_id=owed,
    )
    await store.finish_attempt(attempt, "busy")
    await store.move(owed, expect=("owed",), attempts=1, last_result="busy")

    page = await test_console.console(browser, desk, "ada")
    await page.get_by_test_id("tab-callbacks").click()
    row = page.get_by_test_id("callback-row").filter(has_text=IVAN)
    await expect(row.get_by_test_id("callback-last-result")).to_have_text("Line busy")
    await expect(row.get_by_test_id("callback-source")).to_have_text("Hung up waiting")
    await row.get_by_test_id("callback-show").click()
    detail = page.get_by_test_id("callback-detail")
    await expect(detail.get_by_test_id("callback-attempt")).to_have_count(1)
    await expect(detail.get_by_test_id("callback-attempt-result")).to_have_text("Line busy")
    await expect(detail).to_contain_text("bob")  # who asked
    await expect(detail).not_to_contain_text("null")
    await page.get_by_test_id("callbacks-filter-state").select_option("done")
    await page.get_by_test_id("callbacks-apply").click()
    await expect(page.get_by_test_id("callback-row")).to_have_count(0)
    await expect(page.get_by_test_id("callbacks-empty")).to_be_visible()

    await page.get_by_test_id("tab-callback-rules").click()
    await expect(page).to_have_url(f"{desk.base}/console/#callback-rules")
    await expect(page.get_by_test_id("cbrules-meta")).to_contain_text("version 0")
    editor = page.get_by_test_id("cbrules-editor")
    shipped = json.loads(await editor.input_value())
    assert shipped["offer_after_wait"] == 60

    broken = {**shipped, "offer_after_wait": -5, "max_attempts": 0}
    await editor.fill(json.dumps(broken, indent=2))
    await page.get_by_test_id("cbrules-check").click()
    problems = page.get_by_test_id("cbrules-problems")
    await expect(problems.locator("li")).to_have_count(2)  # every problem, one per line
    await expect(problems).to_contain_text("offer_after_wait")
    await expect(problems).to_contain_text("max_attempts")
    await page.get_by_test_id("cbrules-save").click()  # refused: still version 0
    await expect(problems.locator("li")).to_have_count(2)
    assert (await api(desk, "ada", "GET", "/api/callbacks/rules")).json()["version"] == 0

    await editor.fill(json.dumps({**shipped, "offer_after_wait": 90, "queues": ["sales"]}))
    await page.get_by_test_id("cbrules-check").click()
    status = page.get_by_test_id("cbrules-status")
    await expect(status).to_contain_text("No problem found")
    await expect(status).to_contain_text("in sales")
    await page.get_by_test_id("cbrules-comment").fill("sales only, after 90 s")
    await page.get_by_test_id("cbrules-save").click()
    await expect(status).to_contain_text("Saved as version 1")
    await expect(page.get_by_test_id("cbrules-meta")).to_contain_text("Version 1 · by ada")
    await expect(page.get_by_test_id("cbrules-offer")).to_have_text("90 s")
    await expect(page.get_by_test_id("cbrules-version-row")).to_have_count(1)
    saved = (await api(desk, "ada", "GET", "/api/callbacks/rules")).json()
    assert (saved["version"], saved["body"]["queues"]) == (1, ["sales"])
    assert PROBLEMS[id(page)] == []


async def test_a_supervisor_reads_the_call_back_rules_but_cannot_save_them(
    browser: Browser, desk: Desk
) -> None:
    page = await test_console.console(browser, desk, "sam")
    await page.get_by_test_id("tab-callback-rules").click()
    await expect(page.get_by_test_id("cbrules-offer")).to_have_text("60 s")
    await expect(page.get_by_test_id("cbrules-readonly")).to_be_visible()
    await expect(page.get_by_test_id("cbrules-editor")).to_have_count(0)
    await expect(page.get_by_test_id("cbrules-save")).to_have_count(0)
    await expect(page.get_by_test_id("cbrules-versions-empty")).to_be_visible()
    await expect(page.get_by_test_id("callback-rules-panel")).not_to_contain_text("null")
    await page.get_by_test_id("tab-callbacks").click()
    await expect(page.get_by_test_id("callbacks-empty")).to_be_visible()

    body = {"rules": {"offer_after_wait": 30}, "comment": "by a supervisor"}
    refused = await api(desk, "sam", "PUT", "/api/callbacks/rules", body)
    assert refused.status_code == 403
    assert (await api(desk, "sam", "GET", "/api/callbacks/rules")).json()["version"] == 0
    assert PROBLEMS[id(page)] == []
