"""The external CRM over real HTTP: parsing, merging, the budget, every failure, the cache."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cti.contacts.crm import (
    CachedCrmSource,
    CrmError,
    CrmKey,
    HttpCrmSource,
    crm_source_from_settings,
    with_crm,
)
from cti.contacts.facts import (
    ContactFacts,
    DeliveryStatus,
    ExternalFacts,
    OrderFact,
    OrderStatus,
    Severity,
    TicketFact,
    TicketKind,
    TicketStatus,
)
from cti.settings import CrmSettings

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "crm.md"
EXAMPLE: dict[str, Any] = json.loads(
    re.search(r"```json\n(.*?)```", DOC.read_text(), re.DOTALL).group(1)  # type: ignore[union-attr]
)
TOKEN = "tok-5ecr3t-XYZ"
PHONE = "+79161234567"
EMAIL = "ivan@example.org"
BUDGET = 0.3

MIXED: dict[str, Any] = {
    "display_name": "Ivan Petrov",
    "loyalty_tier": "gold",
    "orders": [
        {"number": "B-1", "status": "shipped", "amount_cents": 100, "carrier": "x"},
        {"number": "B-2", "status": "lost"},
        {"number": "B-3", "status": "new", "placed_at": "yesterday"},
        {"number": "B-4", "status": "new", "amount_cents": "100"},
        {"number": "B-5", "status": "new", "placed_at": 1714550000},
        {"status": "new"},
        "B-6",
    ],
    "deliveries": [{"status": "in_transit"}, {"status": "teleported"}],
    "tickets": [
        {"number": "T-1", "kind": "question", "status": "open"},
        {"number": "T-2", "status": "open"},
        {"number": "T-3", "kind": "question", "status": "open", "severity": "apocalyptic"},
    ],
    "purchases": [{"product": "Kettle", "amount_cents": 1.5}, {"product": "Fridge"}],
}


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class CrmServer:
    """A small CRM on a loopback socket, one HTTP/1.1 request per connection."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.hits: Counter[str] = Counter()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            line, *fields = head.split("\r\n")
            _method, target, _version = line.split(" ")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (f.partition(":") for f in fields if f)
            }
            parts = urlsplit(target)
            self.seen.append(Seen(parts.path, parse_qs(parts.query), headers))
            self.hits[target] += 1
            await self._answer(writer, parts.path.removeprefix("/api/contacts"), target)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, route: str, target: str) -> None:
        if route == "" and ("phone=" in target or "email=" in target):
            route = "/ok"
        if route == "/slow":
            await asyncio.sleep(2)
            route = "/ok"
        if route == "/delay":
            await asyncio.sleep(0.2)
            route = "/ok"
        if route == "/flaky":
            route = "/ok" if self.hits[target] > 1 else "/boom"
        if route == "/endless":
            writer.write(_head(200, "Transfer-Encoding: chunked"))
            chunk = b" " * 16_384
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        answers: dict[str, tuple[int, bytes]] = {
            "/ok": (200, json.dumps(EXAMPLE).encode()),
            "/mixed": (200, json.dumps(MIXED).encode()),
            "/boom": (500, b'{"error": "internal"}'),
            "/garbage": (200, b'{"display_name": "Ivan'),
            "/array": (200, json.dumps([EXAMPLE]).encode()),
            "/wrong-type": (200, b'{"debt_cents": "12"}'),
            "/huge": (200, json.dumps({"display_name": "x" * 50_000}).encode()),
        }
        status, body = answers.get(route, (404, b'{"error": "no such contact"}'))
        writer.write(_head(status, f"Content-Length: {len(body)}") + body)
        await writer.drain()


def _head(status: int, extra: str) -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\n{extra}\r\n\r\n"
    ).encode()


@pytest.fixture
async def crm() -> AsyncIterator[CrmServer]:
    server = CrmServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http(crm: CrmServer) -> AsyncIterator[HttpCrmSource]:
    source = HttpCrmSource(crm.url, token=TOKEN, max_bytes=10_000)
    yield source
    await source.aclose()


@pytest.fixture
async def cached(http: HttpCrmSource) -> AsyncIterator[CachedCrmSource]:
    source = CachedCrmSource(http, ttl_seconds=60)
    yield source
    await source.aclose()


LOCAL = ContactFacts(
    contact_id=7,
    display_name="I. Petrov",
    debt_cents=0,
    orders=(
        OrderFact("A-100", OrderStatus.PROCESSING, amount_cents=450000),
        OrderFact("A-050", OrderStatus.CANCELLED),
    ),
    tickets=(TicketFact("T-3", TicketKind.QUESTION, TicketStatus.CLOSED),),
    sources={"local": "ok"},
)


def key(external_id: str | None = None, contact_id: int = 7) -> CrmKey:
    return CrmKey(contact_id, external_id, phones=(PHONE,), emails=(EMAIL,))


