#!/usr/bin/env bash
# Engine benchmark: does Parley's Coral engine keep the llama_cpp backend's batch full?
#
# 1. `parley run` a Coral evaluation (MMLU-Pro items, rule-based extraction, MAX_TURNS turns of
#    TURN tokens, PARALLEL conversations in flight) through the llama_cpp plugin on a random-weight
#    GGUF with a real model's shape and tokenizer (speed does not depend on weight values).
# 2. The backend benchmark's multi-turn figure at the same parallelism, engine configuration,
#    sampling, turn count and lengths (its prompt length = the Coral run's mean first prompt):
#    bench/multiturn's driver running the same plugin with no engine in between.
# Writes bench/results/engine-llama_cpp.json; the target is generated tok/s >= 0.9 x the backend's.
#
#   bench/engine/run.sh            knobs: PARALLEL [16] MAX_TURNS [6] TURN [64] MODEL [smollm2-135m]
#                                         WEIGHTS [q8_0] THREADS [2]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPO=$ROOT; source "$ROOT/bench/tools/need.sh" # sets BUILD
SHARED=${PARLEY_SHARED_DIR:-$ROOT/../shared}
PARALLEL=${PARALLEL:-16}
MAX_TURNS=${MAX_TURNS:-6}
TURN=${TURN:-64}
MODEL=${MODEL:-smollm2-135m}
WEIGHTS=${WEIGHTS:-q8_0}
THREADS=${THREADS:-2}
MT=$ROOT/bench/work/multiturn
GGUF=$MT/$MODEL-$WEIGHTS-words.gguf
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# The driver and the model come from bench/multiturn (built there on first use).
if [ ! -x "$MT/build/multiturn" ] || [ ! -f "$GGUF" ]; then
  MODEL=$MODEL WEIGHTS=$WEIGHTS SUITES="" "$ROOT/bench/multiturn/run.sh"
fi
need_build parley parley_plugin_llama_cpp parley_plugin_mmlu_pro

# One engine configuration for both runs: a slot per agent view (and one spare per conversation),
# each with room for a whole conversation.
SLOTS=$((3 * PARALLEL))
NCTX=$((SLOTS * 2048))
cat > "$WORK/coral.toml" <<TOML
[nodes.questions]
use = "mmlu_pro/domain"
data = "$SHARED/data/mmlu_pro/test_sample_60.jsonl"
limit = $PARALLEL

[nodes.model]
use = "llama_cpp/backend"
model = "$GGUF"
n_parallel = $SLOTS
n_ctx = $NCTX
n_batch = 2048
n_ubatch = 512
threads = $THREADS

[nodes.coral]
use = "core/coral_eval"
inputs = { domains = ["questions"], teacher = "model" }
extraction = "rule"
max_turns = $MAX_TURNS
max_tokens = $TURN
temperature = 0.2
top_p = 0.9
max_conversations = $PARALLEL
TOML
"$BUILD/bin/parley" run "$WORK/coral.toml" "graph.output_dir=$WORK/out" --log-level warn

python3 - "$WORK" "$MT/build/multiturn" "$GGUF" "$BUILD/plugins" "$PARALLEL" "$MAX_TURNS" "$TURN" "$THREADS" "$ROOT" "$SLOTS" "$NCTX" <<'PY'
import json, statistics, subprocess, sys, os
work, driver, gguf, plugins, parallel, turns, turn, threads, root, slots, nctx = sys.argv[1:12]
res = json.load(open(f"{work}/out/coral/results.json"))
recs = [json.loads(l) for l in open(f"{work}/out/coral/records_questions.jsonl")]
gen_tokens = sum(t["info"]["usage"]["completion_tokens"] for r in recs for t in r["conv_result"][1:] if t["info"].get("status_ok"))
first_prompt = statistics.mean(r["conv_result"][1]["info"]["usage"]["prompt_tokens"] for r in recs)
turns_done = sum(len(r["conv_result"]) - 1 for r in recs)
secs = res["total_evaluation_time_seconds"]
engine = {"generated_tokens": gen_tokens, "seconds": secs, "generated_tok_per_s": gen_tokens / secs,
          "conversations": len(recs), "turns": turns_done, "mean_first_prompt_tokens": first_prompt,
          "peak_conversations_in_flight": res["usage"]["peak_conversations_in_flight"]}
# The backend figure at the same parallelism, lengths and sampling (the driver's defaults: T=0.2, top_p=0.9).
cmd = [driver, "run", "--backend", "llama_cpp", "--model", gguf, "--plugins", plugins, "--parallel", parallel,
       "--conversations-per-slot", "1", "--threads", threads, "--prompt", str(round(first_prompt)),
       "--turn", turn, "--turns", turns, "--engine-configs", f"n_parallel={slots},n_ctx={nctx}",
       "--out", f"{work}/backend.json"]
subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
backend = json.load(open(f"{work}/backend.json"))
ratio = engine["generated_tok_per_s"] / backend["generated_tok_per_s"]
out = {
    "command": "bench/engine/run.sh" + "".join(f" {k}={os.environ[k]}" for k in ("PARALLEL", "MAX_TURNS", "TURN", "MODEL", "WEIGHTS", "THREADS") if k in os.environ),
    "model": os.path.basename(gguf), "parallel": int(parallel), "max_turns": int(turns), "turn_tokens": int(turn),
    "generated_tok_per_s": engine["generated_tok_per_s"],
    "backend_generated_tok_per_s": backend["generated_tok_per_s"],
    "generated_over_backend": ratio,
    "target": {"generated_over_backend_min": 0.9},
    "engine": engine,
    "backend": {k: backend[k] for k in ("generated_tokens", "wall_s", "generated_tok_per_s", "conversations", "turns_done", "backend_config", "driver_command") if k in backend},
    "machine": {"cpus": os.cpu_count()},
    "note": "engine = parley run (core/coral_eval, rule extraction, MMLU-Pro prompts) through the llama_cpp plugin; "
            "backend = bench/multiturn's driver on the same plugin, same engine configuration, prompt length = the engine run's mean first prompt",
}
os.makedirs(f"{root}/bench/results", exist_ok=True)
json.dump(out, open(f"{root}/bench/results/engine-llama_cpp.json", "w"), indent=2)
print(f"engine {engine['generated_tok_per_s']:.1f} gen tok/s vs backend {backend['generated_tok_per_s']:.1f}: {100*ratio:.1f}%")
PY
