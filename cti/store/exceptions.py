"""Errors of the storage layer, each with a stable ``error_id`` for logs and APIs."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every storage error."""

    error_id = "store.error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.data = data


class InvalidCall(StoreError, ValueError):
    """A finished-call mapping cannot be stored (no ``linkedid``, a time that is not a time…)."""

    error_id = "store.invalid_call"
