"""Errors of the cluster room, each with a stable ``error_id`` for logs and metrics."""

from __future__ import annotations


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
