"""The dialplan editor over HTTP against the PBX simulator: save, push, check, restore.

The whole server runs (uvicorn, the AMI client on a real socket); the simulator reads
``extensions.conf`` from its own folder and the server's ``dialplans/`` copy through
``#include``, as Asterisk reads /etc/asterisk. Its extensions.conf also holds a context
line set up on the PBX by hand that the server does not know of, which is how a save can
pass every check and still not load in full.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.dialplan.exceptions import EditConflict
from cti.dialplan.render import context_text
from cti.pbxsim import PbxConfig, PbxSimulator
from cti.store import migrate
from cti.store.db import create_engine, create_sessionmaker
from cti.store.dialplans import DialplanVersions, NewVersion
from cti.store.repositories import AuditRepository
from tests.desk import AMI_SECRET, PASSWORDS, Desk, desk_settings, running_desk

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
INBOUND = (ROOT / "dialplans" / "inbound.conf").read_text()
HAND_MADE = "[cti-route]\n; added on the PBX by hand\nexten => 7000,1,NoOp(hand-made)\n\n"
ADMIN, ADMIN_PASSWORD = "ada", "ada-password"


@dataclass
class Editor:
    desk: Desk
    sim: PbxSimulator
    folder: Path
    client: httpx.AsyncClient
    tokens: dict[str, str]

    @property
    def inbound(self) -> Path:
        return self.folder / "dialplans" / "inbound.conf"

    def auth(self, user: str = ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def get(self, path: str, user: str = ADMIN) -> httpx.Response:
        return await self.client.get(f"/api/dialplan{path}", headers=self.auth(user))

    async def put(self, context: str, text: str, base: int, **extra: Any) -> httpx.Response:
        body = {"text": text, "base_version": base, **extra}
        return await self.client.put(
            f"/api/dialplan/contexts/{context}", json=body, headers=self.auth()
        )

    async def post(self, path: str, body: dict[str, Any], user: str = ADMIN) -> httpx.Response:
        return await self.client.post(f"/api/dialplan{path}", json=body, headers=self.auth(user))

    def shown(self, context: str) -> str:
        """What the simulated Asterisk has in force for a context (``dialplan show``)."""
        _, lines = self.sim.dialplan.show([context])
        return "\n".join(lines)

    async def audit(self) -> list[dict[str, Any]]:
        async with self.desk.runtime.sessionmaker() as session:
            entries = await AuditRepository(session).latest()
        return [e for e in entries if e["action"].startswith("dialplan.")]


@pytest.fixture
async def editor(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Editor]:
    folder = tmp_path / "asterisk"
    folder.mkdir()
    shutil.copytree(ROOT / "dialplans", folder / "dialplans")
    shipped = (ROOT / "asterisk-conf" / "extensions.conf").read_text()
    include = "#include dialplans/*.conf"
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
            await create_user(
                desk.runtime.sessionmaker,
                username=ADMIN,
                password=ADMIN_PASSWORD,
                role="admin",
                passwords=Passwords.fast(),
            )
            async with httpx.AsyncClient(base_url=desk.base, timeout=30) as client:
                tokens = {}
                for user, password in ((ADMIN, ADMIN_PASSWORD), *PASSWORDS.items()):
                    reply = await client.post(
                        "/api/auth/login", json={"username": user, "password": password}
                    )
                    tokens[user] = reply.json()["token"]
                yield Editor(desk, sim, folder, client, tokens)
    finally:
        await sim.close()


def edited(context: str, old: str, new: str) -> str:
    text = context_text(INBOUND, context)
    assert text is not None and old in text
    return text.replace(old, new)


async def test_a_save_is_rendered_reloaded_and_confirmed_by_dialplan_show(editor: Editor) -> None:
    listed = await editor.get("/contexts", user="sam")
    assert listed.status_code == 200, listed.text
    assert [(c["context"], c["version"], c["file"]) for c in listed.json()] == [
        ("cti-inbound", 0, "inbound.conf"),
        ("cti-direct", 0, "inbound.conf"),
        ("cti-route", 0, "inbound.conf"),
        ("cti-outbound", 0, "outbound.conf"),
        ("cti-queue-exit", 0, "outbound.conf"),
    ]
    current = (await editor.get("/contexts/cti-direct")).json()
    assert current["version"] == 0 and current["text"] == context_text(INBOUND, "cti-direct")
    text = current["text"].replace("No routing decision in time", "Nothing decided in time")

    reply = await editor.put("cti-direct", text, 0, comment="clearer log line")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "context": "cti-direct",
        "version": 2,
        "file": "inbound.conf",
        "pushed": True,
        "loaded": "Asterisk loaded 7 of 7 priorities of cti-direct",
    }
    on_disk = editor.inbound.read_text()
    assert context_text(on_disk, "cti-direct") == text
    assert context_text(on_disk, "cti-route") == context_text(INBOUND, "cti-route")
    assert "NoOp(Nothing decided in time: on to the default queue)" in editor.shown("cti-direct")
    assert "No routing decision" not in editor.shown("cti-direct")

    history = (await editor.get("/contexts/cti-direct/versions")).json()
    assert [(v["version"], v["author"]) for v in history] == [(2, ADMIN), (1, ADMIN)]
    assert history[0]["comment"] == "clearer log line"
    assert "before the first edit" in history[1]["comment"], "the shipped text is version 1"
    now = (await editor.get("/contexts/cti-direct")).json()
    assert (now["version"], now["text"], now["drift"]) == (2, text, False)

    pushed, saved = await editor.audit()
    assert (saved["action"], saved["actor"], saved["target"]) == (
        "dialplan.save",
        ADMIN,
        "dialplan:cti-direct@2",
    )
    assert saved["details"]["before_version"] == 0 and saved["details"]["after_version"] == 2
    assert "+ same => n,NoOp(Nothing decided" in saved["details"]["diff"]
    assert pushed["action"] == "dialplan.pushed"
    assert pushed["details"]["loaded"] == "Asterisk loaded 7 of 7 priorities of cti-direct"


async def test_a_context_asterisk_loads_in_part_is_undone_and_the_reason_given(
    editor: Editor,
) -> None:
    text = context_text(INBOUND, "cti-route")
    assert text is not None
    before = editor.shown("cti-route")
    checked = await editor.post(
        "/contexts/cti-route/check", {"text": text + "exten => 7000,1,NoOp(ours)\n"}
    )
    assert checked.status_code == 200, "the server cannot know the PBX's own line"

    new = text + "exten => 7000,1,NoOp(ours)\n same => n,Hangup()\n"
    reply = await editor.put("cti-route", new, 0)
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["id"] == "dialplan.not_loaded"
    assert error["message"] == (
        "Asterisk loaded 21 of 22 priorities of cti-route; the previous version is back in force."
    )
    (missing,) = error["problems"]
    assert missing["file"] == "inbound.conf" and "NoOp(ours)" in missing["message"]
    assert editor.inbound.read_text("utf-8") == INBOUND, "the previous file is back"
    assert editor.shown("cti-route") == before, "and in force again"
    assert "NoOp(ours)" not in editor.shown("cti-route")

    now = (await editor.get("/contexts/cti-route")).json()
    assert (now["version"], now["text"]) == (1, text), "only the shipped text was kept"
    withdrawn = (await editor.audit())[0]
    assert withdrawn["action"] == "dialplan.withdrawn"
    assert withdrawn["details"]["error"] == "dialplan.not_loaded"
    assert "21 of 22" in withdrawn["details"]["reason"]

    fixed = text + "exten => 7001,1,NoOp(ours)\n same => n,Hangup()\n"
    reply = await editor.put("cti-route", fixed, 1)
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 2
    assert "NoOp(ours)" in editor.shown("cti-route")


async def test_concurrent_edits_of_one_context_are_detected(editor: Editor) -> None:
    text = context_text(INBOUND, "cti-inbound")
    assert text is not None
    replies = await asyncio.gather(
        editor.put("cti-inbound", text.replace("Inbound call", "Call"), 0),
        editor.put("cti-inbound", text.replace("Inbound call", "Caller"), 0),
    )
    assert sorted(r.status_code for r in replies) == [200, 409]
    (won,) = [r for r in replies if r.status_code == 200]
    (lost,) = [r for r in replies if r.status_code == 409]
    error = lost.json()["error"]
    assert error["id"] == "dialplan.conflict"
    assert f"saved by {ADMIN}" in error["message"] and "not 0" in error["message"]
    (newer,) = error["problems"]
    assert (newer["version"], newer["author"]) == (won.json()["version"], ADMIN)
    stale = await editor.put("cti-inbound", text, 0)
    assert stale.status_code == 409
    assert [v["version"] for v in (await editor.get("/contexts/cti-inbound/versions")).json()] == [
        2,
        1,
    ]


async def test_diff_and_rollback(editor: Editor) -> None:
    first = edited("cti-direct", "Set(CTI_WAIT=routing)", "Set(CTI_WAIT=routing-v2)")
    second = first.replace("routing-v2", "routing-v3")
    assert (await editor.put("cti-direct", first, 0)).json()["version"] == 2
    assert (await editor.put("cti-direct", second, 2)).json()["version"] == 3

    diff = (await editor.get("/contexts/cti-direct/diff")).json()
    assert (diff["from"], diff["to"]) == (2, 3)
    assert diff["diff"].startswith("--- cti-direct@2\n+++ cti-direct@3\n@@ ")
    assert (
        "- same => n,Set(CTI_WAIT=routing-v2)\n+ same => n,Set(CTI_WAIT=routing-v3)\n"
        in (diff["diff"])
    )
    assert (await editor.get("/contexts/cti-direct/diff?from=1&to=1")).json()["diff"] == ""
    missing = await editor.get("/contexts/cti-direct/diff?from=1&to=9")
    assert missing.status_code == 404 and missing.json()["error"]["id"] == (
        "dialplan.version_not_found"
    )

    stale = await editor.post("/contexts/cti-direct/rollback", {"version": 1, "base_version": 2})
    assert stale.status_code == 409
    reply = await editor.post("/contexts/cti-direct/rollback", {"version": 1, "base_version": 3})
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 4 and reply.json()["pushed"] is True
    assert editor.inbound.read_text() == INBOUND
    assert "Set(CTI_WAIT=routing)" in editor.shown("cti-direct")
    assert "routing-v3" not in editor.shown("cti-direct")
    back = (await editor.get("/contexts/cti-direct/versions/4")).json()
    assert back["text"] == context_text(INBOUND, "cti-direct")
    assert back["comment"] == "rollback to version 1"
    entries = await editor.audit()
    rollback = next(e for e in entries if e["action"] == "dialplan.rollback")
    assert rollback["details"]["rollback_to"] == 1
    assert rollback["details"]["before_version"] == 3
    assert rollback["details"]["after_version"] == 4


async def test_forbidden_applications_are_refused_unless_the_setting_allows_them(
    editor: Editor,
) -> None:
    text = edited(
        "cti-direct", " same => n,Answer()\n", " same => n,Answer()\n same => n,System(logger hi)\n"
    )
    line = text.split("\n").index(" same => n,System(logger hi)") + 1
    checked = await editor.post("/contexts/cti-direct/check", {"text": text})
    assert checked.status_code == 422
    error = checked.json()["error"]
    assert error["id"] == "dialplan.invalid"
    assert [(p["id"], p["line"]) for p in error["problems"]] == [("dialplan.forbidden", line)]
    refused = await editor.put("cti-direct", text, 0)
    assert refused.status_code == 422 and refused.json()["error"]["id"] == "dialplan.invalid"
    assert editor.inbound.read_text() == INBOUND
    assert (await editor.get("/contexts/cti-direct/versions")).json() == []

    editor.desk.settings.dialplan.allowed_applications = ["System"]
    reply = await editor.put("cti-direct", text, 0)
    assert reply.status_code == 200, reply.text
    assert "System(logger hi)" in editor.shown("cti-direct")


async def test_check_lists_every_problem_with_its_line(editor: Editor) -> None:
    text = "exten => s,1,NoOp(start\n same => n,Goto(nowhere,s,1)\n#exec /bin/date\n"
    reply = await editor.post("/contexts/cti-night/check", {"text": text})
    assert reply.status_code == 422
    problems = reply.json()["error"]["problems"]
    assert [(p["id"], p["line"]) for p in problems] == [("dialplan.directive", 3)]
    reply = await editor.post("/contexts/cti-night/check", {"text": text.replace("#exec", ";")})
    assert [(p["id"], p["line"]) for p in reply.json()["error"]["problems"]] == [
        ("dialplan.paren", 1),
        ("dialplan.unknown_context", 2),
    ]
    good = "exten => s,1,Playback(closed)\n same => n,Goto(cti-route,s,queue)\n"
    reply = await editor.post("/contexts/cti-night/check", {"text": good})
    assert reply.json() == {
        "ok": True,
        "context": "cti-night",
        "extensions": ["s"],
        "priorities": 2,
    }


async def test_a_new_context_gets_its_own_file(editor: Editor) -> None:
    good = "exten => s,1,Playback(closed)\n same => n,Goto(cti-route,s,queue)\n"
    reply = await editor.put("cti-night", good, 0, file="night.conf")
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 1 and reply.json()["file"] == "night.conf"
    assert (editor.folder / "dialplans" / "night.conf").read_text() == f"[cti-night]\n{good}"
    assert "[ Context 'cti-night' created by 'pbx_config' ]" in editor.shown("cti-night")
    listed = (await editor.get("/contexts")).json()
    assert ("cti-night", 1, "night.conf") in [
        (c["context"], c["version"], c["file"]) for c in listed
    ]
    moved = await editor.put(
        "cti-direct", context_text(INBOUND, "cti-direct") or "", 0, file="x.conf"
    )
    assert moved.status_code == 422 and moved.json()["error"]["problems"][0]["id"] == (
        "dialplan.file"
    )


async def test_without_asterisk_nothing_is_saved(editor: Editor) -> None:
    await editor.sim.close()
    text = edited("cti-direct", "Answer()", "Answer(1)")
    reply = await editor.put("cti-direct", text, 0)
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["id"] == "asterisk.unavailable"
    assert editor.inbound.read_text() == INBOUND
    assert (await editor.get("/contexts/cti-direct/versions")).json() == []
    checked = await editor.post("/contexts/cti-direct/check", {"text": text})
    assert checked.status_code == 200, "checking needs no Asterisk"


async def test_agents_and_supervisors_are_refused_by_role(editor: Editor) -> None:
    text = context_text(INBOUND, "cti-direct") or ""
    assert (await editor.get("/contexts", user="alice")).status_code == 403
    assert (await editor.get("/contexts", user="sam")).status_code == 200
    for user in ("alice", "sam"):
        assert (await editor.get("/contexts/cti-direct", user=user)).status_code == 403
        assert (await editor.get("/contexts/cti-direct/versions", user=user)).status_code == 403
        checked = await editor.post("/contexts/cti-direct/check", {"text": text}, user=user)
        assert checked.status_code == 403
        reply = await editor.client.put(
            "/api/dialplan/contexts/cti-direct",
            json={"text": text, "base_version": 0},
            headers=editor.auth(user),
        )
        assert reply.status_code == 403
        assert reply.json()["error"]["id"] == "auth.forbidden"
    assert editor.inbound.read_text() == INBOUND
    assert await editor.audit() == []


async def test_two_writers_claiming_one_version_never_both_win(database_url: str) -> None:
    """Two server processes (two engines) racing for the same version: the table decides."""
    await migrate.upgrade(database_url)
    engines = [create_engine(database_url) for _ in range(2)]
    stores = [DialplanVersions(create_sessionmaker(engine)) for engine in engines]
    try:
        for base in range(4):
            results = await asyncio.gather(
                *(
                    store.claim(
                        "cti-route",
                        base,
                        NewVersion(f"exten => s,1,NoOp({n})\n", "inbound.conf"),
                        author=f"admin{n}",
                        action="dialplan.save",
                        details={},
                    )
                    for n, store in enumerate(stores)
                ),
                return_exceptions=True,
            )
            assert [r for r in results if isinstance(r, int)] == [base + 1], results
            (conflict,) = [r for r in results if isinstance(r, EditConflict)]
            assert conflict.newest == base + 1 and conflict.author in {"admin0", "admin1"}
        with pytest.raises(EditConflict):
            await stores[0].claim(
                "cti-route",
                9,
                NewVersion("x", "inbound.conf"),
                author="a",
                action="dialplan.save",
                details={},
            )
        newest = await stores[1].newest("cti-route")
        assert newest is not None and newest.version == 4
    finally:
        for engine in engines:
            await engine.dispose()
