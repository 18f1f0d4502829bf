#!/usr/bin/env bash
# Multi-turn inference benchmark: builds what it needs, runs both suites, writes
#   bench/results/multiturn-llama_cpp.json   (embedded engine vs llama-batched-bench's ceiling)
#   bench/results/multiturn-openai.json      (embedded / openai plugin / Coral-style client, conversations/s)
# See bench/README.md, "Multi-turn inference".
#
# Environment knobs (defaults in brackets):
#   PARALLEL [16]            concurrent conversations; a list such as 16,8 runs each
#   MODEL [smollm2-135m]     a shape make_random_gguf knows (make_random_gguf --list)
#   WEIGHTS [q8_0]           q8_0 | f16
#   PROMPT [256] TURN [64] TURNS [6] CONVERSATIONS_PER_SLOT [1]
#   SUITES ["llama_cpp openai"]
#   LLAMA_CPP_CONFIGS ["default;kv_unified=true"]   llama_cpp plugin configurations, ';'-separated
#                      lists of KEY=VALUE overrides ("default" = the plugin's own defaults)
#   EMBEDDED_CONFIGS ["default"]  the same for the openai suite's embedded runs
#                      (extractor_affinity=false: extractor calls carry no conversation key, as in Coral)
#   TIME_LIMIT [300]   seconds per backend run; then no new turn starts (0 = none)
#   PARLEY_BUILD [<repo>/build]   the Parley build whose plugins are used (only the two plugin
#                                 targets are rebuilt, so concurrent work on core/ cannot break this)
#   PARLEY_DEPS [~/.cache/parley] where llama.cpp was built by scripts/quickstart.sh
#   BENCH_WORK [<repo>/bench/work/multiturn]  build folder and generated model (git-ignored)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/multiturn
REPO=$ROOT; source "$ROOT/bench/tools/need.sh" # sets BUILD
need_llama                                     # sets LLAMA (scripts/setup.sh builds it when missing)
TOOLS=${PARLEY_LLAMA_TOOLS_DIR:-$LLAMA/tools/bin}
WORK=${BENCH_WORK:-$ROOT/bench/work/multiturn}
PARALLEL=${PARALLEL:-16}
MODEL=${MODEL:-smollm2-135m}
WEIGHTS=${WEIGHTS:-q8_0}
PROMPT=${PROMPT:-256}
TURN=${TURN:-64}
TURNS=${TURNS:-6}
CPS=${CONVERSATIONS_PER_SLOT:-1}
SUITES=${SUITES:-llama_cpp openai}
THREADS=${THREADS:-2}
LLAMA_CPP_CONFIGS=${LLAMA_CPP_CONFIGS:-default;kv_unified=true}
EMBEDDED_CONFIGS=${EMBEDDED_CONFIGS:-default}
TIME_LIMIT=${TIME_LIMIT:-300}

for t in llama-server llama-batched-bench; do
  [ -x "$TOOLS/$t" ] || { echo "run.sh: $TOOLS/$t is missing (build llama.cpp's tools: scripts/quickstart.sh)" >&2; exit 1; }
done

# The Python baseline needs aiohttp (Debian: python3-aiohttp).
PY=${PYTHON:-/usr/bin/python3}
[[ -n "${PYTHON:-}" ]] || need_python aiohttp python3-aiohttp

# 1. The two backend plugins (only their targets: other work in progress cannot break this).
need_build parley_plugin_llama_cpp parley_plugin_openai
PLUGINS=$BUILD/plugins

# 2. The benchmark programs (a standalone CMake project).
cmake -S "$HERE" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$LLAMA/prefix" >/dev/null
cmake --build "$WORK/build" -j2

# 3. The model: the real shape and tokenizer, random weights (speed does not depend on them).
GGUF=$WORK/$MODEL-$WEIGHTS-words.gguf
if [ ! -f "$GGUF" ]; then
  "$WORK/build/make_random_gguf" --model "$MODEL" --type "$WEIGHTS" --output words \
      --vocab-dir "$LLAMA/src/models" --out "$GGUF"
fi

# 4. The suites, back to back (every ratio is measured within one suite run).
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
PLUGIN_SRC=$(git -C "$ROOT" log -1 --format=%h -- plugins/llama_cpp plugins/openai 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- plugins/llama_cpp plugins/openai 2>/dev/null | wc -l)
COMMON=(--model "$GGUF" --plugins "$PLUGINS" --tools "$TOOLS" --parallel "$PARALLEL" --prompt "$PROMPT"
        --turn "$TURN" --turns "$TURNS" --conversations-per-slot "$CPS" --threads "$THREADS"
        --time-limit "$TIME_LIMIT" --meta "commit=$COMMIT" --meta "plugins_last_commit=$PLUGIN_SRC"
        --meta "plugins_uncommitted_files=$DIRTY" --meta "model_shape=$MODEL" --meta "weights=$WEIGHTS")
# The command that reproduces a results file: this script with the knobs it ran with.
REPRO="PARALLEL=$PARALLEL MODEL=$MODEL WEIGHTS=$WEIGHTS PROMPT=$PROMPT TURN=$TURN TURNS=$TURNS CONVERSATIONS_PER_SLOT=$CPS THREADS=$THREADS TIME_LIMIT=$TIME_LIMIT"
mkdir -p "$ROOT/bench/results"
for s in $SUITES; do
  case $s in
    llama_cpp) "$WORK/build/multiturn" llama_cpp "${COMMON[@]}" --engine-configs "$LLAMA_CPP_CONFIGS" \
                   --command "$REPRO LLAMA_CPP_CONFIGS='$LLAMA_CPP_CONFIGS' SUITES=llama_cpp bench/multiturn/run.sh" \
                   --out "$ROOT/bench/results/multiturn-llama_cpp.json" ;;
    openai)    "$WORK/build/multiturn" openai "${COMMON[@]}" --engine-configs "$EMBEDDED_CONFIGS" \
                   --python "$PY" --coral-client "$HERE/coral_client.py" \
                   --command "$REPRO EMBEDDED_CONFIGS='$EMBEDDED_CONFIGS' SUITES=openai bench/multiturn/run.sh" \
                   --out "$ROOT/bench/results/multiturn-openai.json" ;;
    *) echo "run.sh: unknown suite $s" >&2; exit 1 ;;
  esac
done
