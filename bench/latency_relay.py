"""A TCP relay that delays every byte by a fixed one-way latency, to put a loopback PDS at network distance.

    python -m bench.latency_relay --upstream 127.0.0.1:2583 --delay-ms 20

Prints ``{"port": N}`` once it listens on 127.0.0.1 and relays until stdin closes. Each direction's data leaves
``delay-ms`` after it arrived, in order, so a request/answer pair takes one extra round trip of 2 x delay (a PDS in
another region is 40-150 ms away). It runs as its own process so its work never competes with the measured
process for the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((time.monotonic() + delay, data))
            if not data:
                break
        await delivering
    except (ConnectionError, asyncio.CancelledError):
        delivering.cancel()
        writer.close()


async def _serve(upstream: tuple[str, int], delay: float) -> None:
    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pump(client_reader, up_writer, delay), _pump(up_reader, client_writer, delay), return_exceptions=True
        )

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin (or exits)
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="host:port")
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(_serve((host, int(port)), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
