"""The console's Dialplan tab in a real Chromium: an admin edits a context, saves it and
sees it pushed and confirmed; a forbidden application is shown at its line and nothing
is saved; a save that lost a race says who won and keeps the text; the versions panel
diffs and rolls back; and Asterisk refusing a save or being away is said plainly.

The server edits a temporary copy of the project's ``dialplans/`` (never the project's
own), which the simulated Asterisk includes from its own extensions.conf, as in
tests/integration/test_dialplan_api.py.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from cti.dialplan.render import context_text
from cti.pbxsim import PbxConfig, PbxSimulator
from tests.browser import test_console as console_tests
from tests.browser import test_desktop as desktop
from tests.desk import AMI_SECRET, PASSWORDS, Desk, add_admin, desk_settings, running_desk

pytestmark = pytest.mark.browser

browser = desktop.browser
PROBLEMS = desktop.PROBLEMS
PASSWORDS.setdefault("ada", "ada-password")

ROOT = Path(__file__).parents[2]
INBOUND = (ROOT / "dialplans" / "inbound.conf").read_text()
# A line set up on the PBX by hand that the server does not know of: a save adding
# 7000,1 to cti-route passes every check and is still not loaded in full.
HAND_MADE = "[cti-route]\n; added on the PBX by hand\nexten => 7000,1,NoOp(hand-made)\n\n"


@dataclass
class Plan:
    desk: Desk
    sim: PbxSimulator
    folder: Path
    token: str

    @property
    def inbound(self) -> Path:
        return self.folder / "dialplans" / "inbound.conf"

    def shown(self, context: str) -> str:
        """What the simulated Asterisk has in force for a context (``dialplan show``)."""
        _, lines = self.sim.dialplan.show([context])
        return "\n".join(lines)

    async def put(self, context: str, text: str, base: int) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.desk.base, timeout=30) as client:
            return await client.put(
                f"/api/dialplan/contexts/{context}",
                json={"text": text, "base_version": base, "comment": "from the API"},
                headers={"Authorization": f"Bearer {self.token}"},
            )

    async def versions(self, context: str) -> list[int]:
        async with httpx.AsyncClient(base_url=self.desk.base, timeout=30) as client:
            reply = await client.get(
                f"/api/dialplan/contexts/{context}/versions",
                headers={"Authorization": f"Bearer {self.token}"},
            )
        reply.raise_for_status()
        return [v["version"] for v in reply.json()]


@pytest.fixture
async def plan(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Plan]:
    folder = tmp_path / "asterisk"
    folder.mkdir()
    shutil.copytree(ROOT / "dialplans", folder / "dialplans")
    shipped = (ROOT / "asterisk-conf" / "extensions.conf").read_text()
    include = "#include dialplans/*.conf"
    assert include in shipped
    (folder / "extensions.conf").write_text(shipped.replace(include, HAND_MADE + include))
    config = PbxConfig.production(missing_prompts=frozenset())
    sim = await PbxSimulator(
        secret=AMI_SECRET, speed=20, config=config, dialplan=folder / "extensions.conf"
    ).start()
    settings = desk_settings(sqlite_url)
    settings.dialplan.directory = folder / "dialplans"
    settings.dialplan.extensions_conf = ROOT / "asterisk-conf" / "extensions.conf"
    try:
        async with running_desk(settings, sim=sim) as desk:
            await add_admin(desk.runtime)
            yield Plan(desk, sim, folder, await desk.token("ada"))
    finally:
        await sim.close()
    assert (ROOT / "dialplans" / "inbound.conf").read_text() == INBOUND, "never the project's"


async def opened(browser: Browser, plan: Plan, context: str) -> Page:
    """The console as the admin ada, on the Dialplan tab, with ``context`` in the editor."""
    page = await console_tests.console(browser, plan.desk, "ada")
    await page.get_by_test_id("tab-dialplan").click()
    row = page.locator(f'[data-testid="dialplan-context-row"][data-context="{context}"]')
    await row.get_by_test_id("dialplan-context-open").click()
    await expect(page.get_by_test_id("dialplan-editor-title")).to_have_text(context)
    await expect(page.get_by_test_id("dialplan-text")).to_have_value(
        context_text(plan.inbound.read_text(), context) or ""
    )
    return page


def shipped(context: str) -> str:
    text = context_text(INBOUND, context)
    assert text is not None
    return text


async def test_an_admin_edits_a_context_and_it_is_pushed_and_confirmed(
    browser: Browser, plan: Plan
) -> None:
    page = await console_tests.console(browser, plan.desk, "ada")
    await page.get_by_test_id("tab-dialplan").click()
    route = page.locator('[data-testid="dialplan-context-row"][data-context="cti-route"]')
    await expect(route.get_by_test_id("dialplan-context-version")).to_have_text("0")
    await expect(page.get_by_test_id("dialplan-context-row")).to_have_count(5)
    await expect(page.get_by_test_id("dialplan-drift")).to_have_count(0)
    await expect(page.get_by_test_id("dialplan-workspace")).to_be_hidden()
    await route.get_by_test_id("dialplan-context-open").click()

    editor = page.get_by_test_id("dialplan-text")
    await expect(editor).to_have_value(shipped("cti-route"))
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "0")
    await expect(page.get_by_test_id("dialplan-versions-empty")).to_be_visible()
    lines = shipped("cti-route").count("\n")
    await expect(page.get_by_test_id("dialplan-line-count")).to_have_text(f"{lines + 1} lines")
    await expect(page.locator('[data-testid="dialplan-gutter"] .dp-ln')).to_have_count(lines + 1)

    last = " same => n(done),Hangup()"
    added = " same => n,NoOp(edited from the console)"
    text = shipped("cti-route").replace(last, f"{added}\n{last}")
    await editor.fill(text)
    await expect(page.get_by_test_id("dialplan-dirty")).to_be_visible()
    await page.get_by_test_id("dialplan-comment").fill("a harmless trace")
    await page.get_by_test_id("dialplan-check").click()
    await expect(page.get_by_test_id("dialplan-status")).to_contain_text("No problem found")
    await page.get_by_test_id("dialplan-save").click()

    toast = page.get_by_test_id("toast").filter(has_text="pushed to Asterisk and confirmed")
    await expect(toast).to_be_visible()
    await expect(toast).to_contain_text("version 2")
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "2")
    await expect(page.get_by_test_id("dialplan-dirty")).to_be_hidden()
    await expect(page.get_by_test_id("dialplan-comment")).to_have_value("")
    await expect(route.get_by_test_id("dialplan-context-version")).to_have_text("2")
    await expect(route.get_by_test_id("dialplan-context-saved")).to_contain_text("ada")
    await expect(route.get_by_test_id("dialplan-context-comment")).to_have_text("a harmless trace")
    versions = page.get_by_test_id("dialplan-version-row")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_have_attribute("data-version", "2")
    await expect(versions.first).to_contain_text("a harmless trace")
    await expect(versions.nth(1)).to_contain_text("before the first edit")

    on_disk = plan.inbound.read_text()
    assert f"{added}\n{last}" in on_disk
    assert context_text(on_disk, "cti-route") == text
    assert context_text(on_disk, "cti-direct") == shipped("cti-direct")
    assert "NoOp(edited from the console)" in plan.shown("cti-route")
    assert await plan.versions("cti-route") == [2, 1]
    assert PROBLEMS[id(page)] == []


async def test_a_forbidden_application_is_shown_at_its_line_and_nothing_is_saved(
    browser: Browser, plan: Plan
) -> None:
    page = await opened(browser, plan, "cti-route")
    forbidden = " same => n,System(ls)"
    first = shipped("cti-route").split("\n")[0]
    text = shipped("cti-route").replace(first, f"{first}\n{forbidden}", 1)
    line = text.split("\n").index(forbidden) + 1
    assert line == 2
    await page.get_by_test_id("dialplan-text").fill(text)

    await page.get_by_test_id("dialplan-check").click()
    problems = page.get_by_test_id("dialplan-problems")
    await expect(problems).to_have_attribute("data-error", "dialplan.invalid")
    problem = problems.get_by_test_id("dialplan-problem")
    await expect(problem).to_have_count(1)
    await expect(problem).to_have_attribute("data-line", str(line))
    await expect(problem).to_contain_text(f"Line {line}")
    await expect(problem).to_contain_text("System")
    bad = page.locator('[data-testid="dialplan-gutter"] .dp-ln.bad')
    await expect(bad).to_have_attribute("data-line", str(line))

    await page.get_by_test_id("dialplan-text").press("Control+Home")
    await expect(page.get_by_test_id("dialplan-position")).to_have_attribute("data-line", "1")
    await problem.click()  # selects the line in the text
    position = page.get_by_test_id("dialplan-position")
    await expect(position).to_have_attribute("data-line", str(line))
    await expect(position).to_contain_text(f"({len(forbidden)} selected)")
    selected = await page.get_by_test_id("dialplan-text").evaluate(
        "el => el.value.slice(el.selectionStart, el.selectionEnd)"
    )
    assert selected == forbidden

    await page.get_by_test_id("dialplan-save").click()
    await expect(problems).to_have_attribute("data-error", "dialplan.invalid")
    await expect(problems).to_contain_text("nothing was saved")
    await expect(problems.get_by_test_id("dialplan-problem")).to_have_attribute(
        "data-line", str(line)
    )
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "0")
    await expect(page.get_by_test_id("dialplan-text")).to_have_value(text)  # kept as typed
    await expect(page.get_by_test_id("toast").filter(has_text="pushed")).to_have_count(0)
    assert plan.inbound.read_text() == INBOUND
    assert "System(ls)" not in plan.shown("cti-route")
    assert await plan.versions("cti-route") == []
    assert PROBLEMS[id(page)] == []


async def test_a_save_after_someone_elses_says_who_and_loses_nothing(
    browser: Browser, plan: Plan
) -> None:
    page = await opened(browser, plan, "cti-direct")
    theirs = shipped("cti-direct").replace("Direct call from", "Direct call (theirs) from")
    reply = await plan.put("cti-direct", theirs, 0)  # someone else, after the page loaded it
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 2

    mine = shipped("cti-direct").replace("No routing decision in time", "Mine: nothing decided")
    editor = page.get_by_test_id("dialplan-text")
    await editor.fill(mine)
    await page.get_by_test_id("dialplan-save").click()
    conflict = page.get_by_test_id("dialplan-conflict")
    await expect(conflict).to_be_visible()
    await expect(conflict).to_have_attribute("data-refused", "true")
    await expect(conflict).to_contain_text("ada saved version 2 at")
    await expect(conflict).to_contain_text("after you started: reload to see it")
    await expect(editor).to_have_value(mine)  # nothing typed is lost
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "0")
    on_disk = context_text(plan.inbound.read_text(), "cti-direct")
    assert on_disk == theirs, "nothing was overwritten"
    assert "Mine:" not in plan.shown("cti-direct")
    assert await plan.versions("cti-direct") == [2, 1]

    await page.get_by_test_id("dialplan-conflict-reload").click()
    await expect(conflict).to_be_hidden()
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "2")
    await expect(editor).to_have_value(theirs)
    await expect(page.get_by_test_id("dialplan-draft")).to_be_visible()
    await expect(page.get_by_test_id("dialplan-draft-text")).to_have_value(mine)

    await page.get_by_test_id("dialplan-draft-use").click()  # a conscious choice now
    await expect(editor).to_have_value(mine)
    await expect(page.get_by_test_id("dialplan-draft")).to_be_hidden()
    await page.get_by_test_id("dialplan-save").click()
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "3")
    assert context_text(plan.inbound.read_text(), "cti-direct") == mine
    assert await plan.versions("cti-direct") == [3, 2, 1]
    assert PROBLEMS[id(page)] == []


async def test_the_versions_panel_diffs_and_rolls_back(browser: Browser, plan: Plan) -> None:
    first = shipped("cti-direct").replace("Set(CTI_WAIT=routing)", "Set(CTI_WAIT=routing-v2)")
    assert (await plan.put("cti-direct", first, 0)).json()["version"] == 2
    second = first.replace("routing-v2", "routing-v3")
    assert (await plan.put("cti-direct", second, 2)).json()["version"] == 3
    page = await opened(browser, plan, "cti-direct")
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "3")

    rows = page.get_by_test_id("dialplan-version-row")
    await expect(rows).to_have_count(3)
    current = rows.filter(has=page.get_by_test_id("dialplan-version-current"))
    await expect(current).to_have_attribute("data-version", "3")
    await expect(current.get_by_test_id("dialplan-version-rollback")).to_have_count(0)
    v2 = page.locator('[data-testid="dialplan-version-row"][data-version="2"]')
    await v2.get_by_test_id("dialplan-version-diff").click()
    viewer = page.get_by_test_id("dialplan-viewer")
    await expect(page.get_by_test_id("dialplan-viewer-title")).to_contain_text(
        "from version 2 to version 3"
    )
    removed = viewer.locator('.dp-diff-line[data-kind="del"]')
    added = viewer.locator('.dp-diff-line[data-kind="add"]')
    await expect(removed).to_have_text(
        ["- same => n,Set(CTI_WAIT=routing-v2)"], use_inner_text=True
    )
    await expect(added).to_have_text(["+ same => n,Set(CTI_WAIT=routing-v3)"], use_inner_text=True)
    await expect(viewer.locator('.dp-diff-line[data-kind="hunk"]')).to_have_count(1)
    colours = await viewer.evaluate(
        """el => ['add', 'del', 'same'].map(kind => getComputedStyle(
               el.querySelector(`.dp-diff-line[data-kind="${kind}"]`)).backgroundColor)"""
    )
    assert len(set(colours)) == 3, colours  # added and removed lines coloured, others not

    v1 = page.locator('[data-testid="dialplan-version-row"][data-version="1"]')
    rollback = v1.get_by_test_id("dialplan-version-rollback")
    await rollback.click()
    await expect(rollback).to_have_attribute("data-armed", "true")
    await expect(rollback).to_contain_text("Really")
    assert await plan.versions("cti-direct") == [3, 2, 1], "the first click only asks"
    await rollback.click()

    toast = page.get_by_test_id("toast").filter(has_text="back in force as version 4")
    await expect(toast).to_be_visible()
    await expect(toast).to_contain_text("confirmed")
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "4")
    await expect(page.get_by_test_id("dialplan-text")).to_have_value(shipped("cti-direct"))
    await expect(rows).to_have_count(4)
    await expect(rows.first).to_contain_text("rollback to version 1")
    row = page.locator('[data-testid="dialplan-context-row"][data-context="cti-direct"]')
    await expect(row.get_by_test_id("dialplan-context-version")).to_have_text("4")
    assert plan.inbound.read_text() == INBOUND
    assert "Set(CTI_WAIT=routing)" in plan.shown("cti-direct")
    assert "routing-v3" not in plan.shown("cti-direct")
    assert PROBLEMS[id(page)] == []


async def test_asterisk_refusing_a_save_or_being_away_is_said_plainly(
    browser: Browser, plan: Plan
) -> None:
    page = await opened(browser, plan, "cti-route")
    text = shipped("cti-route") + "exten => 7000,1,NoOp(ours)\n same => n,Hangup()\n"
    editor = page.get_by_test_id("dialplan-text")
    await editor.fill(text)
    await page.get_by_test_id("dialplan-save").click()  # the PBX's own 7000,1 wins
    problems = page.get_by_test_id("dialplan-problems")
    await expect(problems).to_have_attribute("data-error", "dialplan.not_loaded")
    await expect(problems).to_contain_text("21 of 22 priorities")
    await expect(problems).to_contain_text("previous version is back in force")
    problem = problems.get_by_test_id("dialplan-problem")
    await expect(problem).to_have_attribute("data-file", "inbound.conf")
    await expect(problem).to_contain_text("NoOp(ours)")
    # The shipped text was kept as version 1 on the way; the edit was withdrawn.
    await expect(page.get_by_test_id("dialplan-version")).to_have_attribute("data-version", "1")
    await expect(page.get_by_test_id("dialplan-conflict")).to_be_hidden()
    await expect(page.get_by_test_id("dialplan-version-row")).to_have_count(1)
    await expect(editor).to_have_value(text)
    assert plan.inbound.read_text() == INBOUND

    await plan.sim.close()  # Asterisk goes away
    fixed = text.replace("7000", "7001")
    await editor.fill(fixed)
    await page.get_by_test_id("dialplan-save").click()
    await expect(problems).to_have_attribute("data-error", "asterisk.unavailable")
    await expect(page.get_by_test_id("dialplan-problems-note")).to_contain_text(
        "Asterisk is not connected: nothing was saved"
    )
    await expect(editor).to_have_value(fixed)
    assert plan.inbound.read_text() == INBOUND
    assert await plan.versions("cti-route") == [1], "only the shipped text was kept"
    assert PROBLEMS[id(page)] == []
