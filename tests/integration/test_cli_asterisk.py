"""``cti check-asterisk`` against the simulated PBX: a clear answer in every case."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cti.cli import main
from cti.pbxsim import PbxSimulator

pytestmark = pytest.mark.integration


@pytest.fixture
def pbx_port() -> Iterator[int]:
    """A simulator with one caller waiting, in its own thread and event loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    box: dict[str, PbxSimulator] = {}

    async def run() -> None:
        sim = await PbxSimulator(secret="check-secret", speed=1).start()
        box["sim"] = sim
        sim.place_call("abandoned")
        started.set()
        await stop.wait()
        await sim.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert started.wait(5)
    yield box["sim"].port
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def check(port: int, secret: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["check-asterisk"],
        env={"CTI_AMI_PORT": str(port), "CTI_AMI_SECRET": secret, "CTI_AMI_ACTION_TIMEOUT": "3"},
    )
    return result.exit_code, result.output


def test_prints_version_queues_and_channels(pbx_port: int) -> None:
    code, output = check(pbx_port, "check-secret")
    assert code == 0, output
    assert "Asterisk 22.10.1" in output
    assert "sales" in output and "support" in output
    assert "live channel" in output and "Local/s@inbound" in output
    assert "check-secret" not in output


def test_wrong_secret_says_so(pbx_port: int) -> None:
    code, output = check(pbx_port, "wrong")
    assert code == 1
    assert "refused AMI user 'cti'" in output and "CTI_AMI_SECRET" in output
    assert "wrong" not in output.replace("wrong secret", "")


def test_unreachable_host_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, output = check(port, "x")
    assert code == 1 and "cannot reach Asterisk AMI" in output
