"""Prompts and greetings by name, recorded by the real espeak-ng and sox."""

from __future__ import annotations

import asyncio
import shutil
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from ivr.flow import every_prompt, load_flow
from ivr.prompts import NameGreeter, Voice, sound_file
from tests.conftest import need_service

pytestmark = pytest.mark.integration


@pytest.fixture
def voice() -> Voice:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            need_service(tool, "run scripts/system-deps.sh as root")
    return Voice()


def test_every_prompt_is_recorded_once_in_asterisk_format(voice: Voice, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["prompts", "generate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    total = sum(len(p) for p in every_prompt(load_flow()).values())
    assert f"{total} prompt(s) recorded, 0 up to date" in result.output
    with wave.open(str(sound_file(tmp_path, "ru", "cti/welcome"))) as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (8000, 2, 1)
        assert audio.getnframes() > 8000
    again = CliRunner().invoke(main, ["prompts", "generate", "--out", str(tmp_path)])
    assert f"0 prompt(s) recorded, {total} up to date" in again.output


async def test_a_greeting_by_name_is_made_once_and_kept(voice: Voice, tmp_path: Path) -> None:
    greeter = NameGreeter(tmp_path, voice)
    first, second = await asyncio.gather(
        greeter.prompt("Hello, {name}.", "Ivan Petrov", "en", "en"),
        greeter.prompt("Hello, {name}.", "Ivan Sidorov", "en", "en"),
    )
    assert first is not None and first == second and first.startswith("cti/names/")
    made = sound_file(tmp_path, "en", first)
    assert made.is_file()
    stamp = made.stat().st_mtime_ns
    assert await greeter.prompt("Hello, {name}.", "Ivan", "en", "en") == first
    assert made.stat().st_mtime_ns == stamp
    assert await greeter.prompt("", "Ivan", "en", "en") is None
    assert await greeter.prompt("Hello, {name}.", "  ", "en", "en") is None


async def test_without_espeak_the_caller_gets_the_generic_greeting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    greeter = NameGreeter(tmp_path, Voice(espeak="no-such-espeak"))
    assert await greeter.prompt("Hello, {name}.", "Ivan", "en", "en") is None
    assert await greeter.prompt("Hello, {name}.", "Olga", "en", "en") is None
    assert caplog.text.count("generic greeting") == 1
