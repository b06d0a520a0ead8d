"""Speech settings: their environment names, including the CTI_VOSK_MODEL alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.settings import Settings, settings_table

pytestmark = pytest.mark.unit

NAMES = (
    "CTI_SPEECH_MODEL",
    "CTI_VOSK_MODEL",
    "CTI_SPEECH_AUDIOSOCKET_HOST",
    "CTI_SPEECH_AUDIOSOCKET_PORT",
    "CTI_SPEECH_SILENCE_MS",
    "CTI_SPEECH_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_without_a_model_the_ivr_is_dtmf_only() -> None:
    speech = Settings().speech
    assert speech.model is None
    assert (speech.audiosocket_host, speech.audiosocket_port) == ("127.0.0.1", 4574)
    assert (speech.silence_ms, speech.timeout) == (600, 5.0)


def test_every_speech_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_SPEECH_MODEL", "/srv/models/vosk-ko")
    monkeypatch.setenv("CTI_SPEECH_AUDIOSOCKET_HOST", "0.0.0.0")
    monkeypatch.setenv("CTI_SPEECH_AUDIOSOCKET_PORT", "9092")
    monkeypatch.setenv("CTI_SPEECH_SILENCE_MS", "400")
    monkeypatch.setenv("CTI_SPEECH_TIMEOUT", "3.5")
    speech = Settings().speech
    assert speech.model == Path("/srv/models/vosk-ko")
    assert (speech.audiosocket_host, speech.audiosocket_port) == ("0.0.0.0", 9092)
    assert (speech.silence_ms, speech.timeout) == (400, 3.5)


def test_cti_vosk_model_names_the_model_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_VOSK_MODEL", "/srv/models/vosk-ko")
    assert Settings().speech.model == Path("/srv/models/vosk-ko")


def test_cti_speech_model_wins_over_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_VOSK_MODEL", "/srv/models/old")
    monkeypatch.setenv("CTI_SPEECH_MODEL", "/srv/models/new")
    assert Settings().speech.model == Path("/srv/models/new")


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_SPEECH_SILENCE_MS", "20")
    with pytest.raises(ValueError, match="silence_ms"):
        Settings()


def test_the_settings_table_lists_both_names() -> None:
    table = settings_table()
    for name in NAMES:
        assert f"`{name}`" in table
