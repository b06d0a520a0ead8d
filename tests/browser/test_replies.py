"""Replies from the agent desktop in a real Chromium: during a call the agent answers the
customer by email and by SMS from the card, and each reply lands on the card's timeline
with its delivery status; a reply the server refuses says why, inline."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from cti.store.contacts import ContactRepository
from tests.browser import test_desktop
from tests.browser.test_desktop import PROBLEMS, answered_call, logged_in
from tests.desk import IVAN, Desk

pytestmark = pytest.mark.browser

browser = test_desktop.browser  # the fixtures, shared with the desktop's tests
desk = test_desktop.desk

OLGA = "+79165550101"  # a demo customer with a phone and no email address


async def test_the_agent_replies_by_email_and_by_sms_and_both_land_on_the_timeline(
    browser: Browser, desk: Desk
) -> None:
    page = await logged_in(browser, desk, "alice")
    answered_call(desk, IVAN)

    card = page.locator('[data-testid="call-card"][data-stage="talking"]')
    await expect(card).to_be_visible(timeout=30_000)
    form = card.get_by_test_id("reply-form")
    await expect(form).to_be_visible()
    await expect(card.get_by_test_id("timeline-item").first).to_be_visible()
    # Ivan last wrote by email, so the reply starts on email.
    channel = form.get_by_test_id("reply-channel")
    await expect(channel).to_have_value("email")
    send = form.get_by_test_id("reply-send")
    await expect(send).to_be_disabled()

    await channel.select_option("email")
    await expect(form.get_by_test_id("reply-subject")).to_be_visible()
    email = "Your order 1234 is ready. Shall we deliver it on Friday?"
    await form.get_by_test_id("reply-body").fill(email)
    await send.click()
    await expect(form.get_by_test_id("reply-status")).to_contain_text("Sent", timeout=10_000)
    await expect(form.get_by_test_id("reply-body")).to_have_value("")
    await expect(send).to_be_disabled()
    outbound = card.locator('[data-testid="timeline-item"][data-direction="outbound"]')
    sent_email = outbound.filter(has_text=email)
    await expect(sent_email).to_have_count(1)
    await expect(sent_email).to_have_attribute("data-channel", "email")
    await expect(sent_email).to_have_attribute("data-outcome", "sent")

    await channel.select_option("sms")
    await expect(form.get_by_test_id("reply-subject")).to_be_hidden()
    sms = "Courier booked for Friday, 10:00-14:00."
    await form.get_by_test_id("reply-body").fill(sms)
    await form.get_by_test_id("reply-body").press("Control+Enter")
    await expect(form.get_by_test_id("reply-status")).to_have_text("Sent by SMS", timeout=10_000)
    sent_sms = outbound.filter(has_text=sms)
    await expect(sent_sms).to_have_count(1)
    await expect(sent_sms).to_have_attribute("data-channel", "sms")
    await expect(sent_sms).to_have_attribute("data-outcome", "sent")
    await expect(outbound).to_have_count(2)
    await expect(form.get_by_test_id("reply-problems")).to_be_hidden()

    entries = await ContactRepository(desk.runtime.sessionmaker).timeline(1, 5)
    assert entries is not None
    replies = [(e["channel"], e["outcome"]) for e in entries if e["direction"] == "outbound"]
    assert replies == [("sms", "sent"), ("email", "sent")]
    assert PROBLEMS[id(page)] == []


async def test_a_reply_the_server_refuses_says_why_and_keeps_the_text(
    browser: Browser, desk: Desk
) -> None:
    page = await logged_in(browser, desk, "alice")
    answered_call(desk, OLGA)

    card = page.locator('[data-testid="call-card"][data-stage="talking"]')
    await expect(card).to_be_visible(timeout=30_000)
    await expect(card.get_by_test_id("contact-name").first).to_have_text("Olga Smirnova")
    form = card.get_by_test_id("reply-form")
    await expect(card.get_by_test_id("timeline-item").first).to_be_visible()
    await expect(form.get_by_test_id("reply-channel")).to_have_value("sms")  # she wrote by SMS

    await form.get_by_test_id("reply-channel").select_option("email")
    text = "Your parcel is on its way."
    await form.get_by_test_id("reply-body").fill(text)
    await form.get_by_test_id("reply-send").click()
    problems = form.get_by_test_id("reply-problems")
    await expect(problems).to_be_visible(timeout=10_000)
    await expect(problems).to_contain_text("no email address")
    await expect(form.get_by_test_id("reply-body")).to_have_value(text)
    await expect(form.get_by_test_id("reply-status")).to_be_hidden()
    await expect(
        card.locator('[data-testid="timeline-item"][data-direction="outbound"]')
    ).to_have_count(0)
    assert PROBLEMS[id(page)] == []
