"""Supervisors' wallboards for the wallboard benchmark, in a process of their own.

``python -m benchmarks.wallboard_clients WS_URL TOKEN COUNT [POLL_URL]`` opens ``COUNT``
wallboard sockets (``/ws/wallboard``), prints ``ready N`` once every full picture is in,
and then, for every message a screen reads, ``got SCREEN SEQ MONOTONIC`` (``seq``: the
events the server had folded into it). With a poll address, one more client does what a
wallboard without push does: it asks ``/api/wallboard`` once a second and prints
``poll SEQ MONOTONIC``. A ``stop`` line on stdin ends it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import websockets


async def board(url: str, token: str, number: int, ready: asyncio.Queue[int]) -> None:
    ws = await websockets.connect(url, max_queue=None, ping_interval=None)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    full = json.loads(await ws.recv())
    assert full["type"] == "wallboard", full
    await ready.put(1)
    seen = full["seq"]
    async for frame in ws:
        now = time.monotonic()
        seq = json.loads(frame).get("seq", seen)
        if seq > seen:
            seen = seq
            print(f"got {number} {seq} {now:.6f}", flush=True)


async def poll(url: str, token: str) -> None:
    seen = 0
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            started = time.monotonic()
            seq = (await client.get(url)).json()["seq"]
            now = time.monotonic()
            if seq > seen:
                seen = seq
                print(f"poll {seq} {now:.6f}", flush=True)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def main() -> int:
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ready: asyncio.Queue[int] = asyncio.Queue()
    tasks = [asyncio.create_task(board(url, token, n, ready)) for n in range(count)]
    for _ in range(count):
        await ready.get()
    if len(sys.argv) > 4:
        tasks.append(asyncio.create_task(poll(sys.argv[4], token)))
    print(f"ready {count}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print("bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
