#!/usr/bin/env python3
"""Reference renderer: a Hugging Face chat template evaluated as transformers evaluates it.

transformers (utils/chat_template_utils.py, _compile_jinja_template / render_jinja_template)
compiles the template in jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks
and the loopcontrols extension, a `tojson` filter that keeps non-ASCII text, and the globals
`raise_exception` and `strftime_now`; it renders with messages, tools=None, documents=None,
add_generation_prompt and the tokenizer's special tokens (bos_token, eos_token, ...).

Input (stdin, JSON): {"template": str, "bos_token": str, "eos_token": str, "now": epoch seconds,
                      "cases": [{"messages": [...], "add_generation_prompt": bool}, ...]}
Output (stdout, JSON): the rendered strings, one per case. `now` pins strftime_now's clock
(local time, as datetime.now()), so both renderers see the same date.
Needs only Debian's python3-jinja2.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def compile_template(source, now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(now).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def main():
    spec = json.load(sys.stdin)
    template = compile_template(spec["template"], spec.get("now", 0))
    out = [template.render(messages=case["messages"], tools=None, documents=None,
                           add_generation_prompt=case["add_generation_prompt"],
                           bos_token=spec.get("bos_token", ""), eos_token=spec.get("eos_token", ""))
           for case in spec["cases"]]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
