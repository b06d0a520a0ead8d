"""``cti demo``: the real server against the PBX simulator, with demo users and callers."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from cti.app import Runtime, build_app, build_runtime
from cti.auth.exceptions import UserExists
from cti.auth.service import create_user
from cti.contacts.facts import Channel, InteractionFact
from cti.contacts.records import ContactIn, check_contact
from cti.pbxsim import PbxSimulator
from cti.runner import serve_app
from cti.settings import Settings
from cti.store.agents import agent_profiles, save_agent_profile
from cti.store.contacts import find_existing, interaction_record, save_contact
from cti.store.db import Sessionmaker

log = logging.getLogger(__name__)

DEMO_USERS = (
    ("admin", "admin", "demo-admin", None, "Administrator"),
    ("supervisor", "supervisor", "demo-supervisor", None, "Sam Supervisor"),
    ("alice", "agent", "demo-agent", "PJSIP/1001", "Alice"),
    ("bob", "agent", "demo-agent", "PJSIP/1002", "Bob"),
    ("carol", "agent", "demo-agent", "PJSIP/1003", "Carol"),
    ("dan", "agent", "demo-agent", "PJSIP/1004", "Dan"),
)
DEMO_CALLERS = [
    ("+79161234567", "Ivan Petrov"),
    ("+79165550101", "Olga Smirnova"),
    ("+79035550102", "Sergey Kuznetsov"),
    ("+79265550103", "Anna Popova"),
    ("+74955550104", "Dmitry Volkov"),
    ("+79855550105", "Elena Sokolova"),
    ("+79095550106", "Mikhail Lebedev"),
    ("+79775550107", "Natalia Kozlova"),
    ("+79645550108", ""),
    ("anonymous", ""),
]


def demo_contacts(now: datetime) -> list[tuple[dict[str, Any], list[InteractionFact]]]:
    """The demo's customers, each with a reason to call, dated relative to ``now``."""

    def ago(days: float) -> str:
        return (now - timedelta(days=days)).isoformat()

    return [
        (
            {
                "external_id": "DEMO-1",
                "name": "Ivan Petrov",
                "language": "en",
                "phones": ["+79161234567"],
                "emails": ["ivan.petrov@example.org"],
                "lifetime_value_cents": 18_500_000,
                "orders": [
                    {
                        "number": "1234",
                        "status": "ready",
                        "amount_cents": 12_990_000,
                        "placed_at": ago(4),
                        "ready_at": ago(1),
                    },
                    {
                        "number": "1187",
                        "status": "delivered",
                        "amount_cents": 249_000,
                        "placed_at": ago(40),
                    },
                ],
                "purchases": [
                    {
                        "product": "ThinkPad X1 Carbon",
                        "category": "laptop",
                        "purchased_at": ago(20),
                        "amount_cents": 12_990_000,
                    },
                ],
            },
            [
                InteractionFact(
                    now - timedelta(days=2),
                    Channel.EMAIL,
                    reason="order_status",
                    agent="alice",
                    summary="Asked when order 1234 is ready",
                )
            ],
        ),
        (
            {
                "external_id": "DEMO-2",
                "name": "Olga Smirnova",
                "phones": ["+79165550101"],
                "lifetime_value_cents": 4_200_000,
                "orders": [{"number": "1240", "status": "shipped", "placed_at": ago(6)}],
                "deliveries": [
                    {
                        "order_number": "1240",
                        "status": "in_transit",
                        "eta": ago(1),
                        "address": "Tverskaya 7",
                    }
                ],
            },
            [
                InteractionFact(
                    now - timedelta(hours=20),
                    Channel.SMS,
                    reason="delivery_late",
                    summary="Where is my parcel?",
                )
            ],
        ),
        (
            {
                "external_id": "DEMO-3",
                "name": "Sergey Kuznetsov",
                "phones": ["+79035550102"],
                "lifetime_value_cents": 62_000_000,
                "tickets": [
                    {
                        "number": "C-311",
                        "kind": "complaint",
                        "status": "open",
                        "severity": "high",
                        "subject": "Fridge arrived dented",
                        "opened_at": ago(3),
                    }
                ],
                "purchases": [
                    {"product": "Bosch fridge", "category": "fridge", "purchased_at": ago(9)}
                ],
            },
            [
                InteractionFact(
                    now - timedelta(days=3),
                    Channel.VOICE,
                    reason="complaint",
                    agent="bob",
                    summary="Complaint registered, photos requested",
                )
            ],
        ),
        (
            {
                "external_id": "DEMO-4",
                "name": "Anna Popova",
                "phones": ["+79265550103"],
                "debt_cents": 345_000,
                "lifetime_value_cents": 900_000,
            },
            [],
        ),
        (
            {
                "external_id": "DEMO-5",
                "name": "Dmitry Volkov",
                "phones": ["+74955550104"],
                "orders": [{"number": "1251", "status": "processing", "placed_at": ago(1)}],
                "purchases": [{"product": "Pixel 9", "category": "phone", "purchased_at": ago(30)}],
            },
            [],
        ),
        (
            {
                "external_id": "DEMO-6",
                "name": "Elena Sokolova",
                "phones": ["+79855550105"],
                "lifetime_value_cents": 2_000_000,
                "deliveries": [
                    {"order_number": "1201", "status": "failed", "eta": ago(12)},
                    {"order_number": "1201", "status": "failed", "eta": ago(5)},
                ],
                "orders": [{"number": "1201", "status": "processing", "placed_at": ago(15)}],
            },
            [],
        ),
        ({"external_id": "DEMO-7", "name": "Mikhail Lebedev", "phones": ["+79095550106"]}, []),
        (
            {
                "external_id": "DEMO-8",
                "name": "Natalia Kozlova",
                "phones": ["+79775550107"],
                "emails": ["n.kozlova@example.org"],
            },
            [],
        ),
    ]


