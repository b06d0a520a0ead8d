"""Errors of the speech input, each with a stable ``error_id`` and its data."""

from __future__ import annotations


class SpeechError(Exception):
    """Base of every speech input error."""

    error_id = "speech.error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.data = data


class SpeechUnavailable(SpeechError):
    """No usable speech model: the IVR logs one warning and falls back to DTMF."""

    error_id = "speech.unavailable"


class GrammarError(SpeechError):
    """A grammar is empty or names words the model does not know."""

    error_id = "speech.grammar"


class AudioSocketProtocolError(SpeechError):
    """The peer sent bytes that are not valid AudioSocket frames."""

    error_id = "audiosocket.protocol"


class FrameTooLarge(AudioSocketProtocolError):
    """A frame announced a payload longer than the configured limit."""

    error_id = "audiosocket.oversize"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"AudioSocket frame of {size} bytes is over the {limit}-byte limit",
            size=size,
            limit=limit,
        )
        self.size = size
        self.limit = limit
