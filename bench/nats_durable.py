"""What `cchc up --durable` costs: JetStream publishes acknowledged by an embedded nats-server with
its default (fsync every 2 minutes) and with `sync_interval: always` (fsync before each ack),
one at a time (the latency an outbox relay pays per event) and 256 in flight (the relay's batch).

    .venv/bin/python bench/nats_durable.py [--messages 2000]

Each run starts its own nats-server from the wheel on a loopback port with a fresh store in a
temporary folder, publishes ~1 KB events (the size of a progress.reported envelope), and stops."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import nats

from shared.servers import EmbeddedNats

BODY = b'{"type": "progress.reported", "payload": "' + b"x" * 1000 + b'"}'


async def measure(durable: bool, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cchc-bench-nats-") as folder:
        server = EmbeddedNats(Path(folder), durable=durable)
        server.start()
        try:
            client = await nats.connect(server.url)
            js = client.jetstream()
            await js.add_stream(name="BENCH", subjects=["bench.>"])
            latencies = []
            for n in range(messages):
                started = time.perf_counter()
                await js.publish(f"bench.one.{n}", BODY)
                latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            for first in range(0, messages, 256):
                batch = range(first, min(first + 256, messages))
                await asyncio.gather(*(js.publish(f"bench.batch.{n}", BODY) for n in batch))
            batched = time.perf_counter() - started
            await client.close()
        finally:
            server.stop()
    latencies.sort()
    return {
        "one_p50_ms": statistics.median(latencies) * 1000,
        "one_p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "one_per_s": messages / sum(latencies),
        "batched_per_s": messages / batched,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'fsync':<28} {'one p50 ms':>11} {'one p95 ms':>11} {'one at a time/s':>16} {'256 in flight/s':>16}")
    for durable in (False, True):
        figures = await measure(durable, args.messages)
        name = "sync_interval: always" if durable else "default (every 2 min)"
        print(
            f"{name:<28} {figures['one_p50_ms']:>11.2f} {figures['one_p95_ms']:>11.2f} "
            f"{figures['one_per_s']:>16.0f} {figures['batched_per_s']:>16.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
