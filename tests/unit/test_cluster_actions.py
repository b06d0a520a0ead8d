"""When an AMI action may leave a process that does not read AMI (``cti.cluster.actions``).

The session itself is exercised against the simulator (``test_pbxsim_server``) and in
real processes (``test_cluster_peers``); here the lease's answers are staged.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from cti.ami.client import AmiClient
from cti.ami.exceptions import AmiConnectionError, AmiError
from cti.cluster.actions import ClusterActions
from cti.cluster.exceptions import LeaseUnavailable, NoAmiReader
from cti.settings import AmiSettings

pytestmark = pytest.mark.unit


class Lease:
    """The lease as Redis would answer: a holder, nobody, an error, or silence."""

    def __init__(self, holder: str | None = None, error: bool = False, hang: bool = False) -> None:
        self.holder, self.error, self.hang = holder, error, hang
        self.asked = 0

    async def owner(self) -> str | None:
        self.asked += 1
        if self.error:
            raise LeaseUnavailable("read", RedisConnectionError("connection refused"))
        if self.hang:
            await asyncio.sleep(10)
        return self.holder


def actions(lease: Lease, *, reading: bool = False) -> ClusterActions:
    client = AmiClient(AmiSettings(), events=False)  # never connected: a sent action fails
    return ClusterActions(client, lease, reading=lambda: reading, timeout=0.05)


@pytest.mark.parametrize(
    ("lease", "said"),
    [
        (Lease(holder=None), "no server process reads Asterisk's AMI right now"),
        (Lease(error=True), "Redis cannot say which server process reads"),
        (Lease(hang=True), "Redis cannot say which server process reads"),
    ],
)
async def test_nothing_is_sent_while_nobody_reads_ami(lease: Lease, said: str) -> None:
    gate = actions(lease)
    with pytest.raises(NoAmiReader) as raised:
        await gate.action("QueuePause", Interface="PJSIP/1001", Paused="true")
    assert said in str(raised.value) and str(raised.value).startswith("QueuePause not sent")
    assert isinstance(raised.value, AmiError), "the API's 503 path"
    assert raised.value.error_id == "cluster.no_ami_reader"
    assert gate.refused == 1


async def test_with_a_reader_the_action_goes_to_the_own_session() -> None:
    lease = Lease(holder="host:1:abcd")
    with pytest.raises(AmiConnectionError) as raised:
        await actions(lease).action("Ping")
    assert not isinstance(raised.value, NoAmiReader)
    assert str(raised.value) == "not connected to Asterisk"
    assert lease.asked == 1


async def test_the_reader_itself_does_not_ask_redis() -> None:
    lease = Lease(holder=None)
    with pytest.raises(AmiConnectionError) as raised:
        await actions(lease, reading=True).action("Ping")
    assert not isinstance(raised.value, NoAmiReader)
    assert lease.asked == 0


def test_the_action_session_must_not_take_events() -> None:
    with pytest.raises(ValueError, match="events off"):
        ClusterActions(AmiClient(AmiSettings()), Lease())
