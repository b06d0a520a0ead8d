"""The HTTP API over a real (SQLite) database: auth, roles, calls, users, limits, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cti.api.app import create_api
from cti.auth.model import Role, User
from cti.auth.passwords import Passwords
from cti.auth.ratelimit import LoginRateLimiter
from cti.auth.service import create_user, deactivate_user
from cti.auth.tokens import TokenSigner
from cti.callbacks.service import shipped_rules as shipped_callback_rules
from cti.contacts.dossier import default_rules
from cti.dialplan.render import context_text
from cti.routing.service import default_routing
from cti.settings import Settings
from cti.store import migrate
from cti.store.agents import agent_profiles
from cti.store.contacts import ContactRepository
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker
from cti.store.dialplans import DialplanVersions, NewVersion
from cti.store.repositories import AuditRepository, CallRepository, audit
from cti.store.rulesets import RuleSetStore
from tests.integration.test_store import finished_call

pytestmark = pytest.mark.integration

KEY = "test-secret-key-" + "x" * 16
SHIPPED_ROUTE = context_text(
    (Path(__file__).parents[2] / "dialplans" / "inbound.conf").read_text(), "cti-route"
)
PASSWORD = {role: f"{role.value}-password" for role in Role}
LIVE = [
    {
        "linkedid": "1795403632.0",
        "stage": "talking",
        "started_at": 1795403632.0,
        "caller_num": "+79161234567",
        "agent": "PJSIP/1001",
        "reason": "order_ready",
    }
]


class FakeLiveCalls:
    """The live call tracker as the API sees it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = list(LIVE)

    async def active(self) -> list[dict[str, Any]]:
        return self.calls

    async def call(self, linkedid: str) -> dict[str, Any] | None:
        return next((c for c in self.calls if c["linkedid"] == linkedid), None)

    async def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        call = await self.call(linkedid)
        if call is not None:
            call["wrapup"] = wrapup
        return call is not None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    sessionmaker: Sessionmaker
    clock: FakeClock
    tokens: dict[Role, str]
    users: dict[Role, User]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def client_for(app: FastAPI, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://cti.test")


@pytest.fixture
def settings() -> Settings:
    return Settings(secret_key=KEY, demo=False)


@pytest.fixture
async def api(sqlite_url: str, settings: Settings) -> AsyncIterator[Api]:
    await migrate.upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    passwords = Passwords.fast()
    users = {
        role: await create_user(
            sessionmaker,
            username=f"{role.value}1",
            password=PASSWORD[role],
            role=role,
            agent_interface="PJSIP/1001" if role is Role.AGENT else None,
            passwords=passwords,
        )
        for role in Role
    }
    clock = FakeClock()
    app = create_api(
        settings=settings,
        sessionmaker=sessionmaker,
        live_calls=FakeLiveCalls(),
        passwords=passwords,
        limiter=LoginRateLimiter(clock=clock),
    )
    app.state.context.routing.load_profiles(await agent_profiles(sessionmaker))
    async with client_for(app) as client:
        tokens = {}
        for role in Role:
            reply = await client.post(
                "/api/auth/login",
                json={"username": f"{role.value}1", "password": PASSWORD[role]},
            )
            assert reply.status_code == 200, reply.text
            tokens[role] = reply.json()["token"]
        yield Api(app, client, sessionmaker, clock, tokens, users)
    await engine.dispose()


def assert_error(reply: httpx.Response, status: int, error_id: str) -> dict[str, str]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    assert body["error"]["id"] == error_id
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, str] = body["error"]
    return error


# --- role matrix ----------------------------------------------------------------------------