def only_local(facts: ContactFacts, crm: str) -> bool:
    return facts == replace(LOCAL, sources={"local": "ok", "crm": crm})


async def test_facts_are_parsed_and_merged_with_the_crm_winning(
    crm: CrmServer, http: HttpCrmSource
) -> None:
    facts = await with_crm(LOCAL, http, key("ok"), BUDGET)

    assert facts.sources == {"local": "ok", "crm": "ok"}
    assert facts.display_name == "Ivan Petrov"
    assert (facts.lifetime_value_cents, facts.debt_cents) == (1284000, 150000)
    assert [(o.number, o.status) for o in facts.orders] == [
        ("A-100", OrderStatus.READY),
        ("A-087", OrderStatus.DELIVERED),
        ("A-050", OrderStatus.CANCELLED),
    ]
    order = facts.orders[0]
    assert order.amount_cents == 459900
    assert order.placed_at == datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=3)))
    assert order.ready_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    (delivery,) = facts.deliveries
    assert delivery.status is DeliveryStatus.SCHEDULED and delivery.order_number == "A-100"
    assert delivery.delivered_at is None and delivery.address == "Moscow, Tverskaya st. 1, apt. 5"
    assert [(t.number, t.severity) for t in facts.tickets] == [
        ("T-17", Severity.HIGH),
        ("T-3", Severity.NORMAL),
    ]
    (purchase,) = facts.purchases
    assert purchase.sku == "WM7-WHT" and purchase.amount_cents == 3499000
    assert purchase.purchased_at == datetime(2024, 2, 11, 16, 40, tzinfo=UTC), "naive is UTC"

    (request,) = crm.seen
    assert request.path == "/api/contacts/ok"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_looked_up_by_id_then_phone_then_email(crm: CrmServer, http: HttpCrmSource) -> None:
    assert await http.fetch(CrmKey(1, "a/b c?", (PHONE,))) is None
    assert await http.fetch(CrmKey(1, None, (PHONE, "+74951112233"), (EMAIL,))) is not None
    assert await http.fetch(CrmKey(1, None, (), (EMAIL,))) is not None
    assert await http.fetch(CrmKey(1, None)) is None, "nothing to ask by"

    paths = [s.path for s in crm.seen]
    assert paths == ["/api/contacts/a%2Fb%20c%3F", "/api/contacts", "/api/contacts"]
    assert crm.seen[1].query == {"phone": [PHONE]}
    assert crm.seen[2].query == {"email": [EMAIL]}


async def test_the_budget_holds_when_the_crm_is_slow(http: HttpCrmSource) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    facts = await with_crm(LOCAL, http, key("slow"), BUDGET)
    elapsed = loop.time() - started

    assert BUDGET - 0.01 <= elapsed < BUDGET + 0.1
    assert only_local(facts, "timeout")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("external_id", "status"),
    [
        ("missing", "not_found"),
        ("boom", "http_500"),
        ("garbage", "bad_json"),
        ("array", "bad_json"),
        ("wrong-type", "bad_json"),
        ("huge", "too_large"),
        ("endless", "too_large"),
    ],
)
async def test_every_failure_leaves_the_local_facts(
    http: HttpCrmSource, external_id: str, status: str
) -> None:
    facts = await with_crm(LOCAL, http, key(external_id), BUDGET)
    assert only_local(facts, status)


async def test_an_unreachable_crm_and_no_crm(crm: CrmServer) -> None:
    source = HttpCrmSource(f"http://127.0.0.1:{closed_port()}")
    try:
        assert only_local(await with_crm(LOCAL, source, key("ok"), BUDGET), "unreachable")
    finally:
        await source.aclose()
    assert only_local(await with_crm(LOCAL, None, key("ok"), BUDGET), "off")


class Broken:
    async def fetch(self, key: CrmKey) -> ExternalFacts | None:
        raise RuntimeError(f"bug while looking up {key.phones}")


async def test_an_unexpected_exception_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    facts = await with_crm(LOCAL, Broken(), key(), BUDGET)
    assert only_local(facts, "error")
    assert "RuntimeError" in caplog.text and PHONE not in caplog.text


async def test_invalid_items_are_dropped_and_the_rest_kept(http: HttpCrmSource) -> None:
    facts = await http.fetch(key("mixed"))

    assert facts is not None
    assert facts.display_name == "Ivan Petrov"
    assert [o.number for o in facts.orders] == ["B-1", "B-4", "B-5"]
    assert [d.status for d in facts.deliveries] == [DeliveryStatus.IN_TRANSIT]
    assert [t.number for t in facts.tickets] == ["T-1"]
    assert [p.product for p in facts.purchases] == ["Fridge"]


