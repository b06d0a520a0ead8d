"""The call-back scheduler: its decision loop with 500 owed across 20 queues, and a day.

**Tick.** What the scheduler does every tick in the process reading AMI: read who is
free per queue and when each queue's longest-waiting caller joined from the live agent
board (``AgentBoard``, fed the ``QueueMemberStatus``/``QueueCallerJoin`` events Asterisk
sends), and decide which owed call-back each free agent serves
(``cti.callbacks.scheduler.Scheduler``). 120 agents in 20 queues (one to three queues
each), 500 owed call-backs at random places in the last half hour (one in ten waiting for
a retry), callers waiting in the queues; between ticks agents come free and get busy, and
every call-back served is replaced by a new one, so 500 stay owed. Timed: one tick.

**Baseline**: what a call-back feature built on the database does (a cron job or a
polling loop): per queue with a free agent, ask an indexed SQLite table for the first due
call-backs in place order, and compare with the queue's oldest caller. Both decide the
same (checked on every tick).

**A day** (``benchmarks/callbacks_day.py``): the PBX simulator runs a contact center's day
in simulated time with callers pressing 1, and every call-back served is checked against
its place in line.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Mapping, Sequence

from benchmarks import callbacks_day
from benchmarks.common import Row, p99_ms
from cti.callbacks.scheduler import Decision, Owed, Scheduler
from cti.routing.board import AgentBoard, AgentProfile

QUEUES = [f"q{n:02d}" for n in range(20)]
AGENTS = 120
OWED = 500
NOW = 1_795_400_000.0


class Site:
    """The live agent board of a site, moved on between ticks as Asterisk would."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.board = AgentBoard(lambda _agent: None)
        self.interfaces = [f"PJSIP/{2000 + n}" for n in range(AGENTS)]
        self.board.set_profiles(
            AgentProfile(f"agent{n}", interface, {"sales": 3})
            for n, interface in enumerate(self.interfaces)
        )
        self.member_of = {i: rnd.sample(QUEUES, rnd.randint(1, 3)) for i in self.interfaces}
        for interface, queues in self.member_of.items():
            for queue in queues:
                self.board.on_event(
                    self.member(interface, queue, "QueueMemberAdded", rnd.choice("1122")), NOW
                )
        self.callers = 0
        for queue in QUEUES:
            for _ in range(rnd.randint(0, 3)):
                self.join(queue, NOW - rnd.uniform(0, 1800))

    def member(self, interface: str, queue: str, event: str, status: str) -> dict[str, str]:
        return {
            "Event": event,
            "Queue": queue,
            "Interface": interface,
            "MemberName": interface,
            "StateInterface": interface,
            "Status": status,
            "Paused": "0",
            "LastCall": str(int(NOW - self.rnd.uniform(0, 600))),
            "LoginTime": str(int(NOW - 3600)),
        }

    def set_status(self, interface: str, status: str, now: float) -> None:
        for queue in self.member_of[interface]:
            self.board.on_event(self.member(interface, queue, "QueueMemberStatus", status), now)

    def join(self, queue: str, at: float) -> None:
        self.callers += 1
        self.board.on_event(
            {"Event": "QueueCallerJoin", "Queue": queue, "Uniqueid": f"c{self.callers}"}, at
        )

    def churn(self, now: float) -> None:
        """A few agents come free or get busy; a few callers join or are answered."""
        for interface in self.rnd.sample(self.interfaces, 4):
            self.set_status(interface, self.rnd.choice("1222"), now)
        for queue in self.rnd.sample(QUEUES, 2):
            if self.rnd.random() < 0.5:
                self.join(queue, now)
            else:
                self.board.on_event(
                    {
                        "Event": "QueueCallerLeave",
                        "Queue": queue,
                        "Uniqueid": f"c{self.rnd.randint(1, self.callers)}",
                    },
                    now,
                )