ENDPOINTS: list[tuple[str, str, Role]] = [
    ("GET", "/api/auth/me", Role.AGENT),
    ("GET", "/api/calls/active", Role.AGENT),
    ("GET", "/api/calls/recent", Role.AGENT),
    ("GET", "/api/users", Role.ADMIN),
    ("POST", "/api/users", Role.ADMIN),
    ("GET", "/api/openapi.json", Role.AGENT),
    ("GET", "/metrics", Role.SUPERVISOR),
    ("GET", "/api/contacts/lookup?number=%2B79161234567", Role.AGENT),
    ("GET", "/api/contacts?q=ivan", Role.AGENT),
    ("POST", "/api/contacts", Role.AGENT),
    ("GET", "/api/contacts/{contact_id}", Role.AGENT),
    ("PATCH", "/api/contacts/{contact_id}", Role.AGENT),
    ("GET", "/api/contacts/{contact_id}/dossier", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/notes", Role.AGENT),
    ("GET", "/api/contacts/{contact_id}/export", Role.ADMIN),
    ("DELETE", "/api/contacts/{contact_id}", Role.ADMIN),
    ("GET", "/api/rules/dossier", Role.SUPERVISOR),
    ("GET", "/api/rules/dossier/versions", Role.SUPERVISOR),
    ("GET", "/api/rules/dossier/versions/{version}", Role.SUPERVISOR),
    ("POST", "/api/rules/dossier/check", Role.ADMIN),
    ("PUT", "/api/rules/dossier", Role.ADMIN),
    ("POST", "/api/rules/dossier/rollback", Role.ADMIN),
    ("GET", "/api/routing/rules", Role.SUPERVISOR),
    ("GET", "/api/routing/rules/versions", Role.SUPERVISOR),
    ("GET", "/api/routing/rules/versions/{version}", Role.SUPERVISOR),
    ("POST", "/api/routing/rules/check", Role.ADMIN),
    ("PUT", "/api/routing/rules", Role.ADMIN),
    ("POST", "/api/routing/rules/rollback", Role.ADMIN),
    ("POST", "/api/routing/simulate", Role.SUPERVISOR),
    ("POST", "/api/routing/rules/items", Role.ADMIN),
    ("PUT", "/api/routing/rules/items/{rule_id}", Role.ADMIN),
    ("DELETE", "/api/routing/rules/items/{rule_id}", Role.ADMIN),
    ("GET", "/api/agents", Role.AGENT),
    ("PUT", "/api/agents/{username}/profile", Role.ADMIN),
    ("POST", "/api/agents/{username}/login", Role.AGENT),
    ("POST", "/api/agents/{username}/logout", Role.AGENT),
    ("POST", "/api/agents/{username}/pause", Role.AGENT),
    ("POST", "/api/agents/{username}/unpause", Role.AGENT),
    ("GET", "/api/contacts/{contact_id}/timeline", Role.AGENT),
    ("POST", "/api/calls/{call_id}/wrapup", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/sms", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/email", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/merge", Role.SUPERVISOR),
    ("GET", "/api/agents/{username}/csat", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/notify", Role.AGENT),
    ("POST", "/api/contacts/{contact_id}/conversation/close", Role.AGENT),
    ("GET", "/api/queues/{queue}/staffing?calls_per_hour=200&aht=180", Role.SUPERVISOR),
    ("GET", "/api/dialplan/contexts", Role.SUPERVISOR),
    ("GET", "/api/dialplan/contexts/{context_name}", Role.ADMIN),
    ("GET", "/api/dialplan/contexts/{context_name}/versions", Role.ADMIN),
    ("GET", "/api/dialplan/contexts/{context_name}/versions/{version}", Role.ADMIN),
    ("GET", "/api/dialplan/contexts/{context_name}/diff", Role.ADMIN),
    ("POST", "/api/dialplan/contexts/{context_name}/check", Role.ADMIN),
    ("PUT", "/api/dialplan/contexts/{context_name}", Role.ADMIN),
    ("POST", "/api/dialplan/contexts/{context_name}/rollback", Role.ADMIN),
    ("POST", "/api/agents/{username}/spy", Role.SUPERVISOR),
    ("GET", "/api/audit?limit=5", Role.ADMIN),
    ("GET", "/api/wallboard", Role.SUPERVISOR),
    ("GET", "/api/reports/calls?from=2026-11-10&to=2026-11-11&by=hour", Role.SUPERVISOR),
    ("GET", "/api/reports/calls/list?from=2026-11-10&to=2026-11-11", Role.SUPERVISOR),
    ("GET", "/api/reports/agents?from=2026-11-10&to=2026-11-11", Role.SUPERVISOR),
    ("GET", "/api/reports/csat?from=2026-11-10&to=2026-11-11", Role.SUPERVISOR),
    ("GET", "/api/reports/day?date=2026-11-10&format=csv", Role.SUPERVISOR),
    ("POST", "/api/outbound/calls", Role.AGENT),
    ("GET", "/api/outbound/calls/{attempt_id}", Role.AGENT),
    ("GET", "/api/callbacks", Role.AGENT),
    ("GET", "/api/callbacks/{callback_id}", Role.AGENT),
    ("POST", "/api/callbacks/{callback_id}/take", Role.AGENT),
    ("POST", "/api/callbacks/{callback_id}/call", Role.AGENT),
    ("POST", "/api/callbacks/{callback_id}/close", Role.AGENT),
    ("PUT", "/api/contacts/{contact_id}/do-not-call", Role.AGENT),
    ("GET", "/api/callbacks/rules", Role.SUPERVISOR),
    ("GET", "/api/callbacks/rules/versions", Role.SUPERVISOR),
    ("GET", "/api/callbacks/rules/versions/{version}", Role.SUPERVISOR),
    ("POST", "/api/callbacks/rules/check", Role.ADMIN),
    ("PUT", "/api/callbacks/rules", Role.ADMIN),
    ("POST", "/api/callbacks/rules/rollback", Role.ADMIN),
]
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/api/auth/login")}
SIGNED = {("POST", "/webhooks/sms/twilio"), ("POST", "/webhooks/sms")}
"""Open to providers, which cannot log in: each request must carry the provider's
signature (tests/integration/test_sms.py)."""
SUCCESS = {
    "POST": 201,
    "DELETE": 204,
    ("POST", "/api/rules/dossier/check"): 200,
    ("POST", "/api/rules/dossier/rollback"): 200,
    ("POST", "/api/routing/rules/check"): 200,
    ("POST", "/api/routing/rules/rollback"): 200,
    ("POST", "/api/routing/simulate"): 200,
    ("DELETE", "/api/routing/rules/items/{rule_id}"): 200,
    # The matrix's contact has no phone: past the role check, the reply is judged (test_sms).
    ("POST", "/api/contacts/{contact_id}/sms"): 422,
    ("POST", "/api/contacts/{contact_id}/email"): 422,
    ("POST", "/api/contacts/{contact_id}/notify"): 422,
    ("POST", "/api/contacts/{contact_id}/conversation/close"): 409,
    # A duplicate that does not exist: past the role check, the merge is judged (404).
    ("POST", "/api/contacts/{contact_id}/merge"): 404,
    # No Asterisk behind this API: past the role check, Asterisk is unavailable.
    ("POST", "/api/agents/{username}/login"): 503,
    ("POST", "/api/agents/{username}/logout"): 503,
    ("POST", "/api/agents/{username}/pause"): 503,
    ("POST", "/api/agents/{username}/unpause"): 503,
    ("POST", "/api/dialplan/contexts/{context_name}/check"): 200,
    # A valid dialplan but no Asterisk to push it to: nothing is saved.
    ("PUT", "/api/dialplan/contexts/{context_name}"): 503,
    ("POST", "/api/dialplan/contexts/{context_name}/rollback"): 503,
    # The matrix's supervisors have no phone to ring into the agent's call.
    ("POST", "/api/agents/{username}/spy"): 422,
    # The matrix's API runs without the WebSocket hub that holds the wallboard.
    ("GET", "/api/wallboard"): 503,
    # Past the role check, a number that is not one (or a user with no phone) is judged.
    ("POST", "/api/outbound/calls"): 422,
    # Past the role check, the attempt or call-back is looked for: there is none.
    ("GET", "/api/outbound/calls/{attempt_id}"): 404,
    ("GET", "/api/callbacks/{callback_id}"): 404,
    ("POST", "/api/callbacks/{callback_id}/take"): 404,
    ("POST", "/api/callbacks/{callback_id}/call"): 404,
    ("POST", "/api/callbacks/{callback_id}/close"): 404,
    # The matrix's contact has no phone to mark.
    ("PUT", "/api/contacts/{contact_id}/do-not-call"): 404,
    ("POST", "/api/callbacks/rules/check"): 200,
    ("POST", "/api/callbacks/rules/rollback"): 200,
}


async def test_every_route_is_either_public_or_in_the_role_matrix(api: Api) -> None:
    paths = api.app.openapi()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    matrix = {(method, path.split("?")[0]) for method, path, _ in ENDPOINTS}
    assert routes == PUBLIC | SIGNED | matrix
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await api.client.get(path)).status_code == 404


_created = iter(range(10_000))


def body_for(method: str, path: str) -> dict[str, Any] | None:
    if path.endswith("/sms"):
        return {"body": "Your order is ready.", "to": None}
    if path.endswith("/email"):
        return {"body": "Your order is ready."}
    if path.endswith("/notify"):
        return {"text": "Your order is ready."}
    if path.endswith("/merge"):
        return {"duplicate": 999_999}
    if method == "POST" and path == "/api/users":
        return {"username": f"new{next(_created)}", "password": "new-password", "role": "agent"}
    if path == "/api/contacts/{contact_id}/notes":
        return {"body": "Prefers email."}
    if path.startswith("/api/contacts") and method in {"POST", "PATCH"}:
        return {"name": "Ivan Petrov", "phones": ["8 916 123-45-67"]}
    if path in {"/api/rules/dossier", "/api/rules/dossier/check"}:
        return {"rules": default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)}
    if path in {"/api/routing/rules", "/api/routing/rules/check"}:
        return {"rules": default_routing()}
    if path.startswith("/api/dialplan/contexts/") and (method == "PUT" or path.endswith("/check")):
        return {"text": SHIPPED_ROUTE, "base_version": 0}
    if path in {"/api/callbacks/rules", "/api/callbacks/rules/check"}:
        return {"rules": shipped_callback_rules()}
    if path == "/api/outbound/calls":
        return {"number": "not a number"}
    if path.endswith("/close"):
        return {"state": "done", "note": ""}
    if path.endswith("/do-not-call"):
        return {"number": "+79161234567"}
    if path.endswith("/rollback"):
        return {"version": 1}
    if path == "/api/routing/simulate":
        return {"number": "8 916 123-45-67"}
    if path.startswith("/api/routing/rules/items"):
        rule = {"id": "support", "priority": 40, "when": {"reason": ["support"]}}
        if method == "POST":
            rule = {"id": "extra", "priority": 99, "when": {"reason": ["extra"]}}
        return {"rule": {**rule, "target": {"skill": "support"}}}
    if path.endswith("/pause"):
        return {"reason": "lunch"}
    if path.endswith("/wrapup"):
        return {"disposition": "resolved", "notes": "Delivery booked for Friday."}
    if path.endswith("/profile"):
        return {"skills": {"sales": 2}, "languages": ["ru"]}
    return None


async def concrete(api: Api, path: str) -> str:
    """The path with a fresh contact and an existing rules version filled in."""
    if "{contact_id}" in path:
        contact_id = await ContactRepository(api.sessionmaker).create("Olga Smirnova")
        path = path.replace("{contact_id}", str(contact_id))
    path = path.replace("{username}", "agent1").replace("{rule_id}", "support")
    path = path.replace("{call_id}", LIVE[0]["linkedid"]).replace("{queue}", "sales")
    path = path.replace("{context_name}", "cti-route")
    path = path.replace("{callback_id}", "999999").replace("{attempt_id}", "999999")
    if path.startswith("/api/dialplan/contexts/cti-route/") and (
        "{version}" in path or path.endswith(("/rollback", "/diff"))
    ):
        dialplans = DialplanVersions(api.sessionmaker)
        if await dialplans.newest("cti-route") is None:
            new = NewVersion(SHIPPED_ROUTE, "inbound.conf")
            await dialplans.claim(
                "cti-route", 0, new, author="test", action="dialplan.save", details={}
            )
        return path.replace("{version}", "1")
    if "{version}" in path or path.endswith("/rollback"):
        store = RuleSetStore(api.sessionmaker)
        if path.startswith("/api/routing"):
            name, document = "routing", default_routing()
        elif path.startswith("/api/callbacks"):
            name, document = "callbacks", shipped_callback_rules()
        else:
            name = "dossier"
            document = default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)
        if await store.latest_version(name) == 0:
            await store.save(name, document, author="test")
        path = path.replace("{version}", "1")
    return path


