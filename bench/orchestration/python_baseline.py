#!/usr/bin/env python3
"""A bare Python asyncio loop doing Coral's orchestration, as the comparison for Parley's engine.

`--protocol debate --agents N --rounds R`: multi-agent debate instead (Du et al.'s released loop,
made concurrent): N agents answer the task, then in each later round every agent (concurrently)
gets a message quoting the other agents' previous answers; every answer's belief is read with the
regex; the item's answer is the majority of the last round. Figures count answers as turns.

Each conversation: turn 0 is the task message; agents alternate; every turn "calls" an instant
fake backend (a coroutine that returns a ~500-byte reply), extracts the belief with a regex,
checks agreement on the last two beliefs, and keeps the whole history (as Coral does) until the
conversation ends after `turns` turns. Prints one JSON line with turns/s and peak bytes per
in-flight conversation (peak RSS growth over the idle interpreter; all run at once).
"""
import argparse
import asyncio
import json
import re
import resource
import sys
import time

ANSWER = re.compile(r"answer is \(([A-J])\)")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def fake_backend(messages, reply_a, reply_b):
    await asyncio.sleep(0)  # yield to the loop like a real request would
    last = messages[-1]["content"]
    return reply_b if "(A)" in last else reply_a


async def conversation(question, turns, reply_a, reply_b):
    conv = [{"role": "student", "content": question}]
    beliefs = []
    speaker = "teacher"
    for _ in range(turns):
        msgs = [{"role": "system", "content": "You are working with a user to solve some problems."}]
        for i, t in enumerate(conv):
            msgs.append({"role": "assistant" if t["role"] == speaker else "user", "content": t["content"]})
        text = await fake_backend(msgs, reply_a, reply_b)
        conv.append({"role": speaker, "content": text, "info": {"usage": {"completion_tokens": len(text.split())}}})
        m = ANSWER.search(text)
        beliefs.append(m.group(1) if m else None)
        if len(beliefs) >= 2 and beliefs[-1] is not None and beliefs[-1] == beliefs[-2]:
            break
        speaker = "student" if speaker == "teacher" else "teacher"
    return conv


DEBATE = ("These are the solutions to the problem from other agents: {}\n\n Using the reasoning from other agents as "
          "additional advice, can you give an updated answer? Examine your solution and that other agents step by step.")


async def debate(question, agents, rounds, reply_a, reply_b):
    chats = [[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": question}]
             for _ in range(agents)]
    beliefs = []
    for r in range(rounds):
        if r > 0:
            last = [c[-1]["content"] for c in chats]
            for a, c in enumerate(chats):
                others = "".join(f"\n\n One agent solution: ```{t}```" for b, t in enumerate(last) if b != a)
                c.append({"role": "user", "content": DEBATE.format(others)})
        texts = await asyncio.gather(*(fake_backend(c, reply_a, reply_b) for c in chats))
        beliefs = []
        for c, text in zip(chats, texts):
            c.append({"role": "assistant", "content": text, "usage": {"completion_tokens": len(text.split())}})
            m = ANSWER.search(text)
            beliefs.append(m.group(1) if m else None)
    valid = [b for b in beliefs if b is not None]
    majority = max(valid, key=valid.count) if valid else None  # first maximum in agent order
    return chats, majority


async def main_debate(n, agents, rounds, reply_a, reply_b):
    base = peak_rss_bytes()
    question = "I'm trying to solve this problem: " + "x" * 300
    t0 = time.perf_counter()
    await asyncio.gather(*(debate(question, agents, rounds, reply_a, reply_b) for _ in range(n)))
    elapsed = time.perf_counter() - t0
    answers = n * agents * rounds
    return {
        "items": n,
        "answers": answers,
        "seconds": elapsed,
        "answers_per_s": answers / elapsed,
        "bytes_per_item": (peak_rss_bytes() - base) / n,
        "python": sys.version.split()[0],
    }


async def main(n, turns, reply_a, reply_b):
    base = peak_rss_bytes()
    question = "I'm trying to solve this problem: " + "x" * 300
    t0, c0 = time.perf_counter(), time.process_time()
    convs = await asyncio.gather(*(conversation(question, turns, reply_a, reply_b) for _ in range(n)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    done_turns = sum(len(c) - 1 for c in convs)
    return {
        "conversations": n,
        "turns": done_turns,
        "seconds": elapsed,
        "turns_per_s": done_turns / elapsed,
        "cpu_seconds": cpu,
        "turns_per_cpu_s": done_turns / cpu,
        "bytes_per_conversation": (peak_rss_bytes() - base) / n,
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=10000)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--reply-a", required=True)
    ap.add_argument("--reply-b", required=True)
    ap.add_argument("--protocol", choices=["coral", "debate"], default="coral")
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.protocol == "debate":
        print(json.dumps(asyncio.run(main_debate(a.conversations, a.agents, a.rounds, a.reply_a, a.reply_b))))
    else:
        print(json.dumps(asyncio.run(main(a.conversations, a.turns, a.reply_a, a.reply_b))))
