#!/usr/bin/env python3
"""The Linux side of the connection-count test: N concurrent connections to
HOST:PORT, all open at once; each sends SIZE bytes of its own pattern,
reads the echo back, checks it, and closes. Prints a summary line
"conns N ok K failed F max_open M seconds S" and exits 1 unless all N
succeed.
"""
import asyncio
import resource
import sys
import time


async def one(host, port, i, size, gate, state):
    data = bytes((i + k) & 0xFF for k in range(size))
    reader, writer = await asyncio.open_connection(host, port)
    state["open"] += 1
    state["max_open"] = max(state["max_open"], state["open"])
    await gate.wait()  # every connection is established before any data
    writer.write(data)
    await writer.drain()
    got = await reader.readexactly(size)
    writer.close()
    await writer.wait_closed()
    state["open"] -= 1
    return got == data


async def main(host, port, n, size, timeout):
    gate = asyncio.Event()
    state = {"open": 0, "max_open": 0}
    sem = asyncio.Semaphore(512)  # bound the SYN burst, not the total

    async def paced(i):
        async with sem:
            reader_writer = asyncio.ensure_future(one(host, port, i, size, gate, state))
            while state["open"] < 1 and not reader_writer.done():
                await asyncio.sleep(0)
        return await reader_writer

    tasks = [asyncio.ensure_future(paced(i)) for i in range(n)]
    start = time.time()
    while state["max_open"] < n and time.time() - start < timeout:
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
    ok = sum(1 for r in results if r is True)
    print("conns %d ok %d failed %d max_open %d seconds %.1f"
          % (n, ok, n - ok, state["max_open"], time.time() - start), flush=True)
    return ok == n


if __name__ == "__main__":
    host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1024, n + 1024))
    sys.exit(0 if asyncio.run(main(host, port, n, size, 120.0)) else 1)