class SqlScheduler:
    """The baseline: owed call-backs in an indexed table, asked for on every tick."""

    def __init__(self, owed: Sequence[Owed]) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.execute(
            "CREATE TABLE callbacks (id INTEGER PRIMARY KEY, queue TEXT, place REAL, "
            "due REAL, state TEXT)"
        )
        self.db.execute("CREATE INDEX open_place ON callbacks (state, queue, place, id)")
        for item in owed:
            self.add(item)

    def add(self, owed: Owed) -> None:
        self.db.execute(
            "INSERT INTO callbacks VALUES (?, ?, ?, ?, 'owed')",
            (owed.id, owed.queue, owed.place, owed.due),
        )

    def tick(
        self, now: float, free: Mapping[str, Sequence[str]], oldest: Mapping[str, float]
    ) -> list[Decision]:
        candidates: list[tuple[float, int, str]] = []
        for queue, agents in free.items():
            if not agents:
                continue
            rows = self.db.execute(
                "SELECT place, id FROM callbacks WHERE state = 'owed' AND queue = ? "
                "AND due <= ? ORDER BY place, id LIMIT ?",
                (queue, now, len(agents)),
            ).fetchall()
            candidates += [(place, i, queue) for place, i in rows]
        candidates.sort()
        taken: set[str] = set()
        decisions = []
        blocked: set[str] = set()
        for place, callback_id, queue in candidates:
            if queue in blocked or oldest.get(queue, place) < place:
                blocked.add(queue)
                continue
            agent = next((a for a in free[queue] if a not in taken), None)
            if agent is None:
                continue
            taken.add(agent)
            decisions.append(Decision(Owed(callback_id, queue, place), agent))
            self.db.execute("UPDATE callbacks SET state = 'dialing' WHERE id = ?", (callback_id,))
        return decisions


def new_owed(rnd: random.Random, callback_id: int, now: float) -> Owed:
    due = now + rnd.uniform(60, 900) if rnd.random() < 0.1 else 0.0
    return Owed(callback_id, rnd.choice(QUEUES), now - rnd.uniform(0, 1800), due)


def run_ticks(ticks: int) -> tuple[list[float], list[float], int, bool]:
    rnd = random.Random(5)
    site = Site(rnd)
    first = [new_owed(rnd, n, NOW) for n in range(1, OWED + 1)]
    ours, theirs = Scheduler(first), SqlScheduler(first)
    next_id = OWED + 1
    mine: list[float] = []
    base: list[float] = []
    served = 0
    same = True
    now = NOW
    for _ in range(ticks):
        now += 0.5
        site.churn(now)
        started = time.perf_counter()
        decisions = ours.tick(now, site.board.free_by_queue(now), site.board.oldest_joined())
        mine.append(time.perf_counter() - started)
        started = time.perf_counter()
        baseline = theirs.tick(now, site.board.free_by_queue(now), site.board.oldest_joined())
        base.append(time.perf_counter() - started)
        same = same and [(d.owed.id, d.agent) for d in decisions] == [
            (d.owed.id, d.agent) for d in baseline
        ]
        for decision in decisions:
            served += 1
            site.set_status(decision.agent, "2", now)  # on the call-back now
            fresh = new_owed(rnd, next_id, now)
            next_id += 1
            ours.add(fresh)
            theirs.add(fresh)
    return mine, base, served, same


def run(quick: bool) -> list[Row]:
    ticks = 2_000 if quick else 20_000
    run_ticks(200)  # warm up
    mine, base, served, same = run_ticks(ticks)
    measured = p99_ms(mine)
    return [
        Row(
            name=f"Call-back scheduler tick p99, {OWED} owed in {len(QUEUES)} queues, "
            f"{AGENTS} agents ({ticks:,} ticks, {served:,} served; same decisions as the "
            f"database poll: {'yes' if same else 'NO'})",
            unit="ms",
            target="< 5 ms",
            measured=measured,
            baseline=p99_ms(base),
            baseline_name="an indexed SQLite table polled per queue each tick",
            passed=measured < 5.0 and same,
        ),
        *callbacks_day.run(quick),
    ]
