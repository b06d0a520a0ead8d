"""``cti demo``: the real server against the PBX simulator, with demo users and callers."""

from __future__ import annotations

import logging

from cti.app import Runtime, build_app, build_runtime
from cti.auth.exceptions import UserExists
from cti.auth.service import create_user
from cti.pbxsim import PbxSimulator
from cti.runner import serve_app
from cti.settings import Settings

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


async def seed_users(runtime: Runtime) -> None:
    """Create the demo accounts once; later runs keep what is there."""
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


async def run_demo(settings: Settings, *, calls_per_minute: float, speed: float) -> None:
    """Start the simulator, point the server at it, play calls until interrupted."""
    simulator = PbxSimulator(
        secret=settings.ami.secret.get_secret_value(), shape="trunk", speed=speed
    )
    await simulator.start()
    settings.ami.host, settings.ami.port = simulator.host, simulator.port
    runtime = build_runtime(settings)
    runtime.on_start.append(seed_users)

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
