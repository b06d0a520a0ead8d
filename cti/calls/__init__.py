"""Calls: the state machine fed by AMI events (pure) and the service that runs it.

``model`` and ``tracker`` are pure (no I/O); ``service`` wires the tracker to a bus and a store.
"""
