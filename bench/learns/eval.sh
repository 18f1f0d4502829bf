#!/usr/bin/env bash
# The shipped model alone: greedy CoT on the held-out problems (bench/learns/eval.toml, about a
# minute on 2 cores); writes its accuracy into bench/results/learns.json as cot_accuracy_heldout.
#   bench/learns/eval.sh [KEY=VALUE ...]      (run from anywhere; PARLEY_BUILD: the build folder)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh" # sets BUILD
need_build parley parley_plugin_arithmetic parley_plugin_llama_cpp
OUT="$BUILD/learns-eval"
rm -rf "$OUT"
"$BUILD/bin/parley" run "$REPO/bench/learns/eval.toml" graph.output_dir="$OUT" "$@"
python3 "$REPO/bench/learns/results.py" eval "$OUT/cot" "$REPO/bench/results/learns.json"
