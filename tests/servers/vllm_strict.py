#!/usr/bin/env python3
"""vllm_strict.py: a loopback TEST DOUBLE of vLLM's OpenAI-compatible server that checks every
request field the way vLLM does and answers in vLLM's response shape.

No model: replies are deterministic text derived from the request (an extractor-style prompt gets
"The answer is (B)."-style text, anything else a short reasoning reply ending with an answer in
the format the prompt asks for), so Coral conversations, tree sampling and the CoT baseline run.

Validation follows vLLM's own code (Python 3 standard library only, no pydantic):
  * vllm/entrypoints/openai/protocol.py: ChatCompletionRequest and CompletionRequest field types,
    checked as pydantic v2 does in lax mode (an int field takes 3, 3.0, "3" and True, refuses 3.5,
    "x", [] and null where not Optional); `seed` within [-2^63, 2^63 - 1]; the model validators
    (stream_options, logprobs/top_logprobs, prompt). Failures answer like vLLM's
    RequestValidationError handler: HTTP 400, message = str(pydantic's error list).
  * vllm/sampling_params.py: SamplingParams._verify_args (n >= 1, temperature finite in [0, 2],
    0 < top_p <= 1, top_k >= -1, 0 <= min_p <= 1, max_tokens >= 1, penalties, empty stop
    strings) and _verify_greedy_sampling (n must be 1 when temperature is 0). Failures answer
    like OpenAIServing.create_error_response for a VLLMValidationError.
  * the context-length check of OpenAIServing._validate_input (prompt + max_tokens <= max_model_len).
Error body: {"error": {"message", "type", "param", "code"}} (vLLM >= 0.10.1); --error-shape legacy
gives the flat {"object": "error", "message", "type", "param", "code"} of older vLLM and SGLang.
Versions: the request models are those of vLLM 0.10/0.11; the SamplingParams messages, their
"(parameter=..., value=...)" suffix and the temperature <= 2 limit are those of vLLM's 2026 main
(older releases word a few messages differently and accept temperatures above 2); the
validation message is str(errors), as with FastAPI releases whose ValidationException has no
__str__ of its own (newer ones prefix "N validation errors:"). What matters to a client (which requests are refused, and that the body carries the
reason) is the same in all of them.

Tokens are whitespace-separated words (prompt: the words of every message plus 4 per message).
A prompt prefix seen before counts as cached in blocks of 16 tokens (prompt_tokens_details).

Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,
GET /stats (counts: requests, served, refused, refusals by message, peak concurrency, the arrival
time of every served request in seconds since start).
Rate limiting, as hosted APIs answer it (vLLM itself has none): --throttle-first N answers the
first N completion requests 429; --max-rps R answers 429 to a request arriving when R were
served in the last second. Both send Retry-After (--retry-after S, as seconds or, with
--retry-after-format date, as an HTTP date S seconds ahead).
Usage: vllm_strict.py [--port 0] [--port-file F] [--stats-file F] [--model NAME] ...
The chosen port is printed on stdout as "PORT <n>" (and written to --port-file); the stats are
written to --stats-file on SIGTERM/SIGINT.
"""

import argparse
import email.utils
import hashlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
SAMPLING_EPS = 1e-5
CACHE_BLOCK = 16


# ---- pydantic v2 lax-mode coercion ------------------------------------------------------------

