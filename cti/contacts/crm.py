"""A site's CRM as an extra source of contact facts: the HTTP client, its cache, the merge.

``HttpCrmSource`` asks the CRM's contact API (the format is in ``docs/crm.md``),
``CachedCrmSource`` remembers the answers and shares concurrent requests, and ``with_crm``
adds what the CRM knows to the local facts without ever failing or overrunning its budget.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)

from cti.contacts.facts import ContactFacts, ExternalFacts, merge
from cti.contacts.records import DeliveryIn, OrderIn, PurchaseIn, TicketIn
from cti.settings import CrmSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""Seconds a whole request of an ``HttpCrmSource`` may take when not told otherwise."""

WARN_EVERY = 60.0
"""Seconds between two warnings about the same kind of failure of one source."""

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class CrmKey:
    """How the CRM may know a contact: its id there, else its phones (E.164) and emails."""

    contact_id: int
    external_id: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


class CrmError(Exception):
    """The CRM could not answer; ``kind`` says why in a word (``timeout``, ``http_500``…).

    ``detail`` is logged, so it must hold no personal data (no numbers, addresses, values).
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class CrmSource(Protocol):
    """Where external facts come from."""

    async def fetch(self, key: CrmKey) -> ExternalFacts | None:
        """The CRM's facts, ``None`` when it does not know the contact; raises ``CrmError``."""
        ...


# The CRM's JSON, as docs/crm.md describes it. Items are validated one by one so that a bad
# one (an unknown status, a malformed date) costs only itself.


class _OrderIn(OrderIn):
    model_config = ConfigDict(extra="ignore")


class _DeliveryIn(DeliveryIn):
    model_config = ConfigDict(extra="ignore")


class _TicketIn(TicketIn):
    model_config = ConfigDict(extra="ignore")


class _PurchaseIn(PurchaseIn):
    model_config = ConfigDict(extra="ignore")


class _ContactIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    display_name: str | None = None
    lifetime_value_cents: int | None = None
    debt_cents: int | None = None
    orders: list[Any] | None = None
    deliveries: list[Any] | None = None
    tickets: list[Any] | None = None
    purchases: list[Any] | None = None


def _fields(exc: ValidationError) -> str:
    # Names only: the values may be personal data.
    return ",".join(sorted({".".join(map(str, e["loc"])) or "item" for e in exc.errors()}))


def _valid(items: list[Any] | None, model: type[_M], name: str, dropped: list[str]) -> list[_M]:
    kept: list[_M] = []
    for index, item in enumerate(items or ()):
        try:
            kept.append(model.model_validate(item))
        except ValidationError as exc:
            dropped.append(f"{name}[{index}]({_fields(exc)})")
    return kept


