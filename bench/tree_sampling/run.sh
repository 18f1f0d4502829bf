#!/usr/bin/env bash
# Tree-sampling benchmark (Coral §4.1). Two figures, written to bench/results/tree-sampling.json:
#  1. Prefill cost per candidate with the embedded llama.cpp engine: the same conversations with
#     beam = 1 and beam = K (one request with n = K per turn, the candidates sharing the prompt's
#     KV). Prefilled tokens = prompt tokens - cached tokens, per request.
#  2. Candidate turns per second of the engine with the instant scripted test double, beam = K.
#   bench/tree_sampling/run.sh [K] [QUESTIONS]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh" # sets BUILD
need_build parley parley_plugin_mmlu_pro parley_plugin_llama_cpp parley_plugin_scripted
K="${1:-5}"; Q="${2:-8}"
SHARED="${PARLEY_SHARED_DIR:-$REPO/../shared}"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

llama_graph() { # $1 = beam
cat > "$WORK/llama$1.toml" <<TOML
[nodes.q]
use = "mmlu_pro/domain"
data = "$SHARED/data/mmlu_pro/test_sample_60.jsonl"
limit = $Q
[nodes.model]
use = "llama_cpp/backend"
model = "$SHARED/models/stories260K.gguf"
n_parallel = 32
[nodes.trees]
use = "core/coral_eval"
inputs = { domains = ["q"], teacher = "model" }
beam = $1
max_turns = 3
max_tokens = 32
temperature = 0.8
extraction = "rule"
TOML
"$BUILD/bin/parley" run "$WORK/llama$1.toml" "graph.output_dir=$WORK/llama$1" --log-level warn
}

scripted_graph() {
cat > "$WORK/scripted.toml" <<TOML
[nodes.q]
use = "mmlu_pro/domain"
data = "$SHARED/data/mmlu_pro/test_sample_60.jsonl"
[nodes.model]
use = "scripted/backend"
default_reply = "Let me check each option again carefully before answering. The correct answer is ({letter})."
[nodes.trees]
use = "core/coral_eval"
inputs = { domains = ["q"], teacher = "model" }
beam = $K
trials = 200
max_turns = 20
extraction = "rule"
max_conversations = 100000
TOML
for run in 1 2 3; do # three runs (writing ~280 MB of records makes one run's time noisy): the median counts
  rm -rf "$WORK/scripted"
  "$BUILD/bin/parley" run "$WORK/scripted.toml" "graph.output_dir=$WORK/scripted" --log-level warn
  cp "$WORK/scripted/trees/results.json" "$WORK/scripted-$run.json"
done
}

llama_graph 1
llama_graph "$K"
scripted_graph

python3 - "$WORK" "$K" "$REPO" "$*" <<'PY'
import json, os, sys
work, k, repo, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def prefill(beam):
    requests = candidates = tokens = 0
    for line in open(f"{work}/llama{beam}/trees/records_q.jsonl"):
        r = json.loads(line)
        for t in r["conv_result"][1:]:
            info = t["info"]
            if not info.get("status_ok"):
                continue
            requests += 1
            candidates += 1 + len(info.get("siblings", []))
            tokens += info["usage"]["prompt_tokens"] - info.get("parley", {}).get("cached_tokens", 0)
    return requests, candidates, tokens
r1, c1, t1 = prefill(1)
rk, ck, tk = prefill(k)
runs = sorted((json.load(open(f"{work}/scripted-{i}.json")) for i in (1, 2, 3)), key=lambda r: r["usage"]["turns_per_s"])
orch = runs[1]
out = {
    "command": "bench/tree_sampling/run.sh " + args if args else "bench/tree_sampling/run.sh",
    "k": k,
    "model": "stories260K.gguf (llama_cpp backend)",
    "prefilled_tokens_per_candidate": tk / ck,
    "prefilled_tokens_single_sample": t1 / c1,
    "prefill_per_candidate_vs_single": (tk / ck) / (t1 / c1),
    "requests": {"beam_1": r1, f"beam_{k}": rk},
    "candidates": {"beam_1": c1, f"beam_{k}": ck},
    "prefilled_tokens": {"beam_1": t1, f"beam_{k}": tk},
    "candidate_turns_per_s": orch["usage"]["turns_per_s"],
    "candidate_turns_per_s_runs": [r["usage"]["turns_per_s"] for r in runs],
    "candidate_turns": orch["usage"]["turns"],
    "orchestration_conversations_in_flight": orch["usage"]["peak_conversations_in_flight"],
    "note": "candidate turns/s: scripted test-double backend (instant), rule extraction, 20 turns, beam k, "
            "records (with siblings) written; the median of three runs",
}
os.makedirs(f"{repo}/bench/results", exist_ok=True)
json.dump(out, open(f"{repo}/bench/results/tree-sampling.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
