#!/usr/bin/env bash
# The loop measured (issue #19): examples/learns.toml (base CoT and Coral on held-out problems,
# trees on training problems, pairs, DPO and the SFT control, both evaluated on the same held-out
# problems), then `parley compare` of each trained model with the base, into
# bench/results/learns.json (with this command and the eval command).
#   bench/learns/run.sh [KEY=VALUE ...]       (PARLEY_BUILD: the build folder)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh" # sets BUILD
need_torch_build
need_build parley parley_plugin_arithmetic parley_plugin_llama_cpp parley_plugin_filters parley_plugin_trainer
PARLEY="$BUILD/bin/parley"
OUT="$BUILD/learns-loop"
rm -rf "$OUT"
start=$(date +%s)
OMP_WAIT_POLICY=PASSIVE "$PARLEY" run "$REPO/examples/learns.toml" graph.output_dir="$OUT" "$@" 2>&1 | tee "$OUT.log"
seconds=$(( $(date +%s) - start ))
for m in dpo sft; do
  "$PARLEY" compare "$OUT/cot_base" "$OUT/cot_$m" --json >"$OUT/compare-cot-$m.json"
  "$PARLEY" compare "$OUT/coral_base" "$OUT/coral_$m" --json >"$OUT/compare-coral-$m.json"
  "$PARLEY" compare "$OUT/cot_base" "$OUT/cot_$m" "$OUT/coral_$m"
done
python3 "$REPO/bench/learns/results.py" loop "$OUT" "$REPO/bench/results/learns.json" --seconds "$seconds" \
  --command "bench/learns/run.sh${*:+ $*}"
