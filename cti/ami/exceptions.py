"""Errors of the AMI bridge, each with a stable ``error_id`` for logs and APIs."""

from __future__ import annotations


class AmiError(Exception):
    """Base of every AMI bridge error."""

    error_id = "ami.error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.data = data


class AmiProtocolError(AmiError):
    """The peer sent bytes that are not valid AMI."""

    error_id = "ami.protocol"

    @classmethod
    def not_ami(cls, head: bytes) -> AmiProtocolError:
        return cls(f"peer is not an Asterisk manager interface (it sent {head!r})", head=head)

    @classmethod
    def oversize(cls, size: int, limit: int) -> AmiProtocolError:
        err = cls(f"dropped an AMI message of {size} bytes or more (limit {limit})")
        err.error_id = "ami.oversize"
        err.data.update(size=size, limit=limit)
        return err

    @classmethod
    def no_kind(cls, head: bytes) -> AmiProtocolError:
        err = cls(f"dropped an AMI message with neither Event nor Response: {head!r}")
        err.error_id = "ami.malformed"
        return err


class AmiConnectionError(AmiError):
    """Asterisk cannot be reached or the connection dropped."""

    error_id = "ami.connection"


class AmiAuthError(AmiError):
    """Asterisk refused the AMI username or secret."""

    error_id = "ami.auth"


class AmiActionError(AmiError):
    """An AMI action was answered with an error or not answered in time."""

    error_id = "ami.action"