class FieldError(Exception):
    """One pydantic error: {'type', 'loc', 'msg', 'input'[, 'ctx']}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def _err(kind, loc, msg, value, ctx=None):
    e = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        e["ctx"] = ctx
    return e


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def as_int(v, loc):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise FieldError([_err("finite_number", loc, "Input should be a finite number", v)])
        if v != int(v):
            raise FieldError([_err("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", v)])
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            raise FieldError([_err("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", v)])
    raise FieldError([_err("int_type", loc, "Input should be a valid integer", v)])


def as_float(v, loc):
    if isinstance(v, (bool, int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise FieldError([_err("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", v)])
    raise FieldError([_err("float_type", loc, "Input should be a valid number", v)])


def as_bool(v, loc):
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    if isinstance(v, (str, int, float)):
        raise FieldError([_err("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v)])
    raise FieldError([_err("bool_type", loc, "Input should be a valid boolean", v)])


def as_str(v, loc):
    if isinstance(v, str):
        return v
    raise FieldError([_err("string_type", loc, "Input should be a valid string", v)])


def as_str_list(v, loc):
    if not isinstance(v, list):
        raise FieldError([_err("list_type", loc, "Input should be a valid list", v)])
    errors = []
    for i, s in enumerate(v):
        if not isinstance(s, str):
            errors.append(_err("string_type", loc + (i,), "Input should be a valid string", s))
    if errors:
        raise FieldError(errors)
    return v


def as_int_list(v, loc):
    if not isinstance(v, list):
        raise FieldError([_err("list_type", loc, "Input should be a valid list", v)])
    out, errors = [], []
    for i, x in enumerate(v):
        try:
            out.append(as_int(x, loc + (i,)))
        except FieldError as e:
            errors += e.errors
    if errors:
        raise FieldError(errors)
    return out


def as_dict(v, loc):
    if isinstance(v, dict):
        return v
    raise FieldError([_err("dict_type", loc, "Input should be a valid dictionary", v)])


def as_union(v, loc, options):
    """Union[...] in pydantic's smart mode: the first member that validates; else every member's errors."""
    errors = []
    for tag, fn in options:
        try:
            return fn(v, loc + (tag,))
        except FieldError as e:
            errors += e.errors
    raise FieldError(errors)


def as_stop(v, loc):  # Optional[Union[str, list[str]]]
    return as_union(v, loc, [("str", as_str), ("list[str]", as_str_list)])


def as_prompt(v, loc):  # Union[list[int], list[list[int]], str, list[str]]
    def list_list_int(x, l):
        if not isinstance(x, list):
            raise FieldError([_err("list_type", l, "Input should be a valid list", x)])
        return [as_int_list(y, l + (i,)) for i, y in enumerate(x)]
    return as_union(v, loc, [("list[int]", as_int_list), ("list[list[int]]", list_list_int), ("str", as_str), ("list[str]", as_str_list)])


def ge_le(lo=None, hi=None):
    def check(v, loc):
        if lo is not None and v < lo:
            raise FieldError([_err("greater_than_equal", loc, f"Input should be greater than or equal to {lo}", v, {"ge": lo})])
        if hi is not None and v > hi:
            raise FieldError([_err("less_than_equal", loc, f"Input should be less than or equal to {hi}", v, {"le": hi})])
        return v
    return check


# The fields a client is likely to send, in the order of their declaration in vLLM's
# ChatCompletionRequest / CompletionRequest (pydantic reports errors in that order), as
# (name, coercer, Optional[...], extra check). "messages" and "prompt" are checked in place.
# Other fields pass: vLLM's OpenAIBaseModel allows extra fields and only logs them.
SEED = ge_le(INT64_MIN, INT64_MAX)  # Field(None, ge=torch.iinfo(torch.long).min, le=...max)
CHAT_FIELDS = [
    ("messages", None, False, None), ("model", as_str, True, None), ("frequency_penalty", as_float, True, None),
    ("logit_bias", as_dict, True, None), ("logprobs", as_bool, True, None), ("top_logprobs", as_int, True, None),
    ("max_tokens", as_int, True, None), ("max_completion_tokens", as_int, True, None), ("n", as_int, True, None),
    ("presence_penalty", as_float, True, None), ("seed", as_int, True, SEED), ("stop", as_stop, True, None),
    ("stream", as_bool, True, None), ("stream_options", as_dict, True, None), ("temperature", as_float, True, None),
    ("top_p", as_float, True, None), ("include_reasoning", as_bool, False, None), ("parallel_tool_calls", as_bool, True, None),
    ("user", as_str, True, None), ("best_of", as_int, True, None), ("use_beam_search", as_bool, False, None),
    ("top_k", as_int, True, None), ("min_p", as_float, True, None), ("repetition_penalty", as_float, True, None),
    ("length_penalty", as_float, False, None), ("stop_token_ids", as_int_list, True, None),
    ("include_stop_str_in_output", as_bool, False, None), ("ignore_eos", as_bool, False, None), ("min_tokens", as_int, False, None),
    ("skip_special_tokens", as_bool, False, None), ("spaces_between_special_tokens", as_bool, False, None),
    ("truncate_prompt_tokens", as_int, True, ge_le(1, None)), ("prompt_logprobs", as_int, True, None),
    ("allowed_token_ids", as_int_list, True, None), ("echo", as_bool, False, None), ("add_generation_prompt", as_bool, False, None),
    ("continue_final_message", as_bool, False, None), ("add_special_tokens", as_bool, False, None),
    ("chat_template", as_str, True, None), ("chat_template_kwargs", as_dict, True, None), ("priority", as_int, False, None),
    ("request_id", as_str, False, None), ("cache_salt", as_str, True, None),
]
COMPLETION_FIELDS = [
    ("model", as_str, True, None), ("prompt", None, True, None), ("best_of", as_int, True, None), ("echo", as_bool, True, None),
    ("frequency_penalty", as_float, True, None), ("logit_bias", as_dict, True, None), ("logprobs", as_int, True, None),
    ("max_tokens", as_int, True, None), ("n", as_int, False, None), ("presence_penalty", as_float, True, None),
    ("seed", as_int, True, SEED), ("stop", as_stop, True, None), ("stream", as_bool, True, None),
    ("stream_options", as_dict, True, None), ("suffix", as_str, True, None), ("temperature", as_float, True, None),
    ("top_p", as_float, True, None), ("user", as_str, True, None), ("use_beam_search", as_bool, False, None),
    ("top_k", as_int, True, None), ("min_p", as_float, True, None), ("repetition_penalty", as_float, True, None),
    ("length_penalty", as_float, False, None), ("stop_token_ids", as_int_list, True, None),
    ("include_stop_str_in_output", as_bool, False, None), ("ignore_eos", as_bool, False, None), ("min_tokens", as_int, False, None),
    ("skip_special_tokens", as_bool, False, None), ("spaces_between_special_tokens", as_bool, False, None),
    ("truncate_prompt_tokens", as_int, True, ge_le(1, None)), ("allowed_token_ids", as_int_list, True, None),
    ("prompt_logprobs", as_int, True, None), ("add_special_tokens", as_bool, False, None), ("priority", as_int, False, None),
    ("request_id", as_str, False, None), ("cache_salt", as_str, True, None),
]
CHAT_DEFAULTS = {"n": 1, "stop": [], "stream": False, "max_tokens": None, "logprobs": False, "top_logprobs": 0}
COMPLETION_DEFAULTS = {"n": 1, "stop": [], "stream": False, "max_tokens": 16, "echo": False}


def validate_message(m, loc):
    """ChatCompletionMessageParam, for the text-only shapes: role (str) and content (str, a list
    of {type: text, text} parts, or null)."""
    if not isinstance(m, dict):
        raise FieldError([_err("dict_type", loc, "Input should be a valid dictionary", m)])
    if "role" not in m:
        raise FieldError([_err("missing", loc + ("role",), "Field required", m)])
    as_str(m["role"], loc + ("role",))
    c = m.get("content")
    if c is None or isinstance(c, str):
        return
    if isinstance(c, list):
        for i, part in enumerate(c):
            if not isinstance(part, dict) or "type" not in part:
                raise FieldError([_err("union_tag_invalid", loc + ("content", i), "Input should be a valid content part", part)])
        return
    as_union(c, loc + ("content",), [("str", as_str), ("list", lambda v, l: as_str_list(v, l))])


def model_validators_chat(data):
    """ChatCompletionRequest's mode="before" model validators (the ones a client can trip)."""
    if data.get("stream_options") and not data.get("stream"):
        return "Stream options can only be defined when `stream=True`."
    pl = data.get("prompt_logprobs")
    if isinstance(pl, (int, float)):
        if data.get("stream") and pl > 0:
            return "`prompt_logprobs` are not available when `stream=True`."
        if pl < 0:
            return "`prompt_logprobs` must be a positive value."
    tl = data.get("top_logprobs")
    if isinstance(tl, (int, float)):
        if tl < 0:
            return "`top_logprobs` must be a positive value."
        if tl > 0 and not data.get("logprobs"):
            return "when using `top_logprobs`, `logprobs` must be set to true."
    if data.get("continue_final_message") and data.get("add_generation_prompt"):
        return "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
    return None


