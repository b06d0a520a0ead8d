"""Errors of the cluster room, each with a stable ``error_id`` for logs and metrics."""

from __future__ import annotations

from cti.ami.exceptions import AmiConnectionError


class ClusterError(Exception):
    """Base of every cluster error."""

    error_id = "cluster.error"


class LeaseUnavailable(ClusterError):
    """Redis could not be asked about the AMI lease (down, slow or refusing)."""

    error_id = "cluster.lease_unavailable"

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"cannot {operation} the AMI lease in Redis: {cause}")
        self.operation = operation
        self.cause = cause


class LedgerUnavailable(ClusterError):
    """Redis could not be asked about the call ledger."""

    error_id = "cluster.ledger_unavailable"

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"cannot {operation} the call ledger in Redis: {cause}")
        self.operation = operation
        self.cause = cause


class LiveCallsUnavailable(LedgerUnavailable, ConnectionError):
    """Redis could not be asked about the AMI reader's live calls (the API's 503).

    A ``ConnectionError`` as well, which is what the HTTP edge knows of it.
    """

    error_id = "cluster.live_calls_unavailable"


class LeaseLost(ClusterError):
    """The AMI lease passed to another process before this one could use it."""

    error_id = "cluster.lease_lost"

    def __init__(self) -> None:
        super().__init__("the AMI lease passed to another process")


class NoAmiReader(ClusterError, AmiConnectionError):
    """No process reads Asterisk's AMI now, so an AMI action is not sent (the API's 503)."""

    error_id = "cluster.no_ami_reader"