async def seed_contacts(sessionmaker: Sessionmaker, now: datetime | None = None) -> int:
    """Create the demo customers once (matched by their CRM id later); returns how many."""
    created = 0
    async with sessionmaker.begin() as session:
        for data, interactions in demo_contacts(now or datetime.now(UTC)):
            contact = check_contact(ContactIn, data)
            if await find_existing(session, contact) is not None:
                continue
            contact_id = await save_contact(session, contact, source="demo")
            session.add_all(interaction_record(contact_id, i) for i in interactions)
            created += 1
    return created


DEMO_SKILLS = {
    "alice": {"sales": 3, "frontdesk": 2},
    "bob": {"complaints": 5, "support": 3},
    "carol": {"support": 2, "sales": 2},
    "dan": {"billing": 4, "frontdesk": 3},
}


async def seed_users(runtime: Runtime) -> None:
    """Create the demo accounts and agents' skills once; later runs keep what is there."""
    for username, role, password, interface, display in DEMO_USERS:
        try:
            await create_user(
                runtime.sessionmaker,
                username=username,
                password=password,
                role=role,
                display_name=display,
                agent_interface=interface,
                actor="demo",
            )
        except UserExists:
            continue
        if username in DEMO_SKILLS:
            await save_agent_profile(
                runtime.sessionmaker,
                username,
                skills=DEMO_SKILLS[username],
                languages=["en", "ru"],
                team=None,
                actor="demo",
            )
    runtime.routing.load_profiles(await agent_profiles(runtime.sessionmaker))


async def run_demo(settings: Settings, *, calls_per_minute: float, speed: float) -> None:
    """Start the simulator, point the server at it, play calls until interrupted."""
    simulator = PbxSimulator(
        secret=settings.ami.secret.get_secret_value(), shape="trunk", speed=speed
    )
    await simulator.start()
    settings.ami.host, settings.ami.port = simulator.host, simulator.port
    if "CTI_MAIL_RECEIVE" not in os.environ:
        settings.mail.receive = True  # customers' email: 127.0.0.1:2525 unless set otherwise
    runtime = build_runtime(settings)
    runtime.on_start.append(seed_users)

    async def seed_customers(started: Runtime) -> None:
        await seed_contacts(started.sessionmaker)

    runtime.on_start.append(seed_customers)

    async def route_calls_through_the_ivr(started: Runtime) -> None:
        simulator.pbx.ivr = ("127.0.0.1", started.agi.port)

    runtime.on_start.append(route_calls_through_the_ivr)
    app = build_app(settings, runtime)
    mix = simulator.run_mix(calls_per_minute, callers=DEMO_CALLERS)
    url = f"http://{settings.http.host}:{settings.http.port}"
    log.info(
        "demo running at %s (simulated PBX on AMI port %d); users: %s",
        url,
        simulator.port,
        ", ".join(f"{u} / {p}" for u, _, p, _, _ in DEMO_USERS),
    )
    try:
        await serve_app(app, settings)
    finally:
        mix.cancel()
        await simulator.close()
