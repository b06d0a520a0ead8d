"""Errors of the FastAGI layer, each with a stable ``error_id``."""

from __future__ import annotations


class AgiError(Exception):
    """Base of every FastAGI error."""

    error_id = "agi.error"


class AgiProtocolError(AgiError):
    """Asterisk (or whatever connected) sent something that is not FastAGI."""

    error_id = "agi.protocol"


class AgiHangup(AgiError):
    """The caller hung up; the session should end its flow."""

    error_id = "agi.hangup"


class AgiTimeout(AgiError):
    """No reply in time, or the session ran past its limit."""

    error_id = "agi.timeout"


class AgiCommandError(AgiError):
    """Asterisk answered a command with an error code (510, 511, 520)."""

    error_id = "agi.command"

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
