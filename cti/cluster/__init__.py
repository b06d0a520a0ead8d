"""Several server processes against one Asterisk: the AMI lease, the call ledger, the takeover,
and what the processes share besides: AMI actions from each, the reader's agent board.

May import ``cti.ami``, ``cti.bridge``, ``cti.bus``, ``cti.calls``, ``cti.routing``,
``cti.store``, ``cti.settings``, redis and SQLAlchemy's errors; nothing imports it but the
composition root (``cti.app``).
"""
