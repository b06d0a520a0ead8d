"""Speech input for an IVR step: the caller's audio over AudioSocket, recognised off the loop.

How a call gets here. The IVR generates a UUID for the listening step, starts
``speech.listen(uuid, words, timeout)`` and, while it waits, has Asterisk send the
caller's audio over FastAGI::

    call_id = uuid.uuid4()
    listening = asyncio.create_task(speech.listen(call_id, ["네", "아니요"], timeout=5))
    await agi.exec("AudioSocket", speech.application_args(call_id))
    result = await listening

``EXEC AudioSocket <uuid>,<host>:<port>`` blocks until this side ends the application,
which ``listen`` does as soon as it has a result; the AGI script then goes on. The channel
must already be answered (``AudioSocket()`` does not answer). When the server listens on
``0.0.0.0``, pass ``host=``: the address Asterisk reached the FastAGI server on (the AGI
socket's local address) is one it can reach this server on too.

The same works from the dialplan, for a step that is listening for that UUID (for example
one the IVR put in ``CTI_SPEECH_UUID`` before it returned)::

    exten => s,n,Answer()
    exten => s,n,AudioSocket(${CTI_SPEECH_UUID},cti.example.org:4574)

A ``listen`` whose connection never comes raises ``AudioSocketTimeout``; a connection
whose UUID nobody listens for is ended after ``claim_grace`` seconds. The Vosk model is
loaded once per process and shared, at start-up and off the loop (it takes seconds)::

    model = await asyncio.to_thread(SpeechModel.load, settings.speech.model)

which raises ``SpeechUnavailable`` for a bad path: log one warning and keep to DTMF.
Recognition runs in a small thread pool of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from ivr.speech.audiosocket import AudioSocketServer, AudioSocketSession
from ivr.speech.exceptions import SpeechError
from ivr.speech.recognizer import (
    Endpoint,
    GrammarRecognizer,
    SpeechModel,
    SpeechResult,
    accept_batch,
)

log = logging.getLogger(__name__)

_Chunk = tuple[bytes, float]


class AudioSocketTimeout(SpeechError):
    """Asterisk did not connect for a call an IVR step was listening for."""

    error_id = "speech.no_connection"


async def recognize_stream(
    chunks: AsyncIterable[bytes],
    recognizer: GrammarRecognizer,
    *,
    timeout: float,
    max_speech: float = 10.0,
    executor: Executor | None = None,
) -> SpeechResult | None:
    """Recognise one utterance from a stream of 16-bit mono audio chunks.

    Args:
        chunks: the caller's audio, as it arrives.
        recognizer: a fresh recognizer for this utterance.
        timeout: seconds for the caller to start speaking; then ``None`` if they did not.
        max_speech: seconds an utterance may last once started; then it is cut and scored.
        executor: where Vosk runs; the loop's default thread pool if ``None``.

    Returns:
        The result, or ``None`` when no speech was heard before the timeout or the end
        of the stream.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Chunk | None] = asyncio.Queue()

    stopped = False

    async def pump() -> None:
        try:
            async for chunk in chunks:
                if stopped:
                    break
                queue.put_nowait((chunk, time.monotonic()))
        finally:
            queue.put_nowait(None)

    pumping = asyncio.create_task(pump())
    started = loop.time()
    speech_started: float | None = None
    endpoint: Endpoint = "stream-end"
    try:
        while True:
            if speech_started is None and recognizer.heard_speech:
                speech_started = loop.time()
            if speech_started is None:
                remaining = started + timeout - loop.time()
            else:
                remaining = speech_started + max_speech - loop.time()
            if remaining <= 0:
                endpoint = "timeout"
                break
            try:
                async with asyncio.timeout(remaining):
                    item = await queue.get()
            except TimeoutError:
                endpoint = "timeout"
                break
            if item is None:
                break
            batch = [item]
            stream_ended = False
            while not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    stream_ended = True
                    break
                batch.append(more)
            if await loop.run_in_executor(executor, accept_batch, recognizer, batch):
                return recognizer.result
            if stream_ended:
                break
    finally:
        stopped = True
        pumping.cancel()
        await asyncio.gather(pumping, return_exceptions=True)
    return await loop.run_in_executor(executor, recognizer.finish, endpoint)


@dataclass(frozen=True, slots=True)
class Heard:
    """What one listening step got: a recognised word, or the keys pressed instead."""

    result: SpeechResult | None
    digits: str = ""


async def _until_a_key(session: AudioSocketSession) -> AsyncIterator[bytes]:
    async for chunk in session:
        if session.digits:
            return
        yield chunk


