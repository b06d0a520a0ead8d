"""The composition root: the one place that builds every client and service and wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.ami.client import AmiClient, Snapshot
from cti.api.app import create_api
from cti.api.context import LocalCalls
from cti.bridge import AmiReader, SnapshotWatcher
from cti.bus.base import EventBus
from cti.bus.factory import create_bus
from cti.callbacks.dialer import EVENTS as OUTBOUND_EVENTS
from cti.callbacks.service import OutboundService
from cti.calls.model import CallStage
from cti.calls.service import CallService
from cti.cluster.ownership import AmiOwnership, ami_ownership, call_ledger
from cti.cluster.peers import Peers, cluster_peers
from cti.contacts.dossier import DossierService, build_dossier_service
from cti.heap import HeapKeeper
from cti.messaging.assign import ConversationAssigner
from cti.messaging.imap import ImapPoller
from cti.messaging.service import MessagingService, messaging_service
from cti.messaging.smtp import SmtpReceiver
from cti.metrics import Metric
from cti.routing.board import CALLER_EVENTS, MEMBER_EVENTS
from cti.routing.direct import DirectRouter
from cti.routing.service import RoutingService
from cti.settings import Settings
from cti.store.agents import agent_profiles
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from cti.store.reports import ReportStore
from cti.store.repositories import CallRepository, CallWriter
from cti.store.rulesets import RuleSetStore
from cti.supervision.alerts import AlertRules
from cti.supervision.service import EVENTS as WALLBOARD_EVENTS
from cti.supervision.service import WallboardService
from ivr.agi.server import AgiServer, Handler
from ivr.callback import CallbackIvr
from ivr.caller import CallerIvr
from ivr.flow import load_flow
from ivr.prompts import NameGreeter
from ivr.speech.exceptions import SpeechUnavailable
from ivr.speech.recognizer import SpeechModel
from ivr.speech.service import AudioSocketSpeech
from screenpop.hub import Hub
from screenpop.service import PopService
from screenpop.state import create_pop_state
from screenpop.web import mount as mount_screenpop

log = logging.getLogger(__name__)

Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    """Everything one server process runs, started and stopped together."""

    settings: Settings
    bus: EventBus
    ami: AmiClient
    service: CallService
    writer: CallWriter
    engine: AsyncEngine
    sessionmaker: Sessionmaker
    agi: AgiServer
    ivr: CallerIvr
    dossiers: DossierService
    routing: RoutingService
    direct: DirectRouter
    pops: PopService
    messaging: MessagingService
    hub: Hub
    wallboard: WallboardService
    mail: SmtpReceiver | None = None
    mailbox: ImapPoller | None = None
    speech: AudioSocketSpeech | None = None
    reader: AmiReader | None = None
    ownership: AmiOwnership | None = None
    """With Redis: reads AMI only while this process holds the AMI lease (``cti.cluster``)."""
    peers: Peers | None = None
    outbound: OutboundService | None = None
    """Click-to-call and call-backs; its scheduler acts only while this process reads AMI."""
    """With Redis: AMI actions from this process, and the reader's agent board followed."""
    heap: HeapKeeper = field(default_factory=HeapKeeper)
    """Keeps full garbage collections short (``cti.heap``)."""
    on_start: list[Hook] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Migrate the database, then start the bus, the writer, the AMI link and the bridge."""
        if self.settings.database.auto_migrate:
            await upgrade(self.settings.database.url)
        await self.bus.start()
        await self.hub.start()
        await self.writer.start()
        self.routing.load_profiles(await agent_profiles(self.sessionmaker))
        await self._start_speech()
        await self.agi.start()
        if self.mail is not None:
            await self.mail.start()
        if self.mailbox is not None:
            await self.mailbox.start()
        owed = await self.messaging.resume()
        if owed:
            log.info("%d SMS replies still owed: sending them", owed)
        for hook in self.on_start:
            await hook(self)
        reports = self.settings.reports
        if reports.refresh_interval > 0:  # keep report roll-ups fresh (cti.store.reports)
            rollups = ReportStore(self.sessionmaker, timeout=reports.timeout * 6)
            rollup = rollups.run(reports.refresh_interval)
            self.tasks.append(asyncio.create_task(rollup, name="report-rollups"))
        if self.peers is not None:
            await self.peers.start()
        if self.outbound is not None:
            await self.outbound.start()
        if self.ownership is not None:
            await self.ownership.start()
            log.info("AMI is read by the process holding the AMI lease in Redis")
        elif self.settings.ami.enabled and self.reader is not None:
            await self.reader.start()
        else:
            log.info("AMI is left to another process (CTI_AMI_ENABLED=false)")
        self.heap.start()

    async def stop(self) -> None:
        """Stop taking events, write every finished call, then close."""
        if self.ownership is not None:
            await self.ownership.stop()  # gives the AMI lease back at once
        if self.reader is not None:
            await self.reader.stop()
        await self.ami.close()
        if self.peers is not None:
            await self.peers.aclose()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.direct.aclose()
        if self.outbound is not None:
            await self.outbound.aclose()
        await self.wallboard.aclose()
        await self.pops.aclose()
        if self.mail is not None:
            await self.mail.close()
        if self.mailbox is not None:
            await self.mailbox.close()
        await self.messaging.aclose()
        await self.hub.close()
        await self.agi.close()
        if self.speech is not None:
            await self.speech.close()
        await self.writer.close()
        if self.ownership is not None:
            await self.ownership.aclose()
        await self.dossiers.aclose()
        await self.pops.state.close()
        await self.bus.close()
        await self.engine.dispose()
        await self.heap.stop()

    async def _start_speech(self) -> None:
        """Load the Vosk model once (off the loop) and listen for AudioSocket; or keys only."""
        speech = self.settings.speech
        if speech.model is None:
            log.info("no speech model set (CTI_VOSK_MODEL): the IVR takes keys only")
            return
        try:
            model = await asyncio.to_thread(SpeechModel.load, speech.model)
        except SpeechUnavailable as exc:
            log.warning("speech is off, the IVR takes keys only: %s", exc)
            return
        self.speech = AudioSocketSpeech(
            model,
            host=speech.audiosocket_host,
            port=speech.audiosocket_port,
            silence_ms=speech.silence_ms,
        )
        await self.speech.start()
        self.ivr.speech = self.speech


def build_runtime(settings: Settings) -> Runtime:
    """Build, without starting, every part of one server process."""
    engine = create_engine(settings.database.url)
    sessionmaker = create_sessionmaker(engine)
    repository = CallRepository(sessionmaker)
    ledger = call_ledger(settings)  # several processes: finished calls journaled in Redis
    writer = CallWriter(ledger.journaled_store(repository) if ledger else repository)
    bus = create_bus(settings.redis.url)
    service = CallService(bus, ledger.sink(writer) if ledger else writer)
    wanted = (
        service.handled_events | MEMBER_EVENTS | CALLER_EVENTS | WALLBOARD_EVENTS | OUTBOUND_EVENTS
    )
    ami = AmiClient(settings.ami, wanted=wanted)
    dossiers = build_dossier_service(settings, sessionmaker)
    greeter = NameGreeter(settings.ivr.sounds) if settings.ivr.tts else None
    routing = RoutingService(RuleSetStore(sessionmaker))
    ivr = CallerIvr(
        load_flow(settings.ivr.flow),
        dossiers,
        greeter=greeter,
        listen_timeout=settings.speech.timeout,
        routing=routing,
    )
    outbound = OutboundService(
        settings,
        sessionmaker,
        ami,
        routing.board,
        RuleSetStore(sessionmaker),
        bus,
        username_of=routing.username_of,
    )
    ivr.callbacks = outbound
    scripts: dict[str, Handler] = {"ivr": ivr, "callback": CallbackIvr(outbound)}
    agi = AgiServer(scripts, host=settings.agi.host, port=settings.agi.port)
    messaging = messaging_service(settings, sessionmaker, bus)
    pop_state = create_pop_state(settings.redis.url)
    pops = PopService(bus, pop_state, dossiers, routing.username_of)
    messaging.assigner = ConversationAssigner(sessionmaker, routing, dossiers, bus)
    board = settings.wallboard
    wallboard = WallboardService(
        bus,
        pop_state,
        routing.username_of,
        rules=AlertRules(board.service_level_target, board.paused_too_long),
        default_servicelevel=board.service_level_seconds,
        interval=board.update_interval,
    )
    service.listeners.append(pops.on_call_event)
    routing.watchers.append(pops.on_agent)
    routing.watchers.append(wallboard.on_agent)
    direct = DirectRouter(ami, routing, dossiers)
    service.listeners.append(outbound.on_call_event)
    routing.watchers.append(outbound.on_agent)
    reader = AmiReader(
        ami,
        service,
        routing.board,
        watchers=[direct.on_event, wallboard.on_event, outbound.watch.on_event],
        snapshot_watchers=[wallboard_snapshot(wallboard)],
        companions=[wallboard],
    )
    ownership = ami_ownership(settings, ledger, reader, service, repository) if ledger else None
    peers = cluster_peers(
        settings, bus, routing.board, reader, ownership, tracker=service, store=repository
    )
    if peers is not None:
        pops.leads = peers.reading  # the others' boards follow the reader's: it tells screens
    if peers is not None:  # AMI actions on this process's own session; call-backs while reading
        outbound.ami = peers.actions
        outbound.reading = peers.reading
    else:
        outbound.reading = lambda: reader.reading
    return Runtime(
        settings=settings,
        bus=bus,
        ami=ami,
        service=service,
        writer=writer,
        engine=engine,
        sessionmaker=sessionmaker,
        agi=agi,
        ivr=ivr,
        dossiers=dossiers,
        routing=routing,
        direct=direct,
        pops=pops,
        hub=Hub(bus, pop_state),
        wallboard=wallboard,
        messaging=messaging,
        mail=(
            SmtpReceiver(
                messaging.receive_email,
                host=settings.mail.listen_host,
                port=settings.mail.listen_port,
                max_bytes=settings.mail.max_bytes,
            )
            if settings.mail.receive
            else None
        ),
        mailbox=mailbox(settings, messaging),
        reader=reader,
        ownership=ownership,
        peers=peers,
        outbound=outbound,
        heap=HeapKeeper(complete_every=settings.gc_complete_seconds),
    )


def wallboard_snapshot(wallboard: WallboardService) -> SnapshotWatcher:
    """The wallboard's bridge watcher for ``QueueStatus`` read-backs."""

    def watch(snapshot: Snapshot, now: float) -> None:
        wallboard.on_snapshot(
            snapshot.queue_params, snapshot.queue_members, snapshot.queue_entries, now
        )

    return watch


