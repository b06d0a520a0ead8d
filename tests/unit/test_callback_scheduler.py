"""The call-back scheduler: nobody served out of their place in line."""

from __future__ import annotations

import random

from cti.callbacks.scheduler import Owed, Scheduler

NOW = 1_800_000_000.0


def test_the_earliest_place_is_served_first() -> None:
    scheduler = Scheduler([Owed(2, "sales", 200.0), Owed(1, "sales", 100.0)])
    (decision,) = scheduler.tick(NOW, {"sales": ["PJSIP/1001"]}, {})
    assert decision.owed.id == 1 and decision.agent == "PJSIP/1001"
    assert [o.id for o in scheduler.line("sales")] == [2]


def test_a_live_caller_who_joined_earlier_goes_first() -> None:
    scheduler = Scheduler([Owed(1, "sales", 100.0)])
    assert scheduler.tick(NOW, {"sales": ["PJSIP/1001"]}, {"sales": 50.0}) == []
    assert len(scheduler) == 1
    (decision,) = scheduler.tick(NOW, {"sales": ["PJSIP/1001"]}, {"sales": 150.0})
    assert decision.owed.id == 1


def test_no_free_agent_no_decision() -> None:
    scheduler = Scheduler([Owed(1, "sales", 100.0)])
    assert scheduler.tick(NOW, {"support": ["PJSIP/1001"]}, {}) == []
    assert scheduler.tick(NOW, {"sales": []}, {}) == []
    assert 1 in scheduler


def test_each_free_agent_serves_one_in_place_order() -> None:
    scheduler = Scheduler(Owed(i, "sales", float(i)) for i in range(1, 6))
    decisions = scheduler.tick(NOW, {"sales": ["A", "B", "C"]}, {})
    assert [(d.owed.id, d.agent) for d in decisions] == [(1, "A"), (2, "B"), (3, "C")]
    assert [o.id for o in scheduler.line("sales")] == [4, 5]


def test_an_agent_of_two_queues_serves_the_earlier_place() -> None:
    scheduler = Scheduler([Owed(1, "sales", 300.0), Owed(2, "support", 100.0)])
    (decision,) = scheduler.tick(NOW, {"sales": ["A"], "support": ["A"]}, {})
    assert decision.owed.id == 2
    (decision,) = scheduler.tick(NOW, {"sales": ["A"], "support": ["A"]}, {})
    assert decision.owed.id == 1


def test_a_retry_not_yet_due_does_not_hold_the_line() -> None:
    scheduler = Scheduler([Owed(1, "sales", 100.0, due=NOW + 60), Owed(2, "sales", 200.0)])
    (decision,) = scheduler.tick(NOW, {"sales": ["A"]}, {})
    assert decision.owed.id == 2
    assert scheduler.tick(NOW, {"sales": ["A"]}, {}) == []
    (decision,) = scheduler.tick(NOW + 61, {"sales": ["A"]}, {})
    assert decision.owed.id == 1


def test_adding_again_replaces_and_remove_forgets() -> None:
    scheduler = Scheduler([Owed(1, "sales", 100.0)])
    scheduler.add(Owed(1, "sales", 100.0, due=NOW + 10))
    assert len(scheduler) == 1 and scheduler.line("sales")[0].due == NOW + 10
    assert scheduler.remove(1) is not None and scheduler.remove(1) is None
    assert scheduler.line("sales") == []


def test_random_days_never_serve_out_of_place() -> None:
    """Over many random ticks, whatever is served in a queue was the earliest due place
    there, behind no live caller, and no agent serves twice in one tick."""
    rng = random.Random(7)
    queues = [f"q{i}" for i in range(5)]
    scheduler = Scheduler()
    next_id = 1
    now = NOW
    for _ in range(2000):
        now += 1
        for _ in range(rng.randint(0, 3)):
            scheduler.add(Owed(next_id, rng.choice(queues), now - rng.random() * 600))
            next_id += 1
        free = {q: [f"{q}-{a}" for a in range(rng.randint(0, 2))] + ["shared"] for q in queues}
        oldest = {q: now - rng.random() * 900 for q in queues if rng.random() < 0.5}
        before = {q: [o for o in scheduler.line(q) if o.due <= now] for q in queues}
        decisions = scheduler.tick(now, free, oldest)
        agents = [d.agent for d in decisions]
        assert len(agents) == len(set(agents))
        for queue in queues:
            served = [d.owed for d in decisions if d.owed.queue == queue]
            assert served == before[queue][: len(served)]
            for owed in served:
                assert oldest.get(queue, owed.place) >= owed.place