@pytest.mark.parametrize(("method", "path", "minimum"), ENDPOINTS)
async def test_every_endpoint_needs_a_token(
    api: Api, method: str, path: str, minimum: Role
) -> None:
    body = body_for(method, path)
    path = await concrete(api, path)
    reply = await api.client.request(method, path, json=body)
    assert_error(reply, 401, "auth.not_authenticated")
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    for header in (
        "Bearer",
        "Bearer not-a-token",
        "Basic YWRtaW46YWRtaW4=",
        api.tokens[Role.ADMIN],
    ):
        reply = await api.client.request(method, path, json=body, headers={"Authorization": header})
        assert reply.status_code == 401, header


@pytest.mark.parametrize(("method", "path", "minimum"), ENDPOINTS)
@pytest.mark.parametrize("role", list(Role))
async def test_role_matrix(api: Api, method: str, path: str, minimum: Role, role: Role) -> None:
    body = body_for(method, path)
    expected = SUCCESS.get((method, path), SUCCESS.get(method, 200))
    path = await concrete(api, path)
    reply = await api.client.request(method, path, json=body, headers=api.auth(role))
    if role >= minimum:
        assert reply.status_code == expected, reply.text
    else:
        error = assert_error(reply, 403, "auth.forbidden")
        assert minimum.value in error["message"]


