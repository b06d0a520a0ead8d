"""Agents' screens for the production benchmark, in a process of their own.

``python -m benchmarks.cluster.screens TOKENS_FILE URL [URL ...]`` opens one
``/ws/agent`` per token at the first address, prints ``ready N`` once every ``hello`` is
in, then ``got LINKEDID T`` for every ringing pop the moment it is read (``T``:
``CLOCK_MONOTONIC``, one clock for every process on the machine), and ``ended LINKEDID
T`` when a call's card says it ended or is taken off the screen. When its server goes
away a screen reconnects, as a load balancer would send it, to another address (screens
spread evenly over the others) and starts from the state its ``hello`` carries:
``lost SCREEN T``, then ``back SCREEN T``, and ``shown LINKEDID T`` for a call the hello
shows ringing. A ``stop`` line on stdin ends it (``bye``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import WebSocketException

GATE = 50
"""Screens connecting at once, at the start."""
RETRY = 0.1
"""Seconds between attempts to reconnect."""


def addresses(urls: list[str], screen: int) -> list[str]:
    """Where screen ``screen`` goes: its own server first, then the others, spread evenly."""
    others = urls[1:]
    if not others:
        return urls
    turn = screen % len(others)
    return [urls[0], *others[turn:], *others[:turn]]


async def screen(
    number: int, token: str, urls: list[str], ready: asyncio.Queue[int], gate: asyncio.Semaphore
) -> None:
    order = addresses(urls, number)
    attempt = 0
    first = True
    while True:
        url = order[attempt % len(order)]
        try:
            if first:
                async with gate:
                    ws, hello = await connect(url, token)
            else:
                ws, hello = await connect(url, token)
        except (OSError, TimeoutError, WebSocketException):
            attempt += 1
            await asyncio.sleep(RETRY)
            continue
        if first:
            first = False
            await ready.put(1)
        else:
            now = time.monotonic()
            print(f"back {number} {now:.6f}", flush=True)
            for pop in hello["pops"]:
                if pop.get("call", {}).get("stage") == "ringing":
                    print(f"shown {pop['call']['id']} {now:.6f}", flush=True)
        try:
            async for frame in ws:
                now = time.monotonic()
                if '"stage":"ringing"' in frame:
                    message = json.loads(frame)
                    if message["type"] == "pop":
                        print(f"got {message['call']['id']} {now:.6f}", flush=True)
                elif '"stage":"ended"' in frame or '"type":"pop.closed"' in frame:
                    message = json.loads(frame)
                    call = message.get("call_id") or message["call"]["id"]
                    print(f"ended {call} {now:.6f}", flush=True)
        except WebSocketException:
            pass
        print(f"lost {number} {time.monotonic():.6f}", flush=True)
        attempt += 1


async def connect(url: str, token: str) -> tuple[websockets.ClientConnection, dict[str, Any]]:
    """An authenticated agent socket and its ``hello``."""
    ws = await websockets.connect(url, max_queue=None, ping_interval=None, open_timeout=10)
    try:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        async with asyncio.timeout(10):
            hello = json.loads(await ws.recv())
    except BaseException:
        await ws.close()
        raise
    if hello.get("type") != "hello":
        await ws.close()
        raise WebSocketException(f"no hello: {hello}")
    return ws, hello


async def main() -> int:
    tokens: list[str] = json.loads(Path(sys.argv[1]).read_text())
    urls = sys.argv[2:]
    ready: asyncio.Queue[int] = asyncio.Queue()
    gate = asyncio.Semaphore(GATE)
    tasks = [
        asyncio.create_task(screen(n, token, urls, ready, gate)) for n, token in enumerate(tokens)
    ]
    for _ in tokens:
        await ready.get()
    print(f"ready {len(tokens)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print("bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
