"""Helpers to run recorded AMI bytes through the framer, the parser and the tracker."""

from __future__ import annotations

import random
from typing import Any

from cti.ami.protocol import AmiFramer, parse_message
from cti.calls.model import CallEventType
from cti.calls.tracker import CallTracker


def frames_in_random_chunks(raw: bytes, seed: int, low: int = 1, high: int = 4096) -> list[bytes]:
    rng = random.Random(seed)
    framer = AmiFramer()
    frames: list[bytes] = []
    pos = 0
    while pos < len(raw):
        size = rng.randint(low, high)
        frames.extend(framer.feed(raw[pos : pos + size]))
        pos += size
    return frames


def replay_calls(raw: bytes, seed: int = 0) -> tuple[list[dict[str, Any]], CallTracker]:
    """Finished calls, in the order they ended, and the tracker left after the replay."""
    tracker = CallTracker()
    ended: list[dict[str, Any]] = []
    for frame in frames_in_random_chunks(raw, seed):
        message = parse_message(frame)
        if "Event" not in message:
            continue
        for event in tracker.handle(message, 0.0):
            if event.type is CallEventType.ENDED:
                ended.append(event.call)
    return ended, tracker