def model_validators_completion(data):
    if data.get("stream_options") and not data.get("stream"):
        return "Stream options can only be defined when `stream=True`."
    lp = data.get("logprobs")
    if isinstance(lp, (int, float)) and not isinstance(lp, bool) and lp < 0:
        return "`logprobs` must be a positive value."
    if data.get("prompt") is None and data.get("prompt_embeds") is None:
        return "At least one of `prompt` or `prompt_embeds` must be set."
    return None


def messages_errors(body):
    if "messages" not in body:
        return [_err("missing", ("body", "messages"), "Field required", body)]
    if not isinstance(body["messages"], list):
        return [_err("list_type", ("body", "messages"), "Input should be a valid list", body["messages"])]
    errors = []
    for i, m in enumerate(body["messages"]):
        try:
            validate_message(m, ("body", "messages", i))
        except FieldError as e:
            errors += e.errors
    return errors


def parse_request(body, chat):
    """The request as pydantic would build it, or FieldError with every field's errors."""
    if not isinstance(body, dict):
        raise FieldError([_err("model_attributes_type", ("body",), "Input should be a valid dictionary or object to extract fields from", body)])
    check = model_validators_chat if chat else model_validators_completion
    try:
        why = check(body)
    except TypeError:  # a validator compared a non-number, as vLLM's would raise
        why = None
    if why:
        raise FieldError([_err("value_error", ("body",), "Value error, " + why, body, {"error": ValueError(why)})])
    fields = CHAT_FIELDS if chat else COMPLETION_FIELDS
    req = dict(CHAT_DEFAULTS if chat else COMPLETION_DEFAULTS)
    errors = []
    for name, fn, optional, extra in fields:
        loc = ("body", name)
        if name == "messages":
            errors += messages_errors(body)
            req["messages"] = body.get("messages")
            continue
        if name not in body:
            continue
        v = body[name]
        if v is None:
            if not optional:
                kind = {as_int: ("int", "integer"), as_float: ("float", "number"), as_bool: ("bool", "boolean")}.get(fn, ("string", "string"))
                errors.append(_err(kind[0] + "_type", loc, "Input should be a valid " + kind[1], v))
            req[name] = None
            continue
        try:
            v = (as_prompt if name == "prompt" else fn)(v, loc)
            req[name] = extra(v, loc) if extra else v
        except FieldError as e:
            errors += e.errors
    if errors:
        raise FieldError(errors)
    req["_body_fields"] = list(body.keys())  # extra fields included (vLLM only logs those)
    return req


