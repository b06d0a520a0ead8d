"""A fake Asterisk for benchmarks: replays a recording over one AMI connection, in phases.

Run as its own process (``python -m benchmarks.fake_ami``) so that nothing it does
competes with the measured event loop for the GIL. It prints its port, accepts one
client, sends the banner and answers actions the way Asterisk does (``Login`` with the
recorded reply, ``QueueStatus`` and ``CoreShowChannels`` with empty lists, ``Ping``,
``Logoff``). Each ``UserEvent`` action with ``UserEvent: BenchStart`` starts the next
phase: the recording's messages after its login reply, repeated, each repetition with
its own ``Uniqueid``/``Linkedid`` values, sent as fast as the socket takes them or paced
at a given rate in 2 ms slices. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
TERMINATOR = b"\r\n\r\n"
ID_PREFIX = b"1795403"
"""The first seven digits of every ``Uniqueid``/``Linkedid`` in ``burst30``."""
SKIPPED = (b"Event: FullyBooted", b"Response: Goodbye")
"""Boot notice and logoff reply: sent once per session by Asterisk, not per call burst."""
CHUNK_BYTES = 64 * 1024
SLICE_SECONDS = 0.002


def recorded_frames(capture: Path) -> tuple[bytes, list[bytes]]:
    """The recorded login reply, and every message after it that is repeated."""
    frames = capture.read_bytes().split(TERMINATOR)
    login = frames[0].partition(b"\r\n")[2]
    body = [frame for frame in frames[1:] if frame and not frame.startswith(SKIPPED)]
    return login, body


def repetition_id(n: int) -> bytes:
    """Seven digits replacing ``ID_PREFIX`` in repetition ``n`` (same length, same format)."""
    return str(2_000_000 + n).encode()


def is_event(frame: bytes) -> bool:
    return frame.startswith(b"Event: ")


class Template:
    """The repeated messages, cut once into send units; repetitions only rename ids."""

    def __init__(self, frames: list[bytes]) -> None:
        self.data = TERMINATOR.join(frames) + TERMINATOR
        self.frames = len(frames)
        self.events = sum(1 for frame in frames if is_event(frame))
        # (end offset, events up to there) after each message: ids keep their length,
        # so these offsets hold for every repetition.
        self.bounds: list[tuple[int, int]] = []
        offset = events = 0
        for frame in frames:
            offset += len(frame) + len(TERMINATOR)
            events += is_event(frame)
            self.bounds.append((offset, events))

    def render(self, n: int) -> bytes:
        return self.data.replace(ID_PREFIX, repetition_id(n))

    def chunks(self, first: int, reps: int) -> Iterator[bytes]:
        """As fast as possible: message-aligned chunks of about ``CHUNK_BYTES``."""
        for n in range(first, first + reps):
            data = self.render(n)
            start = 0
            for end, _ in self.bounds:
                if end - start >= CHUNK_BYTES:
                    yield data[start:end]
                    start = end
            if start < len(data):
                yield data[start:]

    def slices(self, first: int, reps: int, per_slice: int) -> Iterator[tuple[int, bytes]]:
        """Paced: ``(events before this slice, slice)`` with about ``per_slice`` events each."""
        sent = 0
        for n in range(first, first + reps):
            data = self.render(n)
            start = 0
            taken = 0
            for end, events in self.bounds:
                if events - taken >= per_slice:
                    yield sent, data[start:end]
                    sent += events - taken
                    start, taken = end, events
            if start < len(data):
                yield sent, data[start:]
                sent += self.events - taken


class Session:
    """One client: a reader thread answering actions, a writer streaming phases."""

    def __init__(
        self,
        conn: socket.socket,
        login_reply: bytes,
        template: Template,
        phases: list[tuple[int, float]],
    ) -> None:
        self.conn = conn
        self.login_reply = login_reply
        self.template = template
        self.phases = phases
        self.lock = threading.Lock()
        self.starts = threading.Semaphore(0)
        self.closed = threading.Event()

    def send(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)

    def reply(self, action_id: str, *lines: str) -> None:
        head = [lines[0], f"ActionID: {action_id}", *lines[1:]]
        self.send("\r\n".join(head).encode() + TERMINATOR)

    def read_actions(self) -> None:
        buffer = b""
        try:
            while True:
                data = self.conn.recv(65536)
                if not data:
                    break
                buffer += data
                *actions, buffer = buffer.split(TERMINATOR)
                for action in actions:
                    if not self.answer(action):
                        return
        except OSError:
            pass
        finally:
            self.closed.set()
            self.starts.release()

    def answer(self, action: bytes) -> bool:
        fields = dict(line.split(": ", 1) for line in action.decode().split("\r\n") if ": " in line)
        name = fields.get("Action", "").lower()
        aid = fields.get("ActionID", "")
        if name == "login":
            self.send(self.login_reply.replace(b"login-1", aid.encode()) + TERMINATOR)
        elif name in ("queuestatus", "coreshowchannels"):
            what, done = (
                ("Queue status", "QueueStatusComplete")
                if name == "queuestatus"
                else ("Channels", "CoreShowChannelsComplete")
            )
            self.reply(aid, "Response: Success", "EventList: start", f"Message: {what} will follow")
            self.reply(aid, f"Event: {done}", "EventList: Complete", "ListItems: 0")
        elif name == "ping":
            self.reply(aid, "Response: Success", "Ping: Pong", f"Timestamp: {time.time():.6f}")
        elif name == "logoff":
            self.reply(aid, "Response: Goodbye", "Message: Thanks for all the fish.")
            return False
        elif name == "userevent" and fields.get("UserEvent") == "BenchStart":
            self.reply(aid, "Response: Success")
            self.starts.release()
        else:
            self.reply(aid, "Response: Error", "Message: Invalid/unknown command")
        return True

    def stream(self) -> None:
        first = 0
        for reps, rate in self.phases:
            self.starts.acquire()
            if self.closed.is_set():
                return
            if rate > 0:
                per_slice = max(1, round(rate * SLICE_SECONDS))
                began = time.perf_counter()
                for events_before, data in self.template.slices(first, reps, per_slice):
                    delay = began + events_before / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    self.send(data)
            else:
                for data in self.template.chunks(first, reps):
                    self.send(data)
            first += reps


def serve(capture: Path, phases: list[tuple[int, float]]) -> None:
    login_reply, frames = recorded_frames(capture)
    template = Template(frames)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], template.frames, template.events, flush=True)
        listener.settimeout(60)
        conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = Session(conn, login_reply, template, phases)
    session.send(BANNER)
    reader = threading.Thread(target=session.read_actions, daemon=True)
    reader.start()
    with contextlib.suppress(OSError):
        session.stream()
    session.closed.wait(600)
    conn.close()


def parse_phase(text: str) -> tuple[int, float]:
    reps, _, rate = text.partition("@")
    return int(reps), float(rate or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, help="an ami.raw recording")
    parser.add_argument(
        "phases",
        nargs="+",
        type=parse_phase,
        help="REPS or REPS@EVENTS_PER_SECOND, one per BenchStart",
    )
    args = parser.parse_args()
    serve(args.capture, args.phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