async def test_expired_and_forged_tokens_are_refused(api: Api, settings: Settings) -> None:
    admin = api.users[Role.ADMIN]
    old = TokenSigner(KEY, clock=lambda: 1_000_000.0).issue(admin).token
    assert_error(
        await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"}),
        401,
        "auth.token_expired",
    )
    forged = TokenSigner("another-key-" + "y" * 16).issue(admin).token
    assert_error(
        await api.client.get("/api/users", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "auth.invalid_token",
    )


async def test_a_deactivated_users_token_stops_working(api: Api) -> None:
    assert (await api.client.get("/api/auth/me", headers=api.auth(Role.AGENT))).status_code == 200
    await deactivate_user(api.sessionmaker, "agent1", actor="admin1")
    assert_error(
        await api.client.get("/api/auth/me", headers=api.auth(Role.AGENT)),
        401,
        "auth.invalid_token",
    )


# --- login ----------------------------------------------------------------------------------


async def test_login_returns_a_token_for_the_user(api: Api) -> None:
    reply = await api.client.post(
        "/api/auth/login", json={"username": "Supervisor1", "password": PASSWORD[Role.SUPERVISOR]}
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "supervisor1"
    assert body["user"]["role"] == "supervisor"
    assert "password_hash" not in body["user"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires - datetime.now(UTC) <= timedelta(hours=12)
    me = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["username"] == "supervisor1"
    assert me.json()["role"] == "supervisor"


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    wrong = await api.client.post(
        "/api/auth/login", json={"username": "admin1", "password": "not-the-password"}
    )
    unknown = await api.client.post(
        "/api/auth/login", json={"username": "nobody", "password": "not-the-password"}
    )
    error = assert_error(wrong, 401, "auth.invalid_credentials")
    assert error["message"] == "Wrong username or password."
    assert wrong.json() == unknown.json()
    assert unknown.status_code == 401


async def test_deactivated_user_cannot_log_in(api: Api) -> None:
    await deactivate_user(api.sessionmaker, "agent1")
    reply = await api.client.post(
        "/api/auth/login", json={"username": "agent1", "password": PASSWORD[Role.AGENT]}
    )
    assert_error(reply, 401, "auth.invalid_credentials")


async def test_login_is_rate_limited_per_username_and_address(api: Api) -> None:
    wrong = {"username": "admin1", "password": "guess-guess"}
    for _ in range(5):
        assert (await api.client.post("/api/auth/login", json=wrong)).status_code == 401
    blocked = await api.client.post("/api/auth/login", json=wrong)
    assert_error(blocked, 429, "auth.rate_limited")
    assert blocked.headers["Retry-After"] == "60"
    right = {"username": "admin1", "password": PASSWORD[Role.ADMIN]}
    assert (await api.client.post("/api/auth/login", json=right)).status_code == 429
    async with client_for(api.app, "10.0.0.2") as elsewhere:
        assert (await elsewhere.post("/api/auth/login", json=right)).status_code == 200
    other_user = {"username": "agent1", "password": PASSWORD[Role.AGENT]}
    assert (await api.client.post("/api/auth/login", json=other_user)).status_code == 200
    api.clock.now += 61
    assert (await api.client.post("/api/auth/login", json=right)).status_code == 200


async def test_malformed_login_is_422_without_echoing_the_password(api: Api) -> None:
    reply = await api.client.post("/api/auth/login", json={"username": "admin1"})
    error = assert_error(reply, 422, "request.invalid")
    assert "password" in error["message"]
    reply = await api.client.post(
        "/api/auth/login", json={"username": "", "password": "hunter2-secret"}
    )
    assert_error(reply, 422, "request.invalid")
    assert "hunter2" not in reply.text
    reply = await api.client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 422, "request.invalid")


async def test_secrets_never_reach_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cti")
    for password in ("wrong-secret-1", PASSWORD[Role.ADMIN]):
        await api.client.post("/api/auth/login", json={"username": "admin1", "password": password})
    await api.client.post(
        "/api/users",
        json={"username": "erin", "password": "erin-secret-pw", "role": "agent"},
        headers=api.auth(Role.ADMIN),
    )
    text = caplog.text
    assert "admin1" in text
    for secret in ("wrong-secret-1", PASSWORD[Role.ADMIN], "erin-secret-pw", KEY, "$argon2"):
        assert secret not in text
    assert api.tokens[Role.ADMIN] not in text


# --- calls ----------------------------------------------------------------------------------


async def test_active_calls_come_from_the_tracker(api: Api) -> None:
    reply = await api.client.get("/api/calls/active", headers=api.auth(Role.AGENT))
    assert reply.json() == {"calls": LIVE, "next_before": None}


async def test_recent_calls_come_from_the_database_newest_first(api: Api) -> None:
    repository = CallRepository(api.sessionmaker)
    stored = [finished_call(n) for n in range(5)]
    await repository.save_many(stored)
    newest = [c["linkedid"] for c in reversed(stored)]

    reply = await api.client.get("/api/calls/recent?limit=2", headers=api.auth(Role.AGENT))
    page = reply.json()
    assert [c["linkedid"] for c in page["calls"]] == newest[:2]
    assert page["calls"][0]["rings"][0]["interface"] == "PJSIP/1001"
    assert page["next_before"] == pytest.approx(stored[3]["ended_at"])

    reply = await api.client.get(
        "/api/calls/recent",
        params={"limit": 2, "before": page["next_before"]},
        headers=api.auth(Role.AGENT),
    )
    assert [c["linkedid"] for c in reply.json()["calls"]] == newest[2:4]

    iso = datetime.fromtimestamp(stored[1]["ended_at"], UTC).isoformat()
    reply = await api.client.get(
        "/api/calls/recent", params={"before": iso}, headers=api.auth(Role.AGENT)
    )
    assert [c["linkedid"] for c in reply.json()["calls"]] == newest[4:]
    assert reply.json()["next_before"] is None


async def test_recent_limit_is_capped_and_checked(api: Api) -> None:
    await CallRepository(api.sessionmaker).save_many([finished_call(n) for n in range(205)])
    reply = await api.client.get("/api/calls/recent?limit=100000", headers=api.auth(Role.AGENT))
    assert len(reply.json()["calls"]) == 200
    reply = await api.client.get("/api/calls/recent", headers=api.auth(Role.AGENT))
    assert len(reply.json()["calls"]) == 50
    for bad in ("limit=0", "limit=ten", "before=yesterday"):
        reply = await api.client.get(f"/api/calls/recent?{bad}", headers=api.auth(Role.AGENT))
        assert_error(reply, 422, "request.invalid")


# --- users ----------------------------------------------------------------------------------


async def test_admin_creates_a_user_and_it_is_audited(api: Api) -> None:
    reply = await api.client.post(
        "/api/users",
        json={
            "username": "Frank",
            "password": "frank-password",
            "role": "supervisor",
            "display_name": "Frank Lee",
            "agent_interface": "PJSIP/1002",
        },
        headers=api.auth(Role.ADMIN),
    )
    assert reply.status_code == 201
    created = reply.json()
    assert created["username"] == "frank"
    assert created["agent_interface"] == "PJSIP/1002"
    assert "password" not in str(created)
    listed = (await api.client.get("/api/users", headers=api.auth(Role.ADMIN))).json()
    assert [u["username"] for u in listed] == ["admin1", "agent1", "frank", "supervisor1"]
    async with api.sessionmaker() as session:
        latest = (await AuditRepository(session).latest(1))[0]
    assert (latest["actor"], latest["action"], latest["target"]) == (
        "admin1",
        "user.create",
        "frank",
    )
    login = await api.client.post(
        "/api/auth/login", json={"username": "frank", "password": "frank-password"}
    )
    assert login.status_code == 200


async def test_user_creation_errors(api: Api) -> None:
    admin = api.auth(Role.ADMIN)
    base = {"username": "grace", "password": "grace-password", "role": "agent"}
    assert (await api.client.post("/api/users", json=base, headers=admin)).status_code == 201
    assert_error(await api.client.post("/api/users", json=base, headers=admin), 409, "users.exists")
    for changes, error_id in (
        ({"role": "root"}, "request.invalid"),
        ({"password": "short"}, "users.invalid"),
        ({"username": "has space"}, "users.invalid"),
        ({"agent_interface": "1001"}, "users.invalid"),
    ):
        reply = await api.client.post(
            "/api/users", json={**base, "username": "henry", **changes}, headers=admin
        )
        assert_error(reply, 422, error_id)


# --- limits, health, plain HTTP errors ------------------------------------------------------


async def test_oversized_body_is_refused_with_413(api: Api) -> None:
    big = b'{"username": "admin1", "password": "' + b"x" * (1024 * 1024) + b'"}'
    reply = await api.client.post(
        "/api/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 413, "request.too_large")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "admin1", "password": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    reply = await api.client.post(
        "/api/users",
        content=chunks(),
        headers={"Content-Type": "application/json", **api.auth(Role.ADMIN)},
    )
    assert "content-length" not in {k.lower() for k in reply.request.headers}
    assert_error(reply, 413, "request.too_large")


async def test_health_and_readiness(api: Api, tmp_path: Path, settings: Settings) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'cti.db'}")
    broken = create_api(
        settings=settings, sessionmaker=create_sessionmaker(engine), live_calls=FakeLiveCalls()
    )
    async with client_for(broken) as client:
        reply = await client.get("/readyz")
        assert (reply.status_code, reply.json()) == (503, {"status": "not ready"})
        assert (await client.get("/healthz")).status_code == 200
    await engine.dispose()


async def test_unknown_paths_and_methods_are_json_errors(api: Api) -> None:
    assert_error(await api.client.get("/api/nothing"), 404, "http.not_found")
    assert_error(await api.client.delete("/api/auth/login"), 405, "http.method_not_allowed")


def test_api_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(ValueError, match="CTI_SECRET_KEY"):
        create_api(
            settings=Settings(secret_key="", demo=False),
            sessionmaker=create_sessionmaker(create_engine("sqlite+aiosqlite://")),
            live_calls=FakeLiveCalls(),
        )


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("CTI_SECRET_KEY", "CTI_DEMO", "CTI_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


async def test_an_unexpected_error_is_a_bare_500(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def active(self) -> list[dict[str, Any]]:
            raise RuntimeError("tracker exploded: internal detail")

    app = create_api(settings=settings, sessionmaker=api.sessionmaker, live_calls=Broken())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as client:
        reply = await client.get("/api/calls/active", headers=api.auth(Role.AGENT))
    assert_error(reply, 500, "internal")
    assert "exploded" not in reply.text
    assert "tracker exploded" in caplog.text


async def test_contact_lookup_never_fails_on_junk(api: Api) -> None:
    reply = await api.client.get(
        "/api/contacts/lookup", params={"number": "anonymous"}, headers=api.auth(Role.AGENT)
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "raw": "anonymous",
        "number": None,
        "problem": "unknown",
        "match": "none",
        "candidates": [],
        "dossier": None,
    }
    reply = await api.client.get(
        "/api/contacts/lookup", params={"number": "9" * 65}, headers=api.auth(Role.AGENT)
    )
    assert reply.status_code == 422


async def test_the_audit_log_pages_and_filters_newest_first(api: Api) -> None:
    for n in range(5):
        await audit(
            api.sessionmaker,
            actor="sup1" if n % 2 else "admin9",
            action=f"agent.spy.{'barge' if n % 2 else 'listen'}",
            target=f"agent{n}",
            before={"state": "on_call"},
            after={"n": n},
        )
    admin = api.auth(Role.ADMIN)
    first = (await api.client.get("/api/audit?limit=2&action=agent.spy", headers=admin)).json()
    assert [e["target"] for e in first["entries"]] == ["agent4", "agent3"]
    rest = await api.client.get(
        f"/api/audit?limit=10&action=agent.spy&before={first['next']}", headers=admin
    )
    assert [e["target"] for e in rest.json()["entries"]] == ["agent2", "agent1", "agent0"]
    assert rest.json()["next"] is None
    sup = (await api.client.get("/api/audit?actor=sup1&action=agent.", headers=admin)).json()
    assert {e["target"] for e in sup["entries"]} == {"agent1", "agent3"}
    assert sup["entries"][0]["details"] == {"before": {"state": "on_call"}, "after": {"n": 3}}
    like = await api.client.get("/api/audit?action=agent%25", headers=admin)
    assert like.json()["entries"] == []  # a prefix, not a pattern
