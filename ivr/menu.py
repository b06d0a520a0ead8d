"""The first IVR flow: a greeting and one short menu of reasons, keypad only.

It runs the real FastAGI path end to end (the simulator and a real Asterisk call it the
same way) and hands its decision to the dialplan in ``CTI_QUEUE`` and ``CTI_REASON``.
The caller-aware flow (greeting by name, predicted reason first, speech) replaces it.
"""

from __future__ import annotations

import logging

from ivr.agi.server import AgiSession

log = logging.getLogger(__name__)

WELCOME = "cti/welcome-menu"
RETRY = "cti/please-choose"
CHOICES = {
    "1": ("sales", "order"),
    "2": ("sales", "delivery"),
    "3": ("support", "complaint"),
    "4": ("billing", "debt"),
    "0": ("frontdesk", "operator"),
}
KEYS = "".join(CHOICES)


async def menu(session: AgiSession, default_queue: str = "frontdesk") -> None:
    """Ask once, retry once on silence or a wrong key, then hand over to a human."""
    choice = None
    for prompt in (WELCOME, RETRY):
        digit, _ = await session.stream_file(prompt, KEYS)
        if digit is None:
            digit = await session.wait_for_digit(5000)
        if digit in CHOICES:
            choice = CHOICES[digit]
            break
    queue, reason = choice or (default_queue, "operator")
    await session.set_variable("CTI_QUEUE", queue)
    await session.set_variable("CTI_REASON", reason)
    log.info(
        "IVR chose %s for %s", queue, reason, extra={"uniqueid": session.uniqueid, "reason": reason}
    )
