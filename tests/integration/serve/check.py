"""Assertions for serve_http.sh: reads a response from a file and checks its shape."""
import json
import sys


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    text = open(path).read()
    if kind == "chat":
        r = json.loads(text)
        if r.get("object") != "chat.completion" or not r["id"].startswith("chatcmpl-"):
            fail(f"not a chat completion: {text[:300]}")
        c = r["choices"][0]
        if c["message"]["role"] != "assistant" or not isinstance(c["message"]["content"], str):
            fail(f"bad message: {c}")
        if c["finish_reason"] not in ("stop", "length"):
            fail(f"bad finish_reason: {c}")
        u = r["usage"]
        if u["prompt_tokens"] <= 0 or u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"]:
            fail(f"bad usage: {u}")
        if len(sys.argv) > 3 and len(r["choices"]) != int(sys.argv[3]):
            fail(f"expected {sys.argv[3]} choices: {r['choices']}")
    elif kind == "completion":
        r = json.loads(text)
        if r.get("object") != "text_completion" or not isinstance(r["choices"][0]["text"], str):
            fail(f"not a text completion: {text[:300]}")
        if r["choices"][0]["finish_reason"] != "length" or r["usage"]["completion_tokens"] != 5:
            fail(f"max_tokens=5 not honoured: {r}")
    elif kind == "sse":
        events = [e for e in text.split("\n\n") if e]
        if any(not e.startswith("data: ") for e in events):
            fail(f"not SSE: {text[:300]}")
        if events[-1] != "data: [DONE]":
            fail(f"no [DONE] at the end: {events[-1]}")
        chunks = [json.loads(e[6:]) for e in events[:-1]]
        if any(c["object"] != "chat.completion.chunk" for c in chunks):
            fail("chunk objects")
        if chunks[0]["choices"][0]["delta"].get("role") != "assistant":
            fail("first chunk carries no role")
        if not any(c["choices"] and c["choices"][0]["finish_reason"] for c in chunks):
            fail("no finish_reason")
        if "usage" not in chunks[-1]:
            fail("include_usage: no usage chunk")
        if len(sys.argv) > 3:  # streamed token by token, the same text as the whole reply in FILE
            whole = json.load(open(sys.argv[3]))["choices"][0]["message"]["content"]
            pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
            if "".join(pieces) != whole:
                fail(f"streamed text differs from the whole reply: {''.join(pieces)!r} vs {whole!r}")
            if sum(1 for p in pieces if p) < 4:
                fail(f"the text came in {sum(1 for p in pieces if p)} pieces, not token by token")
    elif kind == "models":
        r = json.loads(text)
        if r["object"] != "list" or r["data"][0]["id"] != sys.argv[3]:
            fail(f"models: {text}")
    elif kind == "error":
        r = json.loads(text)
        if "error" not in r or r["error"]["code"] != int(sys.argv[3]):
            fail(f"expected an error {sys.argv[3]}: {text}")
    elif kind == "cached":
        r = json.loads(text)
        if r["usage"]["prompt_tokens_details"]["cached_tokens"] <= 0:
            fail(f"no prefix reuse without an affinity hint: {r['usage']}")
    elif kind == "metrics":
        need = sys.argv[3:]
        for n in need:
            if n not in text:
                fail(f"/metrics lacks {n}")
    else:
        fail(f"unknown check {kind}")


main()
