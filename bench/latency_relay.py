"""A TCP relay that puts a loopback PDS at network distance: every byte is delayed by a fixed one-way latency, and
what each direction sends grows as a TCP sender's congestion window does.

    python -m bench.latency_relay --upstream 127.0.0.1:2583 --delay-ms 20 [--no-slow-start]

Prints ``{"port": N}`` once it listens on 127.0.0.1 and relays until stdin closes. Each direction's data leaves
``delay-ms`` after it arrived, in order, so a request/answer pair takes one extra round trip of 2 x delay (a PDS in
another region is 40-150 ms away). It runs as its own process so its work never competes with the measured
process for the GIL.

A fixed delay alone would hand a 2 MB export over within one round trip, which no TCP connection 40 ms long does:
a sender may have one congestion window of bytes unacknowledged, and the window starts at ten segments (RFC 6928)
and doubles each round trip (slow start); Linux starts it again after a connection sat idle for a retransmission
timeout (``tcp_slow_start_after_idle``, on by default), so a kept-alive connection between requests starts small
too. The relay sends so: a flight of at most a window, the next flight a round trip after the last began. A large
answer then takes several round trips, as it does at that distance (2.2 MB at 40 ms: about eight). ``--no-slow-start``
relays at loopback speed after the delay (the relay before this model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

#: ten segments of 1,448 bytes (RFC 6928's initial window, the MSS of a 1,500-byte MTU with timestamps)
INITIAL_WINDOW = 10 * 1448
#: Linux's smallest retransmission timeout: an idle period longer than it (or than the round trip) starts the
#: window again
MIN_RTO = 0.2


class Window:
    """A TCP sender's congestion window in slow start, as the flights it allows: ``allow(n)`` waits until ``n``
    bytes may leave (at most what the window has room for) and says how many may leave now."""

    def __init__(self, rtt: float) -> None:
        self.rtt = rtt
        self.size = INITIAL_WINDOW
        self.flight_began = 0.0
        self.in_flight = 0
        self.last_sent = float("-inf")

    async def allow(self, wanted: int) -> int:
        now = time.monotonic()
        if now - self.last_sent > max(MIN_RTO, self.rtt):  # idle: slow start begins again
            self.size, self.flight_began, self.in_flight = INITIAL_WINDOW, now, 0
        elif self.in_flight >= self.size:  # this flight is out: the next leaves when its acks are back
            await asyncio.sleep(max(0.0, self.flight_began + self.rtt - now))
            self.size *= 2
            self.flight_began, self.in_flight = time.monotonic(), 0
        granted = min(wanted, self.size - self.in_flight)
        self.in_flight += granted
        self.last_sent = time.monotonic()
        return granted


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, slow_start: bool) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    window = Window(2 * delay) if slow_start else None

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            while data:
                take = len(data) if window is None else await window.allow(len(data))
                writer.write(data[:take])
                data = data[take:]
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


async def _serve(upstream: tuple[str, int], delay: float, slow_start: bool) -> None:
    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pump(client_reader, up_writer, delay, slow_start),
            _pump(up_reader, client_writer, delay, slow_start),
            return_exceptions=True,
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
    parser.add_argument("--no-slow-start", dest="slow_start", action="store_false")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(_serve((host, int(port)), args.delay_ms / 1000, args.slow_start))


if __name__ == "__main__":
    main()
