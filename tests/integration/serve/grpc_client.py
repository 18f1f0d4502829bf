"""A gRPC client with Matrix's message and field names (matrix/app_server/llm/openai.proto, the
stubs generated into STUBS_DIR), checking `parley serve --grpc-port` as Matrix's query_llm would
use a replica: the `application` and `multiplexed_model_id` metadata, unary calls, status codes.

usage: grpc_client.py STUBS_DIR HOST:PORT API_KEY check|unavailable|deadline
"""
import sys

import grpc

sys.path.insert(0, sys.argv[1])
import openai_pb2  # noqa: E402
import openai_pb2_grpc  # noqa: E402

TARGET, KEY, MODE = sys.argv[2], sys.argv[3], sys.argv[4]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def metadata(conv="conv-1", key=KEY):
    md = [("application", "parley"), ("multiplexed_model_id", conv)]
    if key:
        md.append(("authorization", f"Bearer {key}"))
    return tuple(md)


def expect_code(call, code):
    try:
        call()
    except grpc.RpcError as e:
        if e.code() != code:
            fail(f"expected {code}, got {e.code()}: {e.details()}")
        return e
    fail(f"expected {code}, the call succeeded")


def check(stub):
    msgs = [openai_pb2.CompletionMessage(role="system", content="You are a storyteller."),
            openai_pb2.CompletionMessage(role="user", content="Once upon a time")]
    req = openai_pb2.ChatCompletionRequest(model="stories260K", messages=msgs, temperature=0.5, seed=3,
                                           max_tokens=12, n=2)
    r = stub.CreateChatCompletion(request=req, metadata=metadata(), timeout=60)
    if r.object != "chat.completion" or not r.id.startswith("chatcmpl-") or r.model != "stories260K":
        fail(f"chat envelope: {r}")
    if len(r.choices) != 2 or r.choices[1].index != 1 or r.choices[0].message.role != "assistant":
        fail(f"chat choices: {r.choices}")
    if r.choices[0].finish_reason not in ("stop", "length"):
        fail(f"finish_reason: {r.choices[0]}")
    u = r.usage
    if u.prompt_tokens <= 0 or u.total_tokens != u.prompt_tokens + u.completion_tokens:
        fail(f"usage: {u}")

    c = stub.CreateCompletion(request=openai_pb2.CompletionRequest(prompt="Once upon a time", max_tokens=5, seed=1,
                                                                   temperature=0.7),
                              metadata=metadata("conv-2"), timeout=60)
    if c.object != "text_completion" or c.choices[0].finish_reason != "length" or c.usage.completion_tokens != 5:
        fail(f"completion: {c}")

    # Greedy is not expressible: temperature 0 is proto3's "unset", which Matrix's server turns into
    # the default. Two seeded calls agree, whatever the temperature.
    g = openai_pb2.CompletionRequest(prompt="Once upon a time", max_tokens=8, seed=11)
    a = stub.CreateCompletion(request=g, metadata=metadata(), timeout=60).choices[0].text
    b = stub.CreateCompletion(request=g, metadata=metadata(), timeout=60).choices[0].text
    if a != b:
        fail("the same seeded request gave two texts")

    expect_code(lambda: stub.CreateChatCompletion(request=openai_pb2.ChatCompletionRequest(), metadata=metadata(),
                                                  timeout=60), grpc.StatusCode.INVALID_ARGUMENT)
    expect_code(lambda: stub.CreateChatCompletion(request=req, metadata=metadata(key=""), timeout=60),
                grpc.StatusCode.UNAUTHENTICATED)
    print("grpc: chat, completion, n, usage, seeds, INVALID_ARGUMENT and UNAUTHENTICATED as expected")


def unavailable(stub):
    req = openai_pb2.CompletionRequest(prompt="Once upon a time", max_tokens=4)
    e = expect_code(lambda: stub.CreateCompletion(request=req, metadata=metadata(), timeout=10), grpc.StatusCode.UNAVAILABLE)
    if "shutting down" not in e.details():
        fail(f"UNAVAILABLE, but not from the drain: {e.details()}")
    print("grpc: UNAVAILABLE while draining")


def deadline(stub):
    """A call whose deadline passes before its answer (the server's backend is slower)."""
    req = openai_pb2.ChatCompletionRequest(messages=[openai_pb2.CompletionMessage(role="user", content="x")])
    expect_code(lambda: stub.CreateChatCompletion(request=req, metadata=metadata(), timeout=0.4),
                grpc.StatusCode.DEADLINE_EXCEEDED)
    print("grpc: DEADLINE_EXCEEDED for a call slower than its deadline")


with grpc.insecure_channel(TARGET) as channel:
    stub = openai_pb2_grpc.OpenaiServiceStub(channel)
    {"check": check, "unavailable": unavailable, "deadline": deadline}[MODE](stub)
