"""Vosk with a small grammar: the model loaded once per process, an endpointer, a result.

Every method here blocks (Vosk is C++ behind cffi): call them from a worker thread,
never from the event loop; ``ivr.speech.service`` does.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ivr.speech.exceptions import GrammarError, SpeechUnavailable

log = logging.getLogger(__name__)

UNKNOWN = "[unk]"
Endpoint = Literal["vosk", "silence", "timeout", "stream-end"]
VAD_FRAME_MS = 10


class SpeechModel:
    """A Vosk model directory, loaded once per process and shared by every recognizer."""

    _cache: ClassVar[dict[Path, SpeechModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    loads: ClassVar[int] = 0

    def __init__(self, path: Path, vosk_model: Any) -> None:
        self.path = path
        self.vosk_model = vosk_model

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpeechModel:
        """The model at ``path``, loaded on first use; thread-safe.

        Raises:
            SpeechUnavailable: vosk is not installed, or ``path`` is not a Vosk model.
        """
        key = Path(path).expanduser().resolve()
        with cls._lock:
            model = cls._cache.get(key)
            if model is None:
                model = cls.load_uncached(key)
                cls._cache[key] = model
            return model

    @classmethod
    def load_uncached(cls, path: str | os.PathLike[str]) -> SpeechModel:
        """Load a fresh copy, bypassing the cache (what a naive per-call load costs)."""
        vosk = _import_vosk()
        where = Path(path).expanduser()
        if not where.is_dir():
            raise SpeechUnavailable(
                f"speech model {str(where)!r} is not a directory: set CTI_SPEECH_MODEL to an "
                "unpacked Vosk model, or leave it unset for DTMF only",
                path=str(where),
            )
        started = time.monotonic()
        try:
            handle = vosk.Model(str(where))
        except Exception as exc:
            raise SpeechUnavailable(
                f"Vosk could not load a model from {str(where)!r} ({exc}); is it an unpacked "
                "Vosk model directory (am/, conf/, graph/)?",
                path=str(where),
            ) from exc
        cls.loads += 1
        log.info(
            "speech model loaded",
            extra={"path": str(where), "seconds": round(time.monotonic() - started, 2)},
        )
        return cls(where, handle)

    @classmethod
    def forget(cls, path: str | os.PathLike[str] | None = None) -> None:
        """Drop one cached model, or all of them; the next ``load`` reads the disk again."""
        with cls._lock:
            if path is None:
                cls._cache.clear()
            else:
                cls._cache.pop(Path(path).expanduser().resolve(), None)

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has ``word``."""
        return int(self.vosk_model.vosk_model_find_word(word)) >= 0


_vosk_module: Any = None


def _import_vosk() -> Any:
    global _vosk_module
    if _vosk_module is None:
        try:
            import vosk
        except (ImportError, OSError) as exc:
            raise SpeechUnavailable(
                f"the vosk package is not usable ({exc}): pip install 'callfold[speech]'"
            ) from exc
        vosk.SetLogLevel(-1)
        _vosk_module = vosk
    return _vosk_module


@dataclass(frozen=True, slots=True)
class SpeechResult:
    """What the caller said: all Vosk heard, the grammar entry it matched, and when.

    Times are ``time.monotonic()`` values. ``latency`` is what the caller waits after
    they stop speaking; ``decode_latency`` is the recognizer's own share of it, from the
    arrival of the audio that ended the utterance.
    """

    text: str
    word: str | None
    confidence: float
    final_at: float
    speech_end_at: float | None = None
    endpoint_at: float | None = None
    endpoint: Endpoint = "stream-end"

    @property
    def latency(self) -> float | None:
        return None if self.speech_end_at is None else self.final_at - self.speech_end_at

    @property
    def decode_latency(self) -> float | None:
        return None if self.endpoint_at is None else self.final_at - self.endpoint_at


def best_word(result: dict[str, Any], grammar: Iterable[str]) -> tuple[str | None, float]:
    """The grammar entry Vosk heard with the highest confidence; ``(None, 0.0)`` if none."""
    entries = [e for e in result.get("result", []) if isinstance(e, dict) and "word" in e]
    words = [str(e["word"]) for e in entries]
    confs = [float(e.get("conf", 0.0)) for e in entries]
    best: str | None = None
    best_conf = -1.0
    for phrase in grammar:
        parts = phrase.split()
        for i in range(len(words) - len(parts) + 1):
            if words[i : i + len(parts)] == parts:
                conf = sum(confs[i : i + len(parts)]) / len(parts)
                if conf > best_conf:
                    best, best_conf = phrase, conf
    return (best, best_conf) if best is not None else (None, 0.0)


