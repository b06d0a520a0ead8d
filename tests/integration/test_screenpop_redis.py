"""Pops through Redis: the process reading AMI and a second server process, real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import websockets

from screenpop.state import RedisPopState
from tests.desk import (
    AMI_SECRET,
    IVAN,
    SECRET_KEY,
    desk_settings,
    free_port,
    next_of,
    running_desk,
)

pytestmark = pytest.mark.integration


def message(call_id: str, stage: str) -> dict[str, object]:
    return {"type": "pop", "version": 1, "call": {"id": call_id, "stage": stage}}


async def test_the_shared_state_lives_in_redis(redis_url: str) -> None:
    one, two = RedisPopState(redis_url), RedisPopState(redis_url)
    await one.save_pop("alice", message("1", "ringing"))
    await one.save_agent("alice", {"username": "alice", "state": "ringing"})
    assert await two.pops("alice") == [message("1", "ringing")]
    assert (await two.agent("alice")) == {"username": "alice", "state": "ringing"}
    await two.drop_pop("alice", "1")
    assert await one.pops("alice") == []
    await one.close()
    await two.close()


async def test_a_pop_reaches_a_screen_held_by_another_process(
    redis_url: str, fresh_postgres_url: str, tmp_path: Path
) -> None:
    settings = desk_settings(fresh_postgres_url, redis_url)
    async with running_desk(settings) as desk:
        port = free_port()
        env = {
            **os.environ,
            "CTI_SECRET_KEY": SECRET_KEY,
            "CTI_DATABASE_URL": fresh_postgres_url,
            "CTI_REDIS_URL": redis_url,
            "CTI_AMI_ENABLED": "false",
            "CTI_AMI_SECRET": AMI_SECRET,
            "CTI_AGI_PORT": "0",
            "CTI_HTTP_PORT": str(port),
        }
        other = subprocess.Popen(
            [str(Path(sys.executable).with_name("cti")), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "other.log", "wb"),  # noqa: SIM115
        )
        try:
            url = f"ws://127.0.0.1:{port}/ws/agent"
            for _ in range(200):
                try:
                    ws = await websockets.connect(url)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail(
                    "the second process did not start: " + (tmp_path / "other.log").read_text()
                )
            await ws.send(json.dumps({"type": "auth", "token": await desk.token("alice")}))
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello" and hello["pops"] == []
            call = desk.call(IVAN, digits="1")
            ringing = await next_of(ws, "pop")
            assert ringing["call"]["stage"] == "ringing"
            assert ringing["contact"]["name"] == "Ivan Petrov"
            await call
            again = await websockets.connect(url)
            await again.send(json.dumps({"type": "auth", "token": await desk.token("alice")}))
            hello = json.loads(await asyncio.wait_for(again.recv(), 5))
            assert [p["call"]["id"] for p in hello["pops"]] == [ringing["call"]["id"]]
            await ws.close()
            await again.close()
        finally:
            other.terminate()
            other.wait(10)
