"""The heap keeper: survivors of full collections frozen, cycles still freed in time."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from cti.heap import HeapKeeper


class Node:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def keeper() -> Iterator[HeapKeeper]:
    keeper = HeapKeeper(complete_every=3600.0)
    yield keeper
    gc.unfreeze()


def test_complete_freezes_what_survives(keeper: HeapKeeper) -> None:
    keeper.complete()
    assert gc.get_freeze_count() > 0
    assert keeper.completes == 1
    assert sum(len(gc.get_objects(generation)) for generation in range(3)) < 1000


def test_a_full_collection_is_followed_by_a_freeze(keeper: HeapKeeper) -> None:
    keeper.complete()
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(100)]
    gc.collect()  # a full collection, as the interpreter would run on its own
    keeper.check()
    assert keeper.collections == 1
    assert gc.get_freeze_count() >= frozen + len(kept)
    keeper.check()  # nothing new: nothing to do
    assert keeper.collections == 1


def test_a_dead_cycle_among_frozen_objects_is_freed_by_the_next_complete(
    keeper: HeapKeeper,
) -> None:
    keeper.complete()
    node = Node()
    dead = weakref.ref(node)
    gc.collect()
    keeper.check()  # node is frozen now
    del node
    gc.collect()
    assert dead() is not None, "a frozen cycle waits for a complete collection"
    keeper.complete()
    assert dead() is None


def test_the_complete_collection_is_due_after_its_interval(keeper: HeapKeeper) -> None:
    keeper.complete_every = 0.0
    keeper.complete()
    keeper.check()
    assert keeper.completes == 2


async def test_start_and_stop_on_the_loop() -> None:
    thresholds = gc.get_threshold()
    keeper = HeapKeeper(check_every=0.01)
    keeper.start()
    assert gc.get_threshold()[:2] == (10_000, 3)
    assert gc.get_freeze_count() > 0
    await keeper.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
