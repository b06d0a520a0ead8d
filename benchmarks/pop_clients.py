"""The agents' screens for the screen-pop benchmark, in a process of their own.

``python -m benchmarks.pop_clients WS_URL TOKENS_FILE [POLL_URL POLL_TOKEN]`` opens one
WebSocket per token (``/ws/agent``), prints ``ready N`` once every ``hello`` is in,
then ``got LINKEDID MONOTONIC`` for every ringing pop the moment it is read. With a poll
address, one more client does what integrations without push do: it asks
``/api/calls/active`` once a second and prints ``poll LINKEDID MONOTONIC`` when it first
sees a call ringing someone. A ``stop`` line on stdin ends it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import websockets


async def screen(url: str, token: str, ready: asyncio.Queue[int], gate: asyncio.Semaphore) -> None:
    async with gate:
        ws = await websockets.connect(url, max_queue=None, ping_interval=None)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
    await ready.put(1)
    async for frame in ws:
        now = time.monotonic()
        if '"stage":"ringing"' in frame:
            message = json.loads(frame)
            if message["type"] == "pop":
                print(f"got {message['call']['id']} {now:.6f}", flush=True)


async def poll(url: str, token: str) -> None:
    seen: set[str] = set()
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            started = time.monotonic()
            calls = (await client.get(url)).json()["calls"]
            now = time.monotonic()
            for call in calls:
                if call["rings"] and call["linkedid"] not in seen:
                    seen.add(call["linkedid"])
                    print(f"poll {call['linkedid']} {now:.6f}", flush=True)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def main() -> int:
    url, tokens = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    ready: asyncio.Queue[int] = asyncio.Queue()
    gate = asyncio.Semaphore(50)
    tasks = [asyncio.create_task(screen(url, token, ready, gate)) for token in tokens]
    for _ in tokens:
        await ready.get()
    if len(sys.argv) > 4:
        tasks.append(asyncio.create_task(poll(sys.argv[3], sys.argv[4])))
    print(f"ready {len(tokens)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print("bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