@dataclass(eq=False)
class _Handoff:
    session: AudioSocketSession
    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class AudioSocketSpeech:
    """Bind each AudioSocket connection to the IVR step listening for its call UUID.

    Args:
        model: the process's shared speech model.
        host: AudioSocket listen address.
        port: AudioSocket listen port (0: any free one).
        silence_ms: trailing silence that ends an utterance.
        connect_timeout: seconds ``listen`` waits for Asterisk to connect.
        claim_grace: seconds a connection may wait for its ``listen`` to start.
        max_speech: seconds one utterance may last.
        workers: threads running Vosk (defaults to the number of CPUs).
    """

    def __init__(
        self,
        model: SpeechModel,
        *,
        host: str = "127.0.0.1",
        port: int = 4574,
        silence_ms: int = 600,
        connect_timeout: float = 5.0,
        claim_grace: float = 5.0,
        max_speech: float = 10.0,
        read_timeout: float = 5.0,
        workers: int | None = None,
    ) -> None:
        self.model = model
        self.silence_ms = silence_ms
        self.connect_timeout = connect_timeout
        self.claim_grace = claim_grace
        self.max_speech = max_speech
        self.server = AudioSocketServer(host, port, self._on_session, read_timeout=read_timeout)
        self._executor = ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 2, thread_name_prefix="vosk"
        )
        self._waiting: dict[uuid.UUID, asyncio.Future[_Handoff]] = {}
        self._parked: dict[uuid.UUID, _Handoff] = {}

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        """Listen for Asterisk's AudioSocket connections."""
        await self.server.start()

    async def close(self) -> None:
        """Stop listening, end open sessions, and stop the Vosk threads."""
        await self.server.close()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> AudioSocketSpeech:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def application_args(self, call_id: uuid.UUID | str, host: str | None = None) -> str:
        """The arguments of ``AudioSocket()`` for this call: ``<uuid>,<host>:<port>``."""
        where = host or self.host
        if ":" in where:
            where = f"[{where}]"
        return f"{_call_key(call_id)},{where}:{self.port}"

    async def listen(
        self, call_id: uuid.UUID | str, words: list[str], timeout: float
    ) -> SpeechResult | None:
        """Recognise what the caller says on the AudioSocket connection for ``call_id``.

        Returns:
            The result, or ``None`` when the caller said nothing within ``timeout`` seconds
            or hung up first.

        Raises:
            AudioSocketTimeout: Asterisk did not connect within ``connect_timeout``.
            GrammarError: ``words`` is empty or not in the model's vocabulary.
        """
        return (await self.listen_for(call_id, words, timeout)).result

    async def listen_for(self, call_id: uuid.UUID | str, words: list[str], timeout: float) -> Heard:
        """Like ``listen``, but a key the caller presses also ends the step (and is kept)."""
        key = _call_key(call_id)
        loop = asyncio.get_running_loop()
        recognizer = await loop.run_in_executor(
            self._executor,
            lambda: GrammarRecognizer(self.model, words, silence_ms=self.silence_ms),
        )
        handoff = await self._claim(key)
        session = handoff.session
        try:
            result = await recognize_stream(
                _until_a_key(session),
                recognizer,
                timeout=timeout,
                max_speech=self.max_speech,
                executor=self._executor,
            )
            await session.hangup()
        finally:
            handoff.done.set()
        if session.digits:
            result = None
        log.info(
            "speech recognised"
            if result is not None
            else ("key pressed" if session.digits else "no speech heard"),
            extra={
                "call_id": str(key),
                "word": result.word if result else None,
                "confidence": result.confidence if result else None,
                "endpoint": result.endpoint if result else None,
                "latency_ms": _ms(result.latency) if result else None,
            },
        )
        return Heard(result, session.digits)

    async def _claim(self, key: uuid.UUID) -> _Handoff:
        parked = self._parked.pop(key, None)
        if parked is not None:
            parked.claimed.set()
            return parked
        if key in self._waiting:
            raise SpeechError(f"call {key} already has a listening step", call_id=str(key))
        future: asyncio.Future[_Handoff] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await future
        except TimeoutError as exc:
            if future.done() and not future.cancelled():
                return future.result()
            raise AudioSocketTimeout(
                f"Asterisk opened no AudioSocket for call {key} within "
                f"{self.connect_timeout:g}s (is AudioSocket() pointed at "
                f"{self.host}:{self.port}, and the channel answered?)",
                call_id=str(key),
            ) from exc
        finally:
            self._waiting.pop(key, None)

    async def _on_session(self, session: AudioSocketSession) -> None:
        key = session.call_id
        handoff = _Handoff(session)
        waiter = self._waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            handoff.claimed.set()
            waiter.set_result(handoff)
        elif key in self._parked:
            await session.hangup(
                "another connection for this call is already waiting", "speech.duplicate"
            )
            return
        else:
            self._parked[key] = handoff
            try:
                async with asyncio.timeout(self.claim_grace):
                    await handoff.claimed.wait()
            except TimeoutError:
                self._parked.pop(key, None)
                await session.hangup(
                    f"no IVR step listened for this call within {self.claim_grace:g}s",
                    "speech.unclaimed",
                )
                return
        await handoff.done.wait()


def _call_key(call_id: uuid.UUID | str) -> uuid.UUID:
    return call_id if isinstance(call_id, uuid.UUID) else uuid.UUID(str(call_id))


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
