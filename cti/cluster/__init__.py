"""Several server processes against one Asterisk: the AMI lease, the call ledger, the takeover.

May import ``cti.ami``, ``cti.bridge``, ``cti.calls``, ``cti.store``, ``cti.settings`` and redis;
nothing imports it but the composition root (``cti.app``).
"""
