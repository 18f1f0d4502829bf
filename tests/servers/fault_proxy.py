"""A loopback HTTP proxy that injects faults between Parley and an OpenAI-compatible server (a
test double for an unreliable network and server, used by tests/integration/reliability/).

Completion requests (POST /v1/chat/completions, /v1/completions) draw a fault with the given
rates (seeded); everything else (/health, /v1/models, /props) passes through untouched, so the
client's health probes see the real server. Faults:
  500       HTTP 500 with an OpenAI-shaped error body
  429       HTTP 429 with `Retry-After: <--retry-after>` seconds
  reset     the connection is aborted before any response
  stall     nothing is sent for --stall-s seconds (past the client's deadline), then the connection closes
  truncate  the upstream's 200 reply cut in half (a Content-Length that matches the cut: unparsable JSON)
  drip      the upstream's reply sent in 16-byte pieces every 20 ms (slow, but whole)
Every completion request is logged as one JSON line: {"t": seconds since start, "path", "fault"}
("none" when forwarded as is).

usage: fault_proxy.py --upstream URL --port-file F --log F [--rates 500=0.05,429=0.05,...]
                      [--seed N] [--retry-after S] [--stall-s S]
"""
import argparse
import asyncio
import json
import os
import random
import time

import aiohttp
from aiohttp import web

FAULTS = ("500", "429", "reset", "stall", "truncate", "drip")


def parse_rates(text):
    rates = {}
    for part in filter(None, text.split(",")):
        name, value = part.split("=")
        if name not in FAULTS:
            raise SystemExit(f"fault_proxy: unknown fault '{name}' (known: {', '.join(FAULTS)})")
        rates[name] = float(value)
    if sum(rates.values()) > 1:
        raise SystemExit("fault_proxy: the rates add up to more than 1")
    return rates


class Proxy:
    def __init__(self, args):
        self.upstream = args.upstream.rstrip("/")
        self.rates = parse_rates(args.rates)
        self.rng = random.Random(args.seed)
        self.retry_after = args.retry_after
        self.stall_s = args.stall_s
        self.log = open(args.log, "w", buffering=1)
        self.t0 = time.monotonic()
        self.session = None

    def draw(self):
        u, acc = self.rng.random(), 0.0
        for name, rate in self.rates.items():
            acc += rate
            if u < acc:
                return name
        return "none"

    async def forward(self, request):
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        async with self.session.request(request.method, self.upstream + request.path_qs, data=body or None,
                                        headers=headers) as r:
            return r.status, r.headers.get("Content-Type", "application/json"), await r.read()

    async def passthrough(self, request):
        status, ctype, data = await self.forward(request)
        return web.Response(status=status, body=data, content_type=ctype.split(";")[0])

    async def completion(self, request):
        fault = self.draw()
        self.log.write(json.dumps({"t": round(time.monotonic() - self.t0, 4), "path": request.path, "fault": fault}) + "\n")
        if fault == "500":
            return web.json_response({"error": {"message": "injected internal error", "type": "InternalServerError",
                                                "param": None, "code": 500}}, status=500)
        if fault == "429":
            return web.json_response({"error": {"message": "injected rate limit", "type": "RateLimitError",
                                                "param": None, "code": 429}}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        if fault == "reset":
            request.transport.abort()
            raise asyncio.CancelledError()
        if fault == "stall":
            await asyncio.sleep(self.stall_s)
            request.transport.abort()
            raise asyncio.CancelledError()
        status, ctype, data = await self.forward(request)
        if fault == "truncate" and status == 200:
            return web.Response(status=200, body=data[: len(data) // 2], content_type="application/json")
        if fault == "drip":
            resp = web.StreamResponse(status=status, headers={"Content-Type": ctype, "Content-Length": str(len(data))})
            await resp.prepare(request)
            for i in range(0, len(data), 16):
                await resp.write(data[i:i + 16])
                await asyncio.sleep(0.02)
            await resp.write_eof()
            return resp
        return web.Response(status=status, body=data, content_type=ctype.split(";")[0])


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rates", default="500=0.04,429=0.04,reset=0.04,stall=0.02,truncate=0.04,drip=0.04")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--stall-s", type=float, default=30)
    args = ap.parse_args()
    proxy = Proxy(args)
    proxy.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/v1/chat/completions", proxy.completion)
    app.router.add_post("/v1/completions", proxy.completion)
    app.router.add_route("*", "/{tail:.*}", proxy.passthrough)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(args.port_file + ".tmp", args.port_file)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