class EnergyVad:
    """Energy voice activity on 16-bit mono audio, in 10 ms frames, across any chunking.

    Speech starts after ``min_speech_ms`` of consecutive frames louder than
    ``threshold_dbfs``; it has ended once ``silence_ms`` of quieter audio follows.
    """

    def __init__(
        self,
        sample_rate: int = 8000,
        *,
        silence_ms: int = 600,
        threshold_dbfs: float = -40.0,
        min_speech_ms: int = 60,
    ) -> None:
        self.sample_rate = sample_rate
        self.frame_bytes = 2 * sample_rate * VAD_FRAME_MS // 1000
        self.silence_frames = max(1, silence_ms // VAD_FRAME_MS)
        self.min_speech_frames = max(1, min_speech_ms // VAD_FRAME_MS)
        self.threshold = 32768.0 * 10 ** (threshold_dbfs / 20)
        self.speech_started = False
        self.speech_end_at: float | None = None
        self._voiced_run = 0
        self._quiet_run = 0
        self._rest = b""

    @property
    def ended(self) -> bool:
        """Speech started and enough silence followed it."""
        return self.speech_started and self._quiet_run >= self.silence_frames

    def feed(self, pcm: bytes, received_at: float) -> bool:
        """Add audio that arrived at ``received_at``; return ``ended``."""
        data = self._rest + pcm
        usable = len(data) - len(data) % self.frame_bytes
        byte_rate = 2 * self.sample_rate
        for start in range(0, usable, self.frame_bytes):
            samples = array("h", data[start : start + self.frame_bytes])
            rms = math.sqrt(sum(s * s for s in samples) / len(samples))
            if rms >= self.threshold:
                self._voiced_run += 1
                self._quiet_run = 0
                if self._voiced_run >= self.min_speech_frames:
                    self.speech_started = True
                if self.speech_started:
                    frame_end = start + self.frame_bytes
                    self.speech_end_at = received_at - (len(data) - frame_end) / byte_rate
            else:
                self._voiced_run = 0
                self._quiet_run += 1
            if self.ended:
                break
        self._rest = data[usable:]
        return self.ended


class GrammarRecognizer:
    """One utterance against a small grammar, ended by Vosk or by trailing silence.

    Args:
        model: the shared model.
        words: the grammar: words or short phrases from the model's vocabulary.
        sample_rate: of the audio fed (AudioSocket sends 8000).
        silence_ms: trailing silence that ends the utterance when Vosk has not yet.

    Raises:
        GrammarError: no words, or words the model does not know.
    """

    def __init__(
        self,
        model: SpeechModel,
        words: list[str],
        sample_rate: int = 8000,
        *,
        silence_ms: int = 600,
        threshold_dbfs: float = -40.0,
    ) -> None:
        grammar = list(dict.fromkeys(w.strip() for w in words if w.strip()))
        if not grammar:
            raise GrammarError("a speech grammar needs at least one word")
        unknown = sorted({p for w in grammar for p in w.split() if not model.knows(p)})
        if unknown:
            raise GrammarError(
                f"the speech model at {str(model.path)!r} does not know {unknown}",
                unknown=unknown,
            )
        self.words = grammar
        self.sample_rate = sample_rate
        entries = [*grammar, UNKNOWN] if model.knows(UNKNOWN) else grammar
        vosk = _import_vosk()
        self._vosk = vosk.KaldiRecognizer(
            model.vosk_model, sample_rate, json.dumps(entries, ensure_ascii=False)
        )
        self._vosk.SetWords(True)
        self.vad = EnergyVad(sample_rate, silence_ms=silence_ms, threshold_dbfs=threshold_dbfs)
        self.result: SpeechResult | None = None
        self._endpoint_at: float | None = None

    @property
    def heard_speech(self) -> bool:
        return self.vad.speech_started

    @property
    def done(self) -> bool:
        return self.result is not None

    def accept(self, pcm: bytes, received_at: float | None = None) -> bool:
        """Feed audio that arrived at ``received_at``; return True once the utterance ended."""
        if self.result is not None:
            return True
        at = time.monotonic() if received_at is None else received_at
        silence_ended = self.vad.feed(pcm, at)
        if self._vosk.AcceptWaveform(pcm):
            heard = json.loads(self._vosk.Result())
            if heard.get("text"):
                self.result = self._result(heard, "vosk", at)
                return True
        if silence_ended:
            self.result = self._result(json.loads(self._vosk.FinalResult()), "silence", at)
            return True
        return False

    def finish(self, endpoint: Endpoint = "stream-end") -> SpeechResult | None:
        """The result once audio stopped or time ran out; None if no speech was heard."""
        if self.result is not None:
            return self.result
        endpoint_at = time.monotonic()
        heard = json.loads(self._vosk.FinalResult())
        if not self.heard_speech and not heard.get("text"):
            return None
        self.result = self._result(heard, endpoint, endpoint_at)
        return self.result

    def _result(
        self, heard: dict[str, Any], endpoint: Endpoint, endpoint_at: float
    ) -> SpeechResult:
        word, confidence = best_word(heard, self.words)
        return SpeechResult(
            text=str(heard.get("text", "")),
            word=word,
            confidence=round(confidence, 3),
            final_at=time.monotonic(),
            speech_end_at=self.vad.speech_end_at,
            endpoint_at=endpoint_at,
            endpoint=endpoint,
        )


def accept_batch(recognizer: GrammarRecognizer, batch: list[tuple[bytes, float]]) -> bool:
    """Feed chunks in order until the utterance ends; True if it did."""
    return any(recognizer.accept(pcm, at) for pcm, at in batch)
