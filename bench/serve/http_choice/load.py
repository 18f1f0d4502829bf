"""Throwaway load for servers.cpp: CONNS concurrent keep-alive connections, REQS requests each.
Prints requests/s, failures and the p50/p99 latency."""
import asyncio
import sys
import time

import aiohttp


async def worker(session, url, reqs, lat, errors):
    for _ in range(reqs):
        t = time.perf_counter()
        try:
            async with session.post(url, json={"prompt": "x", "max_tokens": 1}) as r:
                await r.read()
                if r.status != 200:
                    errors.append(r.status)
        except Exception as e:  # noqa: BLE001 - counting, not handling
            errors.append(type(e).__name__)
        lat.append(time.perf_counter() - t)


async def main():
    url, conns, reqs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lat, errors = [], []
    conn = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(s, url, reqs, lat, errors) for _ in range(conns)))
        dt = time.perf_counter() - t0
    lat.sort()
    print(f"{conns} connections x {reqs}: {len(lat) / dt:.0f} req/s, {len(errors)} failed, "
          f"p50 {lat[len(lat) // 2] * 1000:.0f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms, {dt:.1f} s")


asyncio.run(main())