def parse_contact(body: bytes, contact_id: int = 0) -> ExternalFacts:
    """The facts in a CRM answer; invalid items are dropped, a non-object is ``bad_json``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise CrmError("bad_json", "not JSON") from exc
    if not isinstance(data, dict):
        raise CrmError("bad_json", "not an object")
    try:
        contact = _ContactIn.model_validate(data)
    except ValidationError as exc:
        raise CrmError("bad_json", f"bad field(s) {_fields(exc)}") from None
    dropped: list[str] = []
    facts = ExternalFacts(
        display_name=contact.display_name,
        lifetime_value_cents=contact.lifetime_value_cents,
        debt_cents=contact.debt_cents,
        orders=tuple(o.fact() for o in _valid(contact.orders, _OrderIn, "orders", dropped)),
        deliveries=tuple(
            d.fact() for d in _valid(contact.deliveries, _DeliveryIn, "deliveries", dropped)
        ),
        tickets=tuple(t.fact() for t in _valid(contact.tickets, _TicketIn, "tickets", dropped)),
        purchases=tuple(
            p.fact() for p in _valid(contact.purchases, _PurchaseIn, "purchases", dropped)
        ),
    )
    if dropped:
        log.debug(
            "CRM answer for contact %d: dropped %d invalid item(s): %s",
            contact_id,
            len(dropped),
            "; ".join(dropped[:20]),
        )
    return facts


class HttpCrmSource:
    """A CRM's contact API over HTTP (``GET /contacts/{id}``, ``GET /contacts?phone=…``).

    ``timeout`` bounds a whole request, however slowly the CRM drips its answer; a client
    passed in is used as is (and left open), one made here has ``timeout`` for each phase.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        client: httpx.AsyncClient | None = None,
        max_bytes: int = 1_000_000,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)
        self._max_bytes = max_bytes
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HttpCrmSource({self._base!r})"

    async def fetch(self, key: CrmKey) -> ExternalFacts | None:
        """Ask the CRM about one contact; ``None`` on 404 or when there is nothing to ask by."""
        if key.external_id:
            url, params = f"{self._base}/contacts/{quote(key.external_id, safe='')}", None
        elif key.phones:
            url, params = f"{self._base}/contacts", {"phone": key.phones[0]}
        elif key.emails:
            url, params = f"{self._base}/contacts", {"email": key.emails[0]}
        else:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                body = await self._get(url, params)
        except TimeoutError as exc:
            raise CrmError("timeout") from exc
        return None if body is None else parse_contact(body, key.contact_id)

    async def _get(self, url: str, params: dict[str, str] | None) -> bytes | None:
        try:
            async with self._client.stream(
                "GET", url, params=params, headers=self._headers
            ) as response:
                if response.status_code == 404:
                    return None
                if not 200 <= response.status_code < 300:
                    raise CrmError(f"http_{response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise CrmError("too_large", f"{declared} bytes declared")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise CrmError("too_large", f"over {self._max_bytes} bytes")
                return bytes(body)
        except httpx.TimeoutException as exc:
            raise CrmError("timeout") from exc
        except (httpx.NetworkError, httpx.ProxyError, httpx.UnsupportedProtocol) as exc:
            raise CrmError("unreachable", type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise CrmError("protocol", type(exc).__name__) from exc
        except httpx.InvalidURL as exc:
            raise CrmError("bad_url") from exc

    async def aclose(self) -> None:
        """Close the HTTP client if this source made it."""
        if self._owns_client:
            await self._client.aclose()


@dataclass(slots=True)
class _Entry:
    expires: float
    facts: ExternalFacts | None


class CachedCrmSource:
    """Answers (a "not known" too) reused for ``ttl_seconds`` per contact, LRU-bounded.

    Concurrent fetches of one contact share a single request, which runs on even when every
    waiter gives up, so that its answer still lands in the cache. Errors are not cached.
    """

    def __init__(
        self,
        source: CrmSource,
        ttl_seconds: float,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._ttl = ttl_seconds
        self._max_entries = max(max_entries, 1)
        self._clock = clock
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._inflight: dict[int, asyncio.Task[ExternalFacts | None]] = {}

    def __repr__(self) -> str:
        return f"CachedCrmSource({self.source!r}, ttl_seconds={self._ttl})"

    def __len__(self) -> int:
        return len(self._entries)

    async def fetch(self, key: CrmKey) -> ExternalFacts | None:
        """The cached answer while fresh, else the (shared) answer of the source."""
        entry = self._entries.get(key.contact_id)
        if entry is not None:
            if self._clock() < entry.expires:
                self._entries.move_to_end(key.contact_id)
                return entry.facts
            del self._entries[key.contact_id]
        task = self._inflight.get(key.contact_id)
        if task is None:
            task = asyncio.create_task(self._load(key), name=f"crm-fetch-{key.contact_id}")
            self._inflight[key.contact_id] = task
            task.add_done_callback(partial(self._landed, key.contact_id))
        # A waiter that is cancelled (its budget ran out) must not cancel the shared request.
        return await asyncio.shield(task)

    async def _load(self, key: CrmKey) -> ExternalFacts | None:
        facts = await self.source.fetch(key)
        if self._ttl > 0:
            self._entries[key.contact_id] = _Entry(self._clock() + self._ttl, facts)
            self._entries.move_to_end(key.contact_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return facts

    def _landed(self, contact_id: int, task: asyncio.Task[ExternalFacts | None]) -> None:
        if self._inflight.get(contact_id) is task:
            del self._inflight[contact_id]
        if not task.cancelled():
            task.exception()  # retrieved: a failure nobody waited for is not a loop error

    def clear(self) -> None:
        """Forget every cached answer."""
        self._entries.clear()

    async def aclose(self) -> None:
        """Stop the requests in flight and close the source."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        closer = getattr(self.source, "aclose", None)
        if closer is not None:
            await closer()


class _WarningGate:
    """At most one warning per kind per ``every`` seconds, counting those held back."""

    def __init__(self, every: float = WARN_EVERY) -> None:
        self._every = every
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def admit(self, kind: str) -> int | None:
        """``None``: stay quiet; else warn, mentioning this many failures held back."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self._every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._held.pop(kind, 0)


_gates: weakref.WeakKeyDictionary[object, _WarningGate] = weakref.WeakKeyDictionary()
_shared_gate = _WarningGate()
_abandoned: set[asyncio.Task[ExternalFacts | None]] = set()


def _gate(source: object) -> _WarningGate:
    try:
        gate = _gates.get(source)
        if gate is None:
            gate = _gates[source] = _WarningGate()
    except TypeError:  # not weakly referenceable or not hashable
        return _shared_gate
    return gate


def _warn(source: object, kind: str, contact_id: int, detail: str = "") -> None:
    held = _gate(source).admit(kind)
    if held is None:
        return
    log.warning(
        "CRM lookup failed (%s%s) for contact %d; the dossier has local facts only%s",
        kind,
        f": {detail}" if detail else "",
        contact_id,
        f" ({held} more such failure(s) since the last warning)" if held else "",
    )


def _forget(task: asyncio.Task[ExternalFacts | None]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()


def _abandon(task: asyncio.Task[ExternalFacts | None]) -> None:
    # Cancelled but not awaited: the caller's wait must end now. Kept referenced until done.
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)


async def _fetch(source: CrmSource, key: CrmKey) -> ExternalFacts | None:
    return await source.fetch(key)


def _noted(facts: ContactFacts, crm: str) -> ContactFacts:
    return replace(facts, sources={"local": "ok", **facts.sources, "crm": crm})


async def with_crm(
    local: ContactFacts, source: CrmSource | None, key: CrmKey, budget: float
) -> ContactFacts:
    """The local facts with the CRM's merged in, within ``budget`` seconds, never raising.

    ``sources["crm"]`` says how it went: ``ok``, ``off``, ``not_found``, ``timeout``, a
    ``CrmError`` kind, or ``error``; on anything but ``ok`` the facts are the local ones.
    """
    if source is None:
        return _noted(local, "off")
    task = asyncio.create_task(_fetch(source, key), name=f"crm-{key.contact_id}")
    try:
        done, _ = await asyncio.wait((task,), timeout=max(budget, 0.0))
    except BaseException:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        _warn(source, "timeout", key.contact_id)
        return _noted(local, "timeout")
    try:
        external = task.result()
    except CrmError as exc:
        _warn(source, exc.kind, key.contact_id, exc.detail)
        return _noted(local, exc.kind)
    except TimeoutError:
        _warn(source, "timeout", key.contact_id)
        return _noted(local, "timeout")
    except (Exception, asyncio.CancelledError) as exc:
        _warn(source, "error", key.contact_id, type(exc).__name__)
        return _noted(local, "error")
    if external is None:
        return _noted(local, "not_found")
    try:
        merged = merge(local, external)
    except Exception as exc:
        _warn(source, "error", key.contact_id, type(exc).__name__)
        return _noted(local, "error")
    return _noted(merged, "ok")


def crm_source_from_settings(settings: CrmSettings) -> CachedCrmSource | None:
    """The configured CRM behind its cache, or ``None`` when no URL is set.

    The HTTP timeout is a second above the budget: a request a dossier gave up on may still
    finish and fill the cache for the next one, but cannot run on for long.
    """
    if not settings.url:
        return None
    budget = settings.budget_ms / 1000
    http = HttpCrmSource(
        settings.url, token=settings.token.get_secret_value(), timeout=budget + 1.0
    )
    return CachedCrmSource(http, ttl_seconds=settings.cache_seconds)
