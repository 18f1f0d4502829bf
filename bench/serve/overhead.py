"""Request overhead at IN_FLIGHT requests in flight: HTTP (aiohttp, pooled keep-alive connections)
or gRPC (grpc.aio, one channel, Matrix's proto) against a server; prints one JSON line with
requests/s and the server's CPU seconds per 1,000 requests (from /proc/PID/stat).

usage: overhead.py http|grpc TARGET SERVER_PID REQUESTS IN_FLIGHT [STUBS_DIR]
"""
import asyncio
import json
import os
import sys
import time

BODY = {"model": "m", "prompt": "Once upon a time", "max_tokens": 1, "temperature": 0}


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


async def drive(call, total, in_flight):
    done = failed = 0
    sem = asyncio.Semaphore(in_flight)

    async def one():
        nonlocal done, failed
        async with sem:
            try:
                await call()
                done += 1
            except Exception:  # noqa: BLE001 - counted
                failed += 1

    await asyncio.gather(*(one() for _ in range(total)))
    return done, failed


async def main():
    kind, target, pid, total, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    if kind == "http":
        import aiohttp
        conn = aiohttp.TCPConnector(limit=in_flight)
        session = aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=600))

        async def call():
            async with session.post(target + "/v1/completions", json=BODY) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(r.status)
    else:
        import grpc
        sys.path.insert(0, sys.argv[6])
        import openai_pb2
        import openai_pb2_grpc
        channel = grpc.aio.insecure_channel(target)
        stub = openai_pb2_grpc.OpenaiServiceStub(channel)
        req = openai_pb2.CompletionRequest(model="m", prompt=BODY["prompt"], max_tokens=1)

        async def call():
            await stub.CreateCompletion(req, timeout=600)
    await drive(call, min(total, in_flight), in_flight)  # warm-up: connections open
    c0, t0, p0 = cpu_s(pid), time.perf_counter(), time.process_time()
    done, failed = await drive(call, total, in_flight)
    wall, server_cpu, client_cpu = time.perf_counter() - t0, cpu_s(pid) - c0, time.process_time() - p0
    print(json.dumps({"transport": kind, "requests": total, "in_flight": in_flight, "failed": failed,
                      "requests_per_s": round(done / wall, 1),
                      "cpu_s_per_1000_requests": round(server_cpu / total * 1000, 4),
                      "client_cpu_s_per_1000_requests": round(client_cpu / total * 1000, 4), "wall_s": round(wall, 2)}))
    if kind == "http":
        await session.close()
    else:
        await channel.close()


asyncio.run(main())
# Leave without the interpreter's teardown: grpcio 1.51's aio shutdown once blocked forever in a
# send on a socket of its own (a thread in sock_alloc_send_pskb, no connection left) after the
# result above was printed, and held run.sh with it.
sys.stdout.flush()
os._exit(0)