# ---- SamplingParams._verify_args --------------------------------------------------------------

class SamplingError(Exception):
    """A VLLMValidationError: str() adds (parameter=..., value=...) as vLLM's does."""

    def __init__(self, message, parameter=None, value=None):
        super().__init__(message)
        self.message, self.parameter, self.value = message, parameter, value

    def __str__(self):
        extras = []
        if self.parameter is not None:
            extras.append(f"parameter={self.parameter}")
        if self.value is not None:
            extras.append(f"value={self.value}")
        return f"{self.message} ({', '.join(extras)})" if extras else self.message


def sampling_params(req, max_tokens):
    """The request's SamplingParams, checked as vLLM's SamplingParams.__post_init__ does."""
    def pick(name, default):
        v = req.get(name)
        return default if v is None else v

    sp = {
        "n": pick("n", 1),
        "presence_penalty": pick("presence_penalty", 0.0),
        "frequency_penalty": pick("frequency_penalty", 0.0),
        "repetition_penalty": pick("repetition_penalty", 1.0),
        "temperature": pick("temperature", 1.0),
        "top_p": pick("top_p", 1.0),
        "top_k": pick("top_k", 0),
        "min_p": pick("min_p", 0.0),
        "seed": req.get("seed"),
        "stop": pick("stop", []),
        "max_tokens": max_tokens,
        "min_tokens": pick("min_tokens", 0),
    }
    if isinstance(sp["stop"], str):
        sp["stop"] = [sp["stop"]]
    n = sp["n"]
    if n < 1:
        raise SamplingError(f"n must be at least 1, got {n}.")
    if not -2.0 <= sp["presence_penalty"] <= 2.0:
        raise SamplingError(f"presence_penalty must be in [-2, 2], got {sp['presence_penalty']}.")
    if not -2.0 <= sp["frequency_penalty"] <= 2.0:
        raise SamplingError(f"frequency_penalty must be in [-2, 2], got {sp['frequency_penalty']}.")
    if not math.isfinite(sp["repetition_penalty"]):
        raise SamplingError(f"repetition_penalty must be a finite number, got {sp['repetition_penalty']}.")
    if sp["repetition_penalty"] <= 0.0:
        raise SamplingError(f"repetition_penalty must be greater than zero, got {sp['repetition_penalty']}.")
    t = sp["temperature"]
    if not math.isfinite(t):
        raise SamplingError(f"temperature must be a finite number, got {t}.", "temperature", t)
    if t < 0.0:
        raise SamplingError(f"temperature must be non-negative, got {t}.", "temperature", t)
    if t > 2.0:
        raise SamplingError(f"temperature must be in [0, 2], got {t}.", "temperature", t)
    if not 0.0 < sp["top_p"] <= 1.0:
        raise SamplingError(f"top_p must be in (0, 1], got {sp['top_p']}.", "top_p", sp["top_p"])
    if sp["top_k"] < -1:
        raise SamplingError(f"top_k must be 0 (disable), or at least 1, got {sp['top_k']}.")
    if not 0.0 <= sp["min_p"] <= 1.0:
        raise SamplingError(f"min_p must be in [0, 1], got {sp['min_p']}.")
    if max_tokens is not None and max_tokens < 1:
        raise SamplingError(f"max_tokens must be at least 1, got {max_tokens}.", "max_tokens", max_tokens)
    if sp["min_tokens"] < 0:
        raise SamplingError(f"min_tokens must be greater than or equal to 0, got {sp['min_tokens']}.")
    if max_tokens is not None and sp["min_tokens"] > max_tokens:
        raise SamplingError(f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {sp['min_tokens']}.")
    if any(not s for s in sp["stop"]):
        raise SamplingError("stop cannot contain an empty string.")
    if t < SAMPLING_EPS and n > 1:  # _verify_greedy_sampling
        raise SamplingError(f"n must be 1 when using greedy sampling, got {n}.")
    return sp


# ---- replies ----------------------------------------------------------------------------------

EXTRACT_RE = re.compile(r"\*\*This is the response you need to extract (?:an )?answers? from:\*\*\n\n(.*)\n\n\*\*Extract", re.S)
WORDS = ["kitchen", "garden", "basket", "box", "drawer", "cupboard", "bathroom", "attic"]


def words(text):
    return len(text.split())


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return int.from_bytes(h.digest()[:8], "big")


def message_text(m):
    c = m.get("content")
    if isinstance(c, list):
        return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return c or ""


def extractor_reply(prompt):
    """What an instruction-tuned extractor would answer: the response's own final answer, in the
    format the extractor prompt asks for, or "not sure yet"."""
    m = EXTRACT_RE.search(prompt)
    response = m.group(1) if m else ""
    letters = re.findall(r"\(([A-Z])\)", response)
    boxed = re.findall(r"\\boxed\{([^{}]*)\}", response)
    short = re.findall(r"Short Answer: ([^\n]*)", response)
    if "$\\boxed{}$ format" in prompt:
        return f"The answer is $\\boxed{{{boxed[-1]}}}$." if boxed else "not sure yet"
    if "([A-Z]) format" in prompt:
        return f"The answer is ({letters[-1]})." if letters else "not sure yet"
    if short:
        return short[-1].strip()
    return "not sure yet"


def agent_reply(text, question, turns, choice):
    """A short reasoning reply ending with an answer in the format the prompt asks for. The answer
    depends on the question, on the choice index (so tree-sampling candidates differ) and on
    whether this is the first answer (turns == 1): a Coral teacher's first answer differs from what
    both partners say afterwards, so conversations agree at turn 3."""
    k = digest(question) + choice + (turns == 1)
    if "\\boxed{" in text:
        return f"Let me work through this step by step. Combining the terms gives the result, so the final answer is $\\boxed{{{k % 10}}}$."
    if "Short Answer:" in text:
        return f"Following each move in the story, the object was last seen there. Short Answer: {WORDS[k % len(WORDS)]}"
    letter = "ABCD"[k % 4]
    return f"Let me think about each option in turn. Option ({letter}) fits every condition. The correct answer is ({letter})."


def generate(prompt_text, question, turns, choice, max_tokens, stop):
    """(text, finish_reason, stop_reason, completion_tokens) for one choice."""
    if EXTRACT_RE.search(prompt_text):
        text = extractor_reply(prompt_text)
    else:
        text = agent_reply(prompt_text, question, turns, choice)
    hits = [(text.find(s), s) for s in stop if s in text]
    if hits:  # the earliest stop string ends the text, not included (vLLM's default)
        i, s = min(hits)
        return text[:i], "stop", s, words(text[:i])
    toks = text.split(" ")
    if max_tokens is not None and len(toks) > max_tokens:
        return " ".join(toks[:max_tokens]), "length", None, max_tokens
    return text, "stop", None, len(toks)


# ---- admission: vLLM's checks, in its order ----------------------------------------------------

class Refusal(Exception):
    """An error answer: HTTP status, message, type and param of vLLM's ErrorInfo."""

    def __init__(self, status, message, err_type, param=None):
        super().__init__(message)
        self.status, self.message, self.err_type, self.param = status, message, err_type, param


def validation_refusal(errors):
    """vLLM's RequestValidationError handler: message = str(exc) [+ " " + str(exc.errors())]; with
    FastAPI's ValidationException both are str(errors), so the message is str(errors)."""
    return Refusal(400, str(errors), "Bad Request")


def parse_body(content_type, raw, chat):
    """The JSON body validated as FastAPI + pydantic would, or a Refusal."""
    media = (content_type or "").lower().split(";", 1)[0].strip()
    if media != "application/json":  # vLLM's validate_json_request
        raise validation_refusal(["Unsupported Media Type: Only 'application/json' is allowed"])
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise validation_refusal([_err("json_invalid", ("body", 0), "JSON decode error", {}, {"error": str(e).split(":")[0]})])
    try:
        return parse_request(body, chat)
    except FieldError as e:
        raise validation_refusal(e.errors)


def read_prompt(req, chat):
    """(parts for the prefix cache and token count, the whole text, the question, the number of
    user/assistant turns): the question is the first user/assistant message (Coral's task
    message), or the raw prompt."""
    if chat:
        msgs = req["messages"]
        text = "\n".join(message_text(m) for m in msgs)
        turns = [message_text(m) for m in msgs if m.get("role") in ("user", "assistant")]
        return [f"{m['role']}\x1e{message_text(m)}" for m in msgs], text, turns[0] if turns else text, len(turns)
    p = req.get("prompt")
    if p is None:
        raise Refusal(400, "vllm_strict.py does not take prompt_embeds", "BadRequestError", "prompt_embeds")
    text = p if isinstance(p, str) else " ".join(map(str, p))
    return [text], text, text, 1


def check_context(req, chat, prompt_tokens, max_model_len):
    """The max_tokens vLLM would use, or its context-length refusal (OpenAIServing._validate_input)."""
    asked = req.get("max_tokens")
    if chat and req.get("max_completion_tokens") is not None:
        asked = req["max_completion_tokens"]
    if prompt_tokens >= max_model_len:
        raise Refusal(400, f"This model's maximum context length is {max_model_len} tokens. However, your request has "
                      f"{prompt_tokens} input tokens. Please reduce the length of the input messages.", "BadRequestError")
    if asked is not None and asked > 0 and prompt_tokens + asked > max_model_len:
        raise Refusal(400, f"'max_tokens' or 'max_completion_tokens' is too large: {asked}. This model's maximum context length is "
                      f"{max_model_len} tokens and your request has {prompt_tokens} input tokens ({asked} > "
                      f"{max_model_len} - {prompt_tokens}).", "BadRequestError", "max_tokens")
    return max_model_len - prompt_tokens if asked is None else asked


def thinks(req):
    """Whether a reasoning model thinks for this request: Qwen3's template (and vLLM's qwen3
    reasoning parser) skip the think block when chat_template_kwargs.enable_thinking is false."""
    kw = req.get("chat_template_kwargs") or {}
    return kw.get("enable_thinking", True) is not False


def choice_object(chat, index, text, finish, stop_reason, reasoning):
    """One choice as vLLM's ChatCompletionResponseChoice / CompletionResponseChoice dumps it."""
    if not chat:
        return {"index": index, "text": text, "logprobs": None, "finish_reason": finish, "stop_reason": stop_reason,
                "prompt_logprobs": None}
    msg = {"role": "assistant", "content": text, "refusal": None, "annotations": None, "audio": None, "function_call": None,
           "tool_calls": [], "reasoning_content": "I should check each step before answering." if reasoning else None}
    return {"index": index, "message": msg, "logprobs": None, "finish_reason": finish, "stop_reason": stop_reason}


# ---- the server -------------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.served = self.refused = 0
        self.choices = 0
        self.by_status = {}
        self.refusals = {}  # message -> count (at most 100 distinct)
        self.in_flight = self.peak_in_flight = 0
        self.connections = 0
        self.n_gt_1 = 0
        self.start = time.monotonic()
        self.arrivals = []  # served requests: seconds since start, when they arrived
        self.fields = set()  # top-level body fields of validated requests (extra ones included)
        self.template_kwargs = []  # distinct chat_template_kwargs received (at most 10)

    def begin(self):
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def end(self, status, message=None, choices=0, n=1, arrived=None):
        with self.lock:
            if 200 <= status < 300 and arrived is not None:
                self.arrivals.append(round(arrived - self.start, 4))
            self.in_flight -= 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
            if 200 <= status < 300:
                self.served += 1
                self.choices += choices
                self.n_gt_1 += n > 1
            else:
                self.refused += 1
                if message in self.refusals or len(self.refusals) < 100:
                    self.refusals[message] = self.refusals.get(message, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "served": self.served, "refused": self.refused,
                    "choices": self.choices, "requests_with_n_gt_1": self.n_gt_1,
                    "by_status": dict(self.by_status),
                    "refusals": [{"message": m, "count": c} for m, c in self.refusals.items()],
                    "in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight,
                    "connections": self.connections, "arrivals": sorted(self.arrivals),
                    "fields": sorted(self.fields), "chat_template_kwargs": list(self.template_kwargs)}

    def saw(self, req):
        with self.lock:
            self.fields.update(req.get("_body_fields", []))
            kw = req.get("chat_template_kwargs")
            if kw is not None and kw not in self.template_kwargs and len(self.template_kwargs) < 10:
                self.template_kwargs.append(kw)


class PrefixCache:
    """Prompt prefixes seen before, at message granularity: cached_tokens as vLLM's prefix cache
    would report them (whole blocks only)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = set()

    def lookup_and_add(self, parts):
        cached, total, keys = 0, 0, []
        h = hashlib.sha256()
        for p in parts:
            h.update(p.encode("utf-8", "surrogatepass"))
            total += words(p) + 4
            keys.append((h.copy().digest(), total))
        with self.lock:
            for k, t in keys:
                if k in self.seen:
                    cached = t
            self.seen.update(k for k, _ in keys)
        return min(cached, total - 1) // CACHE_BLOCK * CACHE_BLOCK if cached else 0


class Throttle:
    """The rate limiting of a hosted API: which requests get 429, and the Retry-After they carry."""

    def __init__(self, opts):
        self.lock = threading.Lock()
        self.opts = opts
        self.left = opts.throttle_first
        self.window = []  # monotonic arrival times of admitted requests, last second

    def refuse(self):
        """None to serve the request, else the Retry-After header value."""
        o = self.opts
        with self.lock:
            now = time.monotonic()
            if self.left > 0:
                self.left -= 1
                return self.header(o.retry_after)
            if o.max_rps > 0:
                self.window = [t for t in self.window if now - t < 1.0]
                if len(self.window) >= o.max_rps:
                    return self.header(max(o.retry_after, 1.0 - (now - self.window[0])))
                self.window.append(now)
        return None

    def header(self, seconds):
        if self.opts.retry_after_format == "date":
            return email.utils.formatdate(time.time() + seconds, usegmt=True)
        return str(max(1, math.ceil(seconds)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vllm-strict"

    def log_message(self, fmt, *args):  # quiet: request bodies may hold benchmark text
        pass

    def setup(self):
        super().setup()
        with self.server.stats.lock:
            self.server.stats.connections += 1

    # -- plumbing
    def reply(self, status, obj=None, text=None, headers=()):
        body = (json.dumps(obj) if obj is not None else (text or "")).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json" if obj is not None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, r):
        e = {"message": r.message, "type": r.err_type, "param": r.param, "code": r.status}
        self.reply(r.status, {"object": "error", **e} if self.server.opts.error_shape == "legacy" else {"error": e})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        o = self.server.opts
        if path == "/health":
            self.reply(200, text="")
        elif path == "/v1/models":
            now = int(time.time())
            self.reply(200, {"object": "list", "data": [{
                "id": o.model, "object": "model", "created": now, "owned_by": "vllm", "root": o.model, "parent": None,
                "max_model_len": o.max_model_len, "permission": [{
                    "id": "modelperm-" + uuid.uuid4().hex, "object": "model_permission", "created": now,
                    "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
                    "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
                    "organization": "*", "group": None, "is_blocking": False}]}]})
        elif path == "/stats":
            self.reply(200, self.server.stats.snapshot())
        else:
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if path not in ("/v1/chat/completions", "/v1/completions"):
            self.reply(404, {"detail": "Not Found"})
            return
        stats = self.server.stats
        arrived = time.monotonic()
        stats.begin()
        retry_after = self.server.throttle.refuse()
        if retry_after is not None:
            msg = "Rate limit reached for requests. Please try again later."
            self.reply(429, {"error": {"message": msg, "type": "rate_limit_exceeded", "param": None, "code": 429}},
                       headers=[("Retry-After", retry_after)])
            stats.end(429, msg)
            return
        try:
            resp, n = self.complete(raw, chat=path == "/v1/chat/completions")
            self.reply(200, resp)
            stats.end(200, None, len(resp["choices"]), n, arrived)
        except Refusal as r:
            self.error(r)
            stats.end(r.status, r.message)
        except Exception as e:  # a bug here: answer 500 and count it
            self.error(Refusal(500, f"vllm_strict.py: {type(e).__name__}: {e}", "InternalServerError"))
            stats.end(500, "internal error")

    def complete(self, raw, chat):
        """(response, n): vLLM's checks in vLLM's order, then the reply."""
        o = self.server.opts
        req = parse_body(self.headers.get("Content-Type"), raw, chat)
        self.server.stats.saw(req)
        model = req.get("model") or o.model
        if model != o.model:
            raise Refusal(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
        if req.get("stream"):
            raise Refusal(400, "vllm_strict.py does not stream; send stream=false", "BadRequestError", "stream")
        parts, prompt_text, question, turns = read_prompt(req, chat)
        prompt_tokens = sum(words(p) + 4 for p in parts)
        max_tokens = check_context(req, chat, prompt_tokens, o.max_model_len)
        try:
            sp = sampling_params(req, max_tokens)
        except SamplingError as e:
            raise Refusal(400, str(e), "BadRequestError", e.parameter)
        cached = self.server.cache.lookup_and_add(parts)
        if o.delay_ms > 0:
            time.sleep(o.delay_ms / 1000.0)
        choices, completion_tokens = [], 0
        for i in range(sp["n"]):
            text, finish, stop_reason, ntok = generate(prompt_text, question, turns, i, max_tokens, sp["stop"])
            completion_tokens += ntok
            choices.append(choice_object(chat, i, text, finish, stop_reason, o.reasoning and thinks(req)))
        usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
                 "completion_tokens": completion_tokens, "prompt_tokens_details": {"cached_tokens": cached}}
        resp = {"id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex, "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": o.model, "choices": choices, "service_tier": None,
                "system_fingerprint": None, "usage": usage}
        if chat:
            resp["prompt_logprobs"] = None
        resp["kv_transfer_params"] = None
        return resp, sp["n"]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--stats-file", help="write the final /stats JSON here on SIGTERM/SIGINT")
    ap.add_argument("--model", default="vllm-strict/test-model")
    ap.add_argument("--max-model-len", type=int, default=32768)
    ap.add_argument("--error-shape", choices=["vllm", "legacy"], default="vllm")
    ap.add_argument("--reasoning", action="store_true", help="fill message.reasoning_content (unless chat_template_kwargs.enable_thinking is false)")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="sleep per request (holds the connection)")
    ap.add_argument("--throttle-first", type=int, default=0, help="answer the first N completion requests 429")
    ap.add_argument("--max-rps", type=float, default=0, help="answer 429 beyond this many requests in any second")
    ap.add_argument("--retry-after", type=float, default=1.0, help="seconds the 429's Retry-After asks for")
    ap.add_argument("--retry-after-format", choices=["seconds", "date"], default="seconds")
    opts = ap.parse_args()

    srv = Server((opts.host, opts.port), Handler)
    srv.opts, srv.stats, srv.cache, srv.throttle = opts, Stats(), PrefixCache(), Throttle(opts)
    port = srv.server_address[1]
    if opts.port_file:  # written whole, then renamed: a reader never sees half of it
        with open(opts.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(opts.port_file + ".tmp", opts.port_file)
    print(f"PORT {port}", flush=True)

    def stop(signum, frame):
        if opts.stats_file:
            with open(opts.stats_file, "w") as f:
                json.dump(srv.stats.snapshot(), f, indent=1)
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
