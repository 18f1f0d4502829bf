#!/usr/bin/env python3
"""Coral-style baseline client for the multi-turn benchmark (bench/README.md, "Multi-turn inference").

What Coral does when it talks to its serving layer (coral.md §1.4-§1.6, §7; matrix.md §1.4), and
nothing more:
  * one asyncio event loop; at most `parallel` conversations in flight, a sliding window refilled
    as soon as one finishes (asyncio.wait(..., FIRST_COMPLETED), as Coral's validation step does);
  * every turn re-sends the whole history as chat messages (perspective flip: the speaker's own
    turns are `assistant`, the partner's `user`, after the system prompt; turn 0 is the task);
  * after every turn, an LLM belief-extractor call: [system, user] with temperature 0 and
    max_tokens 32, strictly after the turn and before the next one;
  * no affinity and no slot hints; a new HTTP client per call, as Matrix's `make_request` creates
    a new `AsyncOpenAI` client inside every call (no connection pooling);
  * retries: 3 attempts, backoff initial_delay x (2^attempt + U(0,1)) on connection errors/timeouts.
Request semantics are the ones the C++ driver sends through Parley's plugins (same workload file):
temperature/top_p/seed/max_tokens for agent turns, temperature 0 / max_tokens 32 for the extractor.

usage: coral_client.py --url http://127.0.0.1:PORT --workload WORKLOAD.json --out RESULT.json
"""
import argparse
import asyncio
import json
import random
import sys
import time

import aiohttp


def extractor_prompt(w, c, response):
    return ("**This is the original question:**\n" + w["questions"][c] + "\n\n\n\n**And the options are:**\n" +
            w["options"][c] + "\n\n**This is the response you need to extract answer from:**\n\n" + response +
            '\n\n**Extract the answer in ([A-Z]) format, or say "not sure yet".**')


def apply_chat_template(turns, sys_prompt):
    # utils/chat_utils.py::apply_chat_template with last_role_name="user": the newest turn is the
    # partner's ("user"), and roles alternate backwards from there.
    msgs = [{"role": "system", "content": sys_prompt}] if sys_prompt else []
    for i, m in enumerate(turns):
        role = "user" if (len(turns) - i) % 2 == 1 else "assistant"
        msgs.append({"role": role, "content": m})
    return msgs


class Totals:
    def __init__(self):
        self.requests = self.failures = 0
        self.prompt_tokens = self.cached_tokens = self.completion_tokens = 0
        self.agent_completion_tokens = 0
        self.turns_done = 0
        self.conversations_done = 0
        self.first_error = ""
        self.trace = []  # per request (--trace): conv, kind, turn, prompt, cached, generated, submitted_at, done_at
        self.t0 = time.monotonic()


async def make_request(url, body, totals, timeout_s=600.0, max_retries=3, initial_delay=1.0, backoff_factor=2.0, tag=None):
    """One chat call, Matrix style: a fresh client (session) per call, retried with backoff; never raises."""
    last = None
    submitted_at = time.monotonic() - totals.t0
    for attempt in range(max_retries):
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
                async with session.post(url + "/v1/chat/completions", json=body) as resp:
                    data = await resp.json(content_type=None)
                    if resp.status != 200:
                        raise RuntimeError("HTTP %d: %s" % (resp.status, str(data)[:200]))
            usage = data.get("usage", {})
            timings = data.get("timings", {})
            totals.requests += 1
            totals.prompt_tokens += usage.get("prompt_tokens", 0)
            totals.completion_tokens += usage.get("completion_tokens", 0)
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            if cached is None:
                cached = timings.get("cache_n", 0)
            totals.cached_tokens += cached
            if tag is not None:
                totals.trace.append({**tag, "prompt": usage.get("prompt_tokens", 0), "cached": cached,
                                     "generated": usage.get("completion_tokens", 0), "submitted_at": submitted_at,
                                     "done_at": time.monotonic() - totals.t0})
            return data["choices"][0]["message"]["content"], usage.get("completion_tokens", 0)
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as e:
            last = e
            await asyncio.sleep(initial_delay * (backoff_factor ** attempt + random.random()))
    totals.requests += 1
    totals.failures += 1
    if not totals.first_error:
        totals.first_error = repr(last)
    return None, 0


async def conversation(url, w, c, totals, deadline):
    turns = [w["tasks"][c]]  # turn 0: the student's task message
    for _ in range(w["turns"]):
        if deadline and time.monotonic() > deadline:
            return  # the benchmark's time limit: no new turn

        msgs = apply_chat_template(turns, w["system"])
        body = {"model": "default", "messages": msgs, "temperature": w["temperature"], "top_p": w["top_p"],
                "max_tokens": w["turn"], "seed": w["seed"], "stream": False}
        text, n = await make_request(url, body, totals, tag={"conv": c, "kind": "agent", "turn": len(turns)})
        if text is None:
            return
        totals.agent_completion_tokens += n
        turns.append(text)
        if w.get("extractor", True):
            ebody = {"model": "default", "temperature": 0.0, "max_tokens": w["extractor_tokens"], "stream": False,
                     "messages": [{"role": "system", "content": w["extractor_system"]},
                                  {"role": "user", "content": extractor_prompt(w, c, text)}]}
            await make_request(url, ebody, totals, tag={"conv": c, "kind": "extractor", "turn": len(turns) - 1})
        totals.turns_done += 1
    totals.conversations_done += 1


async def main_async(args):
    w = json.load(open(args.workload))
    totals = Totals()
    t0 = time.monotonic()
    c0 = time.process_time()
    deadline = t0 + w["time_limit_s"] if w.get("time_limit_s", 0) > 0 else None
    pending = set()
    nxt = 0
    while nxt < w["conversations"] or pending:
        while nxt < w["conversations"] and len(pending) < w["parallel"] and not (deadline and time.monotonic() > deadline):
            pending.add(asyncio.create_task(conversation(args.url, w, nxt, totals, deadline)))
            nxt += 1
        if not pending:
            break
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    wall = time.monotonic() - t0
    cpu = time.process_time() - c0
    out = {
        "wall_s": wall,
        "client_process_cpu_s": cpu,
        "conversations": w["conversations"],
        "conversations_done": totals.conversations_done,
        "turns_done": totals.turns_done,
        "partial": totals.conversations_done < w["conversations"],
        # completed conversation-equivalents per second (= conversations / wall for a complete run)
        "conversations_per_s": totals.turns_done / w["turns"] / wall,
        "requests": totals.requests,
        "failures": totals.failures,
        "first_error": totals.first_error,
        "generated_tokens": totals.completion_tokens,
        "agent_generated_tokens": totals.agent_completion_tokens,
        "generated_tok_per_s": totals.completion_tokens / wall,
        "prompt_tokens": totals.prompt_tokens,
        "cached_tokens": totals.cached_tokens,
        "prefilled_tokens": totals.prompt_tokens - totals.cached_tokens,
        "prefilled_tok_per_s": (totals.prompt_tokens - totals.cached_tokens) / wall,
        "client": "Python %s, aiohttp %s, one asyncio loop, new session per request" % (
            sys.version.split()[0], aiohttp.__version__),
    }
    json.dump(out, open(args.out, "w"), indent=2)
    if args.trace:
        json.dump(totals.trace, open(args.trace, "w"), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trace", help="write one object per request (conversation, kind, turn, tokens, times) here")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