def mailbox(settings: Settings, messaging: MessagingService) -> ImapPoller | None:
    """The IMAP poller, when a mailbox is configured."""
    mail = settings.mail
    if not mail.imap_host:
        return None

    async def receive(raw: bytes) -> object:
        return await messaging.receive_email(raw, via="imap")

    return ImapPoller(
        receive,
        mail.imap_host,
        port=mail.imap_port,
        username=mail.imap_username,
        password=mail.imap_password.get_secret_value(),
        folder=mail.imap_folder,
        ssl=mail.imap_ssl,
        every=mail.imap_poll_seconds,
    )


def build_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The ASGI application: HTTP API over a runtime started by its lifespan."""
    runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_api(
        settings=settings,
        sessionmaker=runtime.sessionmaker,
        live_calls=(
            runtime.peers.calls
            if runtime.peers is not None and runtime.peers.calls is not None
            else LocalCalls(runtime.service)
        ),
        lifespan=lifespan,
        dossiers=runtime.dossiers,
        routing_service=runtime.routing,
        ami=runtime.peers.actions if runtime.peers and runtime.peers.actions else runtime.ami,
        screens=runtime.pops,
        messaging=runtime.messaging,
        outbound=runtime.outbound,
    )
    mount_screenpop(app, runtime.hub)
    app.state.runtime = runtime
    app.state.metrics = lambda: runtime_metrics(runtime)
    return app


def cluster_metrics(peers: Peers | None) -> list[Metric]:
    """With several processes: this one's AMI action session and its agent board's relay."""
    if peers is None:
        return []
    relay, actions = peers.relay, peers.actions
    return [
        Metric(
            "cti_ami_actions_up",
            "gauge",
            "1 while this process's own AMI session for actions (events off) is logged in",
            float(actions is not None and actions.up),
        ),
        Metric(
            "cti_ami_actions_refused_total",
            "counter",
            "AMI actions refused (503) because no process read AMI",
            actions.refused if actions is not None else 0,
        ),
        Metric(
            "cti_agent_board_synced",
            "gauge",
            "1 while this process's agent board is the AMI reader's (its own, or followed)",
            float(relay.synced),
        ),
        Metric(
            "cti_agent_board_relayed_total",
            "counter",
            "Agent-board updates this process relayed while reading AMI",
            relay.relayed,
        ),
        Metric(
            "cti_agent_board_applied_total",
            "counter",
            "Agent-board updates relayed by the AMI reader and applied here",
            relay.applied,
        ),
        Metric(
            "cti_agent_board_asked_total",
            "counter",
            "Times this process asked the AMI reader for its whole agent board",
            relay.asked,
        ),
    ]


def runtime_metrics(runtime: Runtime) -> list[Metric]:
    """What ``/metrics`` reports: the AMI link, calls, storage, the IVR and the bus."""
    ami, agi, writer = runtime.ami.stats, runtime.agi.stats, runtime.writer
    counter, gauge = "counter", "gauge"
    live = runtime.service.tracker.calls.values()
    metrics = [
        Metric(
            "cti_ami_up",
            gauge,
            "1 while logged in to Asterisk",
            float(runtime.ami.state.value == "connected"),
        ),
        Metric(
            "cti_ami_owner",
            gauge,
            "1 while this process reads AMI (holds the AMI lease, or needs none)",
            float(runtime.reader is not None and runtime.reader.reading),
        ),
        Metric(
            "cti_ami_takeovers_total",
            counter,
            "Times this process took the AMI lease",
            runtime.ownership.takeovers if runtime.ownership is not None else 0,
        ),
        Metric(
            "cti_ami_lease_losses_total",
            counter,
            "Times this process lost the AMI lease without giving it back",
            runtime.ownership.losses if runtime.ownership is not None else 0,
        ),
        *cluster_metrics(runtime.peers),
        Metric(
            "cti_gc_full_frozen_total",
            counter,
            "Full garbage collections whose survivors were frozen (cti.heap)",
            runtime.heap.collections,
        ),
        Metric(
            "cti_gc_complete_total",
            counter,
            "Complete garbage collections over the whole heap (cti.heap)",
            runtime.heap.completes,
        ),
        Metric("cti_ami_frames_total", counter, "AMI messages received", ami.frames),
        Metric(
            "cti_ami_events_total", counter, "AMI events delivered to call tracking", ami.events
        ),
        Metric(
            "cti_ami_dropped_noise_total", counter, "AMI events dropped unparsed", ami.dropped_noise
        ),
        Metric(
            "cti_ami_malformed_total", counter, "AMI messages dropped as malformed", ami.malformed
        ),
        Metric(
            "cti_ami_oversize_total", counter, "AMI messages dropped as too large", ami.oversize
        ),
        Metric("cti_ami_connects_total", counter, "AMI logins", ami.connects),
        Metric(
            "cti_ami_resyncs_total", counter, "Live-state read-backs from Asterisk", ami.resyncs
        ),
        Metric(
            "cti_domain_events_total", counter, "Call events published", runtime.service.published
        ),
        Metric("cti_calls_written_total", counter, "Finished calls stored", writer.written),
        Metric(
            "cti_calls_write_pending", gauge, "Finished calls waiting to be stored", writer.pending
        ),
        Metric("cti_agi_sessions_total", counter, "FastAGI sessions served", agi.sessions),
        Metric("cti_agi_sessions_active", gauge, "FastAGI sessions running", agi.active),
        Metric("cti_agi_hangups_total", counter, "Callers who hung up in the IVR", agi.hangups),
        Metric("cti_agi_failures_total", counter, "IVR sessions ended by an error", agi.failures),
        Metric("cti_agi_rejected_total", counter, "FastAGI connections refused", agi.rejected),
    ]
    for stage in CallStage:
        if stage is not CallStage.ENDED:
            count = sum(1 for call in live if call.stage is stage)
            metrics.append(
                Metric(
                    "cti_calls_active", gauge, "Live calls by stage", count, {"stage": stage.value}
                )
            )
    metrics.append(
        Metric(
            "cti_wallboard_updates_total",
            counter,
            "Wallboard updates published",
            runtime.wallboard.published,
        )
    )
    for name, queue in sorted(runtime.wallboard.board.queues.items()):
        label = {"queue": name}
        metrics += [
            Metric("cti_queue_waiting", gauge, "Callers waiting", len(queue.waiting), label),
            Metric(
                "cti_queue_completed",
                gauge,
                "Answered calls (Asterisk's count)",
                queue.completed,
                label,
            ),
            Metric(
                "cti_queue_abandoned",
                gauge,
                "Abandoned calls (Asterisk's count)",
                queue.abandoned,
                label,
            ),
            Metric("cti_queue_service_level_percent", gauge, "ServicelevelPerf", queue.sl, label),
            Metric("cti_queue_holdtime_seconds", gauge, "Average hold time", queue.holdtime, label),
        ]
    return metrics
