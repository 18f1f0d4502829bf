#!/usr/bin/env python3
"""The Python side of bench/client_overhead: a Coral-style aiohttp client sending REQUESTS chat
completions with IN_FLIGHT outstanding at a time (a sliding window) to a loopback server, timing
itself and counting its own CPU seconds (getrusage).

--session per_call (default) does what Coral's serving path does: Matrix's `make_request` builds
a new client (an aiohttp session, so a new connection) inside every call, and the body is JSON
encoded per call. --session pooled shares one session (keep-alive pooling), the best a Python
asyncio client can do, reported alongside.

Prints one JSON object: requests, ok, failed, wall_s, cpu_s, requests_per_s, cpu_s_per_1000_requests.
usage: coral_style_client.py --url http://127.0.0.1:PORT --requests N --in-flight K [--session per_call|pooled]
"""
import argparse
import asyncio
import json
import resource
import sys
import time

import aiohttp

import os

# The request both clients send (bench/client_overhead/request.json); `seed` varies per request.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "request.json")) as f:
    REQUEST = json.load(f)


def body(i):
    return {"model": "stub", **REQUEST, "seed": i, "stream": False}


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(a):
    url = a.url + "/v1/chat/completions"
    left = a.requests
    ok = failed = 0
    timeout = aiohttp.ClientTimeout(total=600)
    connector_limit = 0  # no cap: one connection per request in flight
    pooled = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=connector_limit)) if a.session == "pooled" else None

    async def call(i):
        payload = body(i)
        if pooled is not None:
            async with pooled.post(url, json=payload) as resp:
                data = await resp.json(content_type=None)
                return resp.status == 200 and bool(data["choices"][0]["message"]["content"])
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, json=payload) as resp:
                data = await resp.json(content_type=None)
                return resp.status == 200 and bool(data["choices"][0]["message"]["content"])

    async def worker():
        nonlocal left, ok, failed
        while left > 0:
            left -= 1
            try:
                if await call(left):
                    ok += 1
                else:
                    failed += 1
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                failed += 1

    c0, t0 = cpu_s(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(a.in_flight)))
    wall, cpu = time.monotonic() - t0, cpu_s() - c0
    if pooled is not None:
        await pooled.close()
    return {"requests": a.requests, "ok": ok, "failed": failed, "wall_s": wall, "cpu_s": cpu,
            "requests_per_s": ok / wall if wall > 0 else 0, "cpu_s_per_1000_requests": 1000 * cpu / max(ok, 1)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--in-flight", type=int, required=True)
    ap.add_argument("--session", choices=["per_call", "pooled"], default="per_call")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(asyncio.run(main(args))))
    sys.exit(0)
