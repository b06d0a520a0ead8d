"""Merging duplicate customers from the agent desktop in a real Chromium: when a caller's
number is shared by two contacts, a supervisor watching the agent merges the second into
the first from the card; an agent never gets the button."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Dialog, expect

from cti.store.contacts import ContactRepository
from tests.browser import test_desktop
from tests.browser.test_desktop import PROBLEMS, answered_call, logged_in
from tests.desk import IVAN, Desk

pytestmark = pytest.mark.browser

browser = test_desktop.browser  # the fixtures, shared with the desktop's tests
desk = test_desktop.desk


async def test_a_supervisor_merges_a_duplicate_customer_from_the_card(
    browser: Browser, desk: Desk
) -> None:
    contacts = ContactRepository(desk.runtime.sessionmaker)
    await contacts.create("Ivan P. (old)", phones=[IVAN])
    assert len(await contacts.by_phone(IVAN)) == 2

    agent = await logged_in(browser, desk, "alice")
    page = await logged_in(browser, desk, "sam", watching="alice")
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:  # the confirm(): yes, merge
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    answered_call(desk, IVAN, digits="0")  # a shared number: the menu, 0 for a person

    candidates = page.get_by_test_id("candidates")
    await expect(candidates).to_be_visible(timeout=30_000)
    await expect(candidates.locator("li")).to_have_count(2)
    agent_candidates = agent.get_by_test_id("candidates")
    await expect(agent_candidates).to_be_visible(timeout=30_000)
    await expect(agent_candidates.locator("li")).to_have_count(2)
    await expect(agent.get_by_test_id("merge-button")).to_have_count(0)

    button = candidates.get_by_test_id("merge-button")
    await expect(button).to_have_count(1)
    await expect(button).to_have_text("Merge into Ivan Petrov")
    await button.click()
    await expect(page.get_by_test_id("toast").filter(has_text="Merged")).to_be_visible(
        timeout=10_000
    )
    assert dialogs and dialogs[0].startswith("Merge Ivan P. (old) into Ivan Petrov?")
    await expect(candidates.locator("li")).to_have_count(1)
    await expect(candidates).to_contain_text("Ivan Petrov")
    await expect(page.get_by_test_id("merge-button")).to_have_count(0)

    holders = await contacts.by_phone(IVAN)
    assert len(holders) == 1
    assert PROBLEMS[id(page)] == []
    assert PROBLEMS[id(agent)] == []
