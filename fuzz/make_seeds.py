#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, generated at run time (never committed) from the samples in
<shared>/data/<domain>/, the repository's TOML graphs and recorded Coral records, plus tiny GGUF
files written here. GPQA text stays in the build folder and is never printed.

usage: make_seeds.py SHARED_DIR REPO_DIR OUT_DIR   (writes OUT_DIR/<target>/<n>; prints counts)
"""
import csv
import io
import json
import re
import struct
import sys
from pathlib import Path

MAX_SEED = 16384  # larger seeds are left out; run.sh cuts inputs at -max_len (8192 for the loaders)


def put(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if len(data) <= MAX_SEED:
        (d / name).write_bytes(data)


def csv_rows(path):
    """Header and each record (as CSV text, multi-line cells kept) of a CSV file."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    def text(rows_):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows_)
        return buf.getvalue()
    return rows[0], [text([rows[0], r]) for r in rows[1:]]


def last_boxed(s):
    i = s.rfind("\\boxed")
    if i < 0:
        return None
    j = s.find("{", i)
    if j < 0:
        return None
    depth = 0
    for k in range(j, len(s)):
        depth += {"{": 1, "}": -1}.get(s[k], 0)
        if depth == 0:
            return s[j + 1:k]
    return None


def math_seeds(shared, out):
    files = sorted((shared / "data/math/test").glob("*/*.json"))
    for n, f in enumerate(files):
        row = json.loads(f.read_text())
        put(out, "load_math", f"{n}.json", json.dumps(row))
        ans = last_boxed(row.get("solution", ""))
        if ans is not None:
            put(out, "math_equivalence", f"{n}", f"{ans}\n{ans}")
            put(out, "answer_extraction", f"math{n}", f"{ans}\n{row['solution'][-400:]}")


def mmlu_seeds(shared, out):
    lines = (shared / "data/mmlu_pro/test_sample_60.jsonl").read_text().splitlines()
    for n, line in enumerate(lines):
        put(out, "load_mmlu_pro", f"{n}", line + "\n")
        row = json.loads(line)
        put(out, "answer_extraction", f"mc{n}", f"{row.get('answer', 'A')}\nThe correct answer is ({row.get('answer', 'A')}).")
    put(out, "load_mmlu_pro", "three", "\n".join(lines[:3]) + "\n")


def gpqa_seeds(shared, out):
    _, records = csv_rows(shared / "data/gpqa/gpqa_diamond_sample_60.csv")
    for n, rec in enumerate(records):
        put(out, "load_gpqa", f"{n}", rec)


def explore_tom_seeds(shared, out):
    _, records = csv_rows(shared / "data/explore_tom/ExploreToM-data-sample_sample_60.csv")
    for n, rec in enumerate(records):
        put(out, "load_explore_tom", f"{n}", rec)


def hitom_seeds(shared, out):
    data = json.loads((shared / "data/hitom/Hi-ToM_data_sample_60.json").read_text())["data"]
    for n, item in enumerate(data):
        put(out, "load_hitom", f"{n}", json.dumps({"data": [item]}, indent=1))
        if "choices" in item:
            put(out, "answer_extraction", f"hitom{n}", f"{item['choices']}\nShort Answer: {item.get('answer', '')}")


def graph_seeds(repo, out):
    n = 0
    for f in sorted(repo.rglob("*.toml")):
        if any(p.startswith("build") or p in ("node_modules", ".git") for p in f.relative_to(repo).parts):
            continue
        put(out, "graph_validate", f"{n}.toml", f.read_bytes())
        n += 1


def record_seeds(repo, out):
    n = 0
    for f in sorted((repo / "tests/golden").rglob("records_*.jsonl")):
        for line in f.read_text().splitlines()[:4]:
            put(out, "coral_records", f"{n}", line + "\n")
            n += 1


