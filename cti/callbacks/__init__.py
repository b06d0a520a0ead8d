"""Outbound calls: click-to-call, call-backs that keep a caller's place, abandoned callers.

- ``rules``: when a call-back is offered and how it is retried (a versioned rule document).
- ``scheduler``: the pure decision of which owed call-back an agent serves now.
- ``dialer``: AMI ``Originate`` of agent-then-customer calls and what became of them.
- ``service``: the whole, run by the process that reads AMI.
"""
