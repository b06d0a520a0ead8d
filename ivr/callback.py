"""The FastAGI ``callback`` script: a caller waiting in a queue pressed 1 to be called back.

Asterisk takes the caller out of the queue (queues.conf ``context = cti-queue-exit``) and
runs ``AGI(agi://.../callback)`` (dialplans/outbound.conf). The caller's place in line is
when they joined the queue: the server saw ``QueueCallerJoin`` (``AgentBoard.joined``); if
it did not (it was not reading AMI then), the dialplan's ``CTI_QUEUE_JOINED`` says.

Sets ``CTI_CALLBACK`` to ``owed`` (the dialplan then lets the caller go) or ``refused``
with ``CTI_CALLBACK_REFUSED`` saying why (the dialplan puts them back in the queue).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ivr.agi.server import AgiSession

if TYPE_CHECKING:
    from cti.callbacks.service import OutboundService

log = logging.getLogger(__name__)

HANDED_OVER = ("CTI_CALLBACK", "CTI_CALLBACK_ID", "CTI_CALLBACK_REFUSED")
"""What the script sets for the dialplan."""
OWED = "cti/callback-owed"
UNAVAILABLE = "cti/callback-unavailable"


class CallbackIvr:
    """Keeps a caller's place in line and lets them hang up."""

    def __init__(self, outbound: OutboundService) -> None:
        self.outbound = outbound

    async def __call__(self, session: AgiSession) -> None:
        uniqueid = session.env.get("agi_uniqueid", "")
        queue = await session.get_variable("CTI_QUEUE") or ""
        joined = _number(await session.get_variable("CTI_QUEUE_JOINED")) or time.time()
        seen = self.outbound.board.joined(uniqueid) if uniqueid else None
        if seen is not None:
            queue, joined = seen
        contact = await session.get_variable("CTI_CONTACT_ID") or ""
        answer = await self.outbound.hold_place(
            raw_number=session.callerid,
            queue=queue,
            joined=joined,
            source_call=uniqueid or f"agi-{time.time()}",
            contact_id=int(contact) if contact.isdigit() else None,
        )
        if answer.callback_id is not None:
            await session.set_variable("CTI_CALLBACK", "owed")
            await session.set_variable("CTI_CALLBACK_ID", str(answer.callback_id))
            await session.stream_file(OWED)
            return
        log.info("a call-back was not offered to a caller of %s: %s", queue, answer.refused)
        await session.set_variable("CTI_CALLBACK", "refused")
        await session.set_variable("CTI_CALLBACK_REFUSED", answer.refused or "")
        await session.stream_file(UNAVAILABLE)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