# --- GGUF (version 3): a tiny llama model and a LoRA adapter, metadata and tensor infos ---------
GGUF_U32, GGUF_F32, GGUF_STRING, GGUF_ARRAY = 4, 6, 8, 9


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, vtype, value):
    out = gguf_string(key) + struct.pack("<I", vtype)
    if vtype == GGUF_U32:
        return out + struct.pack("<I", value)
    if vtype == GGUF_F32:
        return out + struct.pack("<f", value)
    if vtype == GGUF_STRING:
        return out + gguf_string(value)
    if vtype == GGUF_ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        for it in items:
            out += gguf_string(it) if etype == GGUF_STRING else struct.pack("<I", it)
        return out
    raise ValueError(vtype)


def gguf_file(kvs, tensors, align=32):
    """tensors: (name, ne list, data bytes) all F32."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    head += b"".join(gguf_kv(*kv) for kv in kvs)
    blobs, offset = [], 0
    for name, ne, data in tensors:
        head += gguf_string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        head += struct.pack("<IQ", 0, offset)
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % align)
    return head + b"".join(blobs)


def f32(n):
    return struct.pack(f"<{n}f", *[0.01 * i for i in range(n)])


def gguf_seeds(out):
    e, ff, v = 8, 16, 4
    llama = [("general.architecture", GGUF_STRING, "llama"), ("general.name", GGUF_STRING, "tiny"),
             ("llama.block_count", GGUF_U32, 1), ("llama.embedding_length", GGUF_U32, e),
             ("llama.feed_forward_length", GGUF_U32, ff), ("llama.attention.head_count", GGUF_U32, 2),
             ("llama.attention.head_count_kv", GGUF_U32, 1), ("llama.context_length", GGUF_U32, 64),
             ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, 1e-5), ("llama.rope.freq_base", GGUF_F32, 10000.0),
             ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, ["<s>", "</s>", "a", "b"]))]
    tensors = [("token_embd.weight", [e, v], f32(e * v)), ("blk.0.attn_q.weight", [e, e], f32(e * e)),
               ("output_norm.weight", [e], f32(e))]
    put(out, "gguf_metadata", "llama", gguf_file(llama, tensors))
    put(out, "gguf_metadata", "llama_tied_array_ff",
        gguf_file([kv if kv[0] != "llama.feed_forward_length" else (kv[0], GGUF_ARRAY, (GGUF_U32, [ff])) for kv in llama],
                  tensors[:1]))
    qwen = [(k.replace("llama", "qwen2"), t, "qwen2" if k == "general.architecture" else val) for k, t, val in llama]
    put(out, "gguf_metadata", "qwen2", gguf_file(qwen, tensors))
    r = 2
    lora = [("general.architecture", GGUF_STRING, "llama"), ("general.type", GGUF_STRING, "adapter"),
            ("adapter.type", GGUF_STRING, "lora"), ("adapter.lora.alpha", GGUF_F32, 4.0)]
    lt = [("blk.0.attn_q.weight.lora_a", [e, r], f32(e * r)), ("blk.0.attn_q.weight.lora_b", [r, e], f32(r * e))]
    put(out, "gguf_metadata", "lora", gguf_file(lora, lt))


def main():
    shared, repo, out = (Path(a) for a in sys.argv[1:4])
    out.mkdir(parents=True, exist_ok=True)
    for step in (lambda: math_seeds(shared, out), lambda: mmlu_seeds(shared, out), lambda: gpqa_seeds(shared, out),
                 lambda: explore_tom_seeds(shared, out), lambda: hitom_seeds(shared, out)):
        try:
            step()
        except FileNotFoundError as e:  # a sample missing: that target keeps its committed seeds
            print(f"make_seeds: skipped ({e.filename} missing)", file=sys.stderr)
    graph_seeds(repo, out)
    record_seeds(repo, out)
    gguf_seeds(out)
    for d in sorted(out.iterdir()):
        print(f"{d.name}: {sum(1 for _ in d.iterdir())} seeds")


if __name__ == "__main__":
    main()
