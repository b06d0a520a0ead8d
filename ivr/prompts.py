"""Sound files for the IVR: the prompt generator, and greetings by name made on the fly.

Asterisk plays ``STREAM FILE cti/welcome`` from ``<sounds>/<language>/cti/welcome.wav``
(8 kHz, 16-bit, mono). ``cti prompts generate`` records every prompt of the flow from the
texts in ``ivr/prompts/<language>.json`` with espeak-ng and sox into ``CTI_IVR_SOUNDS``;
a site replaces them with studio recordings of the same names. ``NameGreeter`` makes
"Hello, Ivan." the first time a name is needed and keeps it (``cti/names/<hash>``); when
espeak-ng is missing or slow the caller hears the generic greeting instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ivr.flow import FlowFile, every_prompt, prompt_catalog

log = logging.getLogger(__name__)

RATE = 8000
NAMES = "cti/names"


class Voice:
    """Text to an Asterisk-ready WAV file with espeak-ng, converted by sox."""

    def __init__(self, espeak: str = "espeak-ng", sox: str = "sox") -> None:
        self.espeak = shutil.which(espeak)
        self.sox = shutil.which(sox)

    @property
    def available(self) -> bool:
        return self.espeak is not None and self.sox is not None

    async def render(self, text: str, voice: str, target: Path, timeout: float = 10.0) -> None:
        """Write ``text`` spoken in ``voice`` to ``target`` (replaced whole, never half)."""
        if self.espeak is None or self.sox is None:
            raise RuntimeError("espeak-ng and sox are needed to make prompts")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cti-tts-") as folder:
            spoken = Path(folder) / "spoken.wav"
            ready = Path(folder) / "ready.wav"
            async with asyncio.timeout(timeout):
                await _run(self.espeak, "-v", voice, "-w", str(spoken), "--", text)
                await _run(
                    self.sox,
                    str(spoken),
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(ready),
                )
            staged = target.with_suffix(".part")
            shutil.copyfile(ready, staged)
            staged.replace(target)


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed: {err.decode(errors='replace')[:200]}")


def sound_file(sounds: Path, language: str, prompt: str) -> Path:
    """Where Asterisk finds ``prompt`` for a channel in ``language``."""
    return sounds / language / f"{prompt}.wav"


async def generate_prompts(
    flow: FlowFile,
    sounds: Path,
    voice: Voice,
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Record every prompt of ``flow`` that is missing or whose text changed.

    Returns how many files were written and how many were already up to date. A text's
    hash is kept beside its file (``.txt.sha1``) so an edited text is recorded again.
    """
    written = kept = 0
    for language, prompts in sorted(every_prompt(flow).items()):
        catalog = prompt_catalog(language)
        section_voice = flow.languages[language].voice
        for prompt in sorted(prompts):
            target = sound_file(sounds, language, prompt)
            stamp = target.with_suffix(".sha1")
            digest = hashlib.sha1(f"{section_voice}\0{catalog[prompt]}".encode()).hexdigest()
            if not force and target.exists() and stamp.exists() and stamp.read_text() == digest:
                kept += 1
            else:
                await voice.render(catalog[prompt], section_voice, target)
                stamp.write_text(digest)
                written += 1
            if progress is not None:
                progress(1)
    return written, kept


class NameGreeter:
    """Greetings by first name, made once with text-to-speech and kept on disk."""

    def __init__(self, sounds: Path, voice: Voice | None = None, *, timeout: float = 2.0) -> None:
        self.sounds = sounds
        self.voice = voice if voice is not None else Voice()
        self.timeout = timeout
        self._making: dict[Path, asyncio.Task[None]] = {}
        self._warned = False

    async def prompt(self, template: str, name: str, language: str, voice: str) -> str | None:
        """The prompt that says ``template`` with ``{name}``, or None (say the generic one)."""
        first = name.strip().split(" ")[0] if name.strip() else ""
        if not template or not first:
            return None
        text = template.replace("{name}", first)
        key = hashlib.sha1(f"{voice}\0{text}".encode()).hexdigest()[:20]
        prompt = f"{NAMES}/{key}"
        target = sound_file(self.sounds, language, prompt)
        if target.exists():
            return prompt
        if not self.voice.available:
            if not self._warned:
                log.warning("espeak-ng or sox is missing: callers hear the generic greeting")
                self._warned = True
            return None
        making = self._making.get(target)
        if making is None:
            making = asyncio.create_task(self.voice.render(text, voice, target, self.timeout))
            self._making[target] = making
            making.add_done_callback(lambda _: self._making.pop(target, None))
        try:
            await asyncio.shield(making)
        except Exception as exc:
            log.warning("greeting by name not made, using the generic one: %s", exc)
            return None
        return prompt
