"""A lean HTTP/1.1 load generator: prebuilt requests over keep-alive connections, so the client
spends as little of the machine's two cores as possible and the server is what gets measured."""

import asyncio
import time
from collections.abc import Sequence

import numpy as np


def build_request(method: str, path: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length) if length else b""


async def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    rate: float | None = None,
    keep_bodies: bool = False,
    progress=None,
) -> dict:
    """Send every request once; returns elapsed seconds, status counts and latency percentiles.

    ``rate``: requests per second to hold (request i is not sent before i / rate seconds), instead of
    as fast as the server answers. ``keep_bodies``: also return ``answers``, (request index, status,
    body) for every request, for callers that count what the server accepted. ``progress``: a tqdm
    bar, advanced per answer."""
    queue = list(reversed(range(len(requests))))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: list[tuple[int, int, bytes]] = []
    began = time.perf_counter()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                index = queue.pop()
                if rate is not None:
                    await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
                started = time.perf_counter()
                writer.write(requests[index])
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
                if keep_bodies:
                    answers.append((index, status, body))
                if progress is not None:
                    progress.update()
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    lat = np.array(latencies or [0.0]) * 1000
    result = {
        "elapsed_s": elapsed,
        "statuses": statuses,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }
    if keep_bodies:
        result["answers"] = answers
    return result