async def test_a_cached_answer_needs_no_request(crm: CrmServer, cached: CachedCrmSource) -> None:
    for _ in range(3):
        assert (await with_crm(LOCAL, cached, key("ok"), BUDGET)).sources["crm"] == "ok"
        assert only_local(await with_crm(LOCAL, cached, key("missing", 8), BUDGET), "not_found")
    assert crm.hits == {"/api/contacts/ok": 1, "/api/contacts/missing": 1}


async def test_answers_expire_and_the_oldest_are_evicted(
    crm: CrmServer, http: HttpCrmSource
) -> None:
    now = [0.0]
    cached = CachedCrmSource(http, ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    await cached.fetch(key("ok", 1))
    await cached.fetch(key("ok", 2))
    await cached.fetch(key("ok", 1))
    await cached.fetch(key("ok", 3))  # evicts 2, the least recently used
    assert crm.hits["/api/contacts/ok"] == 3 and len(cached) == 2
    await cached.fetch(key("ok", 1))
    await cached.fetch(key("ok", 3))
    assert crm.hits["/api/contacts/ok"] == 3
    await cached.fetch(key("ok", 2))
    assert crm.hits["/api/contacts/ok"] == 4
    now[0] = 10.0
    await cached.fetch(key("ok", 2))
    assert crm.hits["/api/contacts/ok"] == 5


async def test_concurrent_lookups_share_one_request(
    crm: CrmServer, cached: CachedCrmSource
) -> None:
    results = await asyncio.gather(*(with_crm(LOCAL, cached, key("delay"), 1.0) for _ in range(5)))
    assert [r.sources["crm"] for r in results] == ["ok"] * 5
    assert crm.hits["/api/contacts/delay"] == 1


async def test_a_waiter_giving_up_does_not_spoil_the_shared_request(
    crm: CrmServer, cached: CachedCrmSource
) -> None:
    impatient, patient = await asyncio.gather(
        with_crm(LOCAL, cached, key("delay"), 0.05), with_crm(LOCAL, cached, key("delay"), 1.0)
    )
    assert only_local(impatient, "timeout")
    assert patient.sources["crm"] == "ok"

    # Nobody waits for this one, yet its answer lands in the cache.
    assert only_local(await with_crm(LOCAL, cached, key("delay", 9), 0.05), "timeout")
    await asyncio.sleep(0.3)
    assert (await with_crm(LOCAL, cached, key("delay", 9), 0.05)).sources["crm"] == "ok"
    assert crm.hits["/api/contacts/delay"] == 2


async def test_errors_are_not_cached(crm: CrmServer, cached: CachedCrmSource) -> None:
    assert only_local(await with_crm(LOCAL, cached, key("flaky"), BUDGET), "http_500")
    assert (await with_crm(LOCAL, cached, key("flaky"), BUDGET)).sources["crm"] == "ok"
    assert (await with_crm(LOCAL, cached, key("flaky"), BUDGET)).sources["crm"] == "ok"
    assert crm.hits["/api/contacts/flaky"] == 2


async def test_the_logs_hold_no_token_and_no_personal_data(
    crm: CrmServer, http: HttpCrmSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cti.contacts.crm")
    by_phone = CrmKey(7, None, (PHONE,), (EMAIL,))
    lookups: list[Callable[[], Awaitable[ContactFacts]]] = [
        lambda: with_crm(LOCAL, http, key("boom"), BUDGET),
        lambda: with_crm(LOCAL, http, key("boom"), BUDGET),
        lambda: with_crm(LOCAL, http, key("mixed"), BUDGET),
        lambda: with_crm(LOCAL, http, by_phone, BUDGET),
        lambda: with_crm(LOCAL, http, key("slow"), 0.05),
    ]
    for lookup in lookups:
        await lookup()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, "one per kind"
    assert "http_500" in warnings[0] and "contact 7" in warnings[0]
    assert "timeout" in warnings[1]
    assert "dropped 8 invalid item(s)" in caplog.text
    for secret in (TOKEN, PHONE, PHONE.lstrip("+"), EMAIL, "Ivan", "Kettle"):
        assert secret not in caplog.text
    assert {s.headers["authorization"] for s in crm.seen} == {f"Bearer {TOKEN}"}


def test_a_crm_error_names_its_kind() -> None:
    error = CrmError("too_large", "over 10 bytes")
    assert error.kind == "too_large" and str(error) == "too_large: over 10 bytes"


async def test_the_source_from_settings(crm: CrmServer) -> None:
    assert crm_source_from_settings(CrmSettings()) is None

    source = crm_source_from_settings(CrmSettings(url=crm.url, token=TOKEN, budget_ms=300))
    assert source is not None
    try:
        assert TOKEN not in repr(source)
        for _ in range(2):
            facts = await with_crm(LOCAL, source, key("ok"), 0.3)
            assert facts.sources["crm"] == "ok"
    finally:
        await source.aclose()
    assert crm.hits["/api/contacts/ok"] == 1
    assert crm.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
