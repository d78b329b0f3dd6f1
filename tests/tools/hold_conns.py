#!/usr/bin/env python3
"""Holds many keep-alive HTTPS connections open, as customers' browsers do.

Each connection completes a TLS handshake, asks GET PATH, reads the answer and stays open,
asking again every --every seconds (below the server's idle timeout). Connections come from
several loopback source addresses (127.0.0.A-B), --per-source each, so that a per-address
limit is not what is measured. Writes "ready OPEN FAILED" to --status once every connection
was tried, then keeps them until SIGTERM, and then writes the final counts.

  hold_conns.py --port P --cafile CA --sources 10-41 --per-source 63 --status FILE
"""
import argparse
import asyncio
import signal
import ssl

GET = "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"


async def read_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def one(args, ctx, src, stats, stop):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", args.port, ssl=ctx, local_addr=(src, 0),
                                    server_hostname="localhost"), 30)
        writer.write(GET.format(path=args.path).encode())
        status = await asyncio.wait_for(read_answer(reader), 30)
        if status != 200:
            raise RuntimeError(status)
    except Exception:  # noqa: BLE001 - any failure counts as not held
        stats["failed"] += 1
        return
    stats["open"] += 1
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), args.every)
            except asyncio.TimeoutError:
                writer.write(GET.format(path=args.path).encode())
                if await asyncio.wait_for(read_answer(reader), 30) != 200:
                    raise RuntimeError("status")
    except Exception:  # noqa: BLE001
        stats["dropped"] += 1
    finally:
        stats["open"] -= 1
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--sources", default="10-41")
    ap.add_argument("--per-source", type=int, default=63)
    ap.add_argument("--path", default="/v1/health")
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--status", required=True)
    args = ap.parse_args()
    ctx = ssl.create_default_context(cafile=args.cafile)
    a, b = (int(x) for x in args.sources.split("-"))
    stats = {"open": 0, "failed": 0, "dropped": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for i in range(a, b + 1):
        for _ in range(args.per_source):
            tasks.append(asyncio.create_task(one(args, ctx, f"127.0.0.{i}", stats, stop)))
            await asyncio.sleep(0.002)  # a browser crowd, not a SYN flood
    while stats["open"] + stats["failed"] < len(tasks) and not stop.is_set():
        await asyncio.sleep(0.2)
    with open(args.status, "w") as f:
        f.write(f"ready {stats['open']} {stats['failed']}\n")
    await stop.wait()
    held = stats["open"]
    await asyncio.gather(*tasks, return_exceptions=True)
    with open(args.status, "a") as f:
        f.write(f"end {held} {stats['failed']} {stats['dropped']}\n")


asyncio.run(main())
