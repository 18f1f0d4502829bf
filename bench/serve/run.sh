#!/usr/bin/env bash
# `parley serve` benchmarks; writes bench/results/serve.json (see bench/README.md, "Serving"):
#  1. the Coral multi-turn workload with the extractor (bench/serve/make_workload.py: real MMLU-Pro
#     rows, Coral's prompts), driven by the same Coral-style Python client
#     (bench/multiturn/coral_client.py: new HTTP session per call, no affinity hints) against
#     `parley serve` and against `llama-server` from the same llama.cpp, same model and slots:
#     conversations/s and their ratio;
#  2. request overhead with IN_FLIGHT requests in flight (bench/serve/overhead.py): against an
#     instant backend (the scripted test double) over HTTP and gRPC, and against a one-token
#     stories260K completion on `parley serve` and on `llama-server` over HTTP: requests/s and
#     the server's CPU seconds per 1,000 requests.
# Knobs: PARALLEL [16] (conversations in flight) SLOTS [3 x PARALLEL] (sequence slots, both servers: a Coral conversation holds three histories, two agents and the extractor)
#        CONVERSATIONS [32] TURNS [4] TURN [64] THREADS [2] MODEL [smollm2-135m]
#        REQUESTS [10000] IN_FLIGHT [1000] PARLEY_BUILD [<repo>/build]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/serve
REPO=$ROOT; source "$ROOT/bench/tools/need.sh" # sets BUILD
need_python aiohttp python3-aiohttp # the Coral-style client, HTTP overhead
need_python grpc python3-grpcio     # gRPC overhead (Matrix's proto, compiled below)
need_packages protobuf-compiler-grpc # protoc and grpc_python_plugin
need_build parley parley_plugin_llama_cpp parley_plugin_scripted
need_llama
PARLEY=$BUILD/bin/parley
SERVER=$LLAMA/tools/bin/llama-server
SHARED=${PARLEY_SHARED_DIR:-$ROOT/../shared}
WORK=${BENCH_WORK:-$ROOT/bench/work/serve}
PARALLEL=${PARALLEL:-16}; CONVERSATIONS=${CONVERSATIONS:-32}; TURNS=${TURNS:-4}; TURN=${TURN:-64}
SLOTS=${SLOTS:-$((3 * PARALLEL))}; THREADS=${THREADS:-2}; MODEL=${MODEL:-smollm2-135m}; REQUESTS=${REQUESTS:-10000}; IN_FLIGHT=${IN_FLIGHT:-1000}
PY=/usr/bin/python3 # with Debian's aiohttp and grpcio
mkdir -p "$WORK"
rm -f "$WORK/port" "$WORK/gport" # left by an interrupted run, they would be read as this run's ports
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_health() { for _ in $(seq 1 600); do curl -sf "$1/health" >/dev/null && return 0; sleep 0.2; done; echo "no $1/health" >&2; return 1; }
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }
# A live process's CPU seconds (user + system, from /proc): the server's work, whatever the load.
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }

# The model (real shape and tokenizer, random weights) and the workload.
if [ ! -x "$WORK/build/make_random_gguf" ]; then
  cmake -S "$ROOT/bench/multiturn" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$LLAMA/prefix" >/dev/null
  cmake --build "$WORK/build" --target make_random_gguf -j2 >/dev/null
fi
GGUF=$WORK/$MODEL-q8_0-words.gguf
[ -f "$GGUF" ] || "$WORK/build/make_random_gguf" --model "$MODEL" --type q8_0 --output words --vocab-dir "$LLAMA/src/models" --out "$GGUF"
"$PY" "$HERE/make_workload.py" "$SHARED/data/mmlu_pro/test_sample_60.jsonl" "$WORK/workload.json" \
  --conversations "$CONVERSATIONS" --parallel "$PARALLEL" --turns "$TURNS" --turn "$TURN"
CTX=$((SLOTS * 4096))

# 1. Conversations/s: parley serve, then llama-server, the same client and workload.
"$PARLEY" serve "$GGUF" --port 0 --port-file "$WORK/port" "n_parallel=$SLOTS" "n_ctx=$CTX" "threads=$THREADS" \
  > "$WORK/parley.log" 2>&1 & pids+=($!); P=$!
until [ -s "$WORK/port" ]; do sleep 0.2; done; URL=http://127.0.0.1:$(cat "$WORK/port"); rm -f "$WORK/port"
wait_health "$URL"
"$PY" "$ROOT/bench/multiturn/coral_client.py" --url "$URL" --workload "$WORK/workload.json" --out "$WORK/coral-parley.json" \
  --trace "$WORK/trace-parley.json"
cpu_s "$P" > "$WORK/cpu-parley"
stop "$P"
PORT=$(free_port)
"$SERVER" -m "$GGUF" --host 127.0.0.1 --port "$PORT" -np "$SLOTS" -c "$CTX" -t "$THREADS" --no-webui > "$WORK/llama-server.log" 2>&1 & pids+=($!); P=$!
wait_health "http://127.0.0.1:$PORT"
"$PY" "$ROOT/bench/multiturn/coral_client.py" --url "http://127.0.0.1:$PORT" --workload "$WORK/workload.json" --out "$WORK/coral-llama-server.json" \
  --trace "$WORK/trace-llama-server.json"
cpu_s "$P" > "$WORK/cpu-llama-server"
stop "$P"

# The hardware ceiling of this workload on this machine, as bench/multiturn computes it: every
# generated token decoded at llama-batched-bench's S_TG and the fewer of the two servers' prefilled
# tokens prefilled at its S_PP (PARALLEL sequences at the mean agent prompt depth).
DEPTH=$("$PY" -c 'import json,sys; t=[r["prompt"] for r in json.load(open(sys.argv[1])) if r["kind"]=="agent"]; print(round(sum(t)/len(t)))' "$WORK/trace-parley.json")
BB_CTX=$(( (PARALLEL * (DEPTH + TURN) + 256 + 255) / 256 * 256 ))
BB_CMD="$LLAMA/tools/bin/llama-batched-bench -m $GGUF -c $BB_CTX -b 2048 -ub 512 -t $THREADS -npp $DEPTH -ntg $TURN -npl $PARALLEL --output-format jsonl"
$BB_CMD 2>/dev/null | grep '^{' | tail -1 > "$WORK/batched-bench.json"
echo "$BB_CMD" > "$WORK/batched-bench.cmd"

# 2. Request overhead.
protoc -I "$ROOT/core/src/serve/proto" --python_out="$WORK" --grpc_out="$WORK" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" "$ROOT/core/src/serve/proto/openai.proto"
PLUGIN_PATH="$BUILD/plugins"
"$PARLEY" serve "$HERE/instant.toml" --node model --port 0 --port-file "$WORK/port" --grpc-port 0 --grpc-port-file "$WORK/gport" \
  --plugin-path "$PLUGIN_PATH" > "$WORK/instant.log" 2>&1 & pids+=($!); P=$!
until [ -s "$WORK/gport" ]; do sleep 0.2; done
"$PY" "$HERE/overhead.py" http "http://127.0.0.1:$(cat "$WORK/port")" "$P" "$REQUESTS" "$IN_FLIGHT" > "$WORK/instant-http.json"
"$PY" "$HERE/overhead.py" grpc "127.0.0.1:$(cat "$WORK/gport")" "$P" "$REQUESTS" "$IN_FLIGHT" "$WORK" > "$WORK/instant-grpc.json"
stop "$P"; rm -f "$WORK/port" "$WORK/gport"
STORIES=$SHARED/models/stories260K.gguf
"$PARLEY" serve "$STORIES" --port 0 --port-file "$WORK/port" n_parallel=16 threads=1 n_ctx=16384 > "$WORK/stories-parley.log" 2>&1 & pids+=($!); P=$!
until [ -s "$WORK/port" ]; do sleep 0.2; done
"$PY" "$HERE/overhead.py" http "http://127.0.0.1:$(cat "$WORK/port")" "$P" "$((REQUESTS / 2))" "$IN_FLIGHT" > "$WORK/stories-parley.json"
stop "$P"; rm -f "$WORK/port"
PORT=$(free_port)
"$SERVER" -m "$STORIES" --host 127.0.0.1 --port "$PORT" -np 16 -c 16384 -t 1 --no-webui > "$WORK/stories-llama-server.log" 2>&1 & pids+=($!); P=$!
wait_health "http://127.0.0.1:$PORT"
"$PY" "$HERE/overhead.py" http "http://127.0.0.1:$PORT" "$P" "$((REQUESTS / 2))" "$IN_FLIGHT" > "$WORK/stories-llama-server.json"
stop "$P"

COMMAND="PARALLEL=$PARALLEL SLOTS=$SLOTS CONVERSATIONS=$CONVERSATIONS TURNS=$TURNS TURN=$TURN THREADS=$THREADS MODEL=$MODEL REQUESTS=$REQUESTS IN_FLIGHT=$IN_FLIGHT bench/serve/run.sh"
"$PY" - "$WORK" "$ROOT/bench/results/serve.json" "$COMMAND" "$(git -C "$ROOT" rev-parse --short HEAD)" "$(nproc)" <<'PYEOF'
import json, sys, time
work, out, command, commit, cores = sys.argv[1:6]
load = lambda name: json.load(open(f"{work}/{name}.json"))
parley, server = load("coral-parley"), load("coral-llama-server")
for side, name in ((parley, "parley"), (server, "llama-server")):
    side["server_cpu_s"] = float(open(f"{work}/cpu-{name}").read())  # model load included, the same on both sides
# Request by request (conversation, kind, turn): the prompt tokens each server reused.
key = lambda t: (t["conv"], t["kind"], t["turn"])
traces = {name: {key(t): t["cached"] for t in json.load(open(f"{work}/trace-{name}.json"))} for name in ("parley", "llama-server")}
same = sum(1 for k, v in traces["parley"].items() if traces["llama-server"].get(k) == v)
r = {"command": command, "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": int(cores),
     "conversations_per_s_vs_llama_server": round(parley["conversations_per_s"] / server["conversations_per_s"], 3),
     "server_cpu_s_vs_llama_server": round(parley["server_cpu_s"] / server["server_cpu_s"], 3),
     "coral_workload": {"parley_serve": parley, "llama_server": server,
                        "requests_with_equal_reuse": same, "requests_compared": len(traces["parley"])},
     "request_overhead": {
         "instant_backend": {"http": load("instant-http"), "grpc": load("instant-grpc")},
         "stories260K_one_token_http": {"parley_serve": load("stories-parley"), "llama_server": load("stories-llama-server")}}}
bb = json.load(open(f"{work}/batched-bench.json"))
gen = parley["generated_tokens"]
prefill = min(parley["prefilled_tokens"], server["prefilled_tokens"])
ceiling = parley["conversations"] / (gen / bb["speed_tg"] + prefill / bb["speed_pp"])
r["ceiling"] = {"conversations_per_s": round(ceiling, 4), "generated_tokens": gen, "prefilled_tokens": prefill,
                "s_tg": bb["speed_tg"], "s_pp": bb["speed_pp"], "batched_bench": bb,
                "batched_bench_command": open(f"{work}/batched-bench.cmd").read().strip(),
                "parley_serve_over_ceiling": round(parley["conversations_per_s"] / ceiling, 3),
                "llama_server_over_ceiling": round(server["conversations_per_s"] / ceiling, 3),
                "ceiling_over_llama_server": round(ceiling / server["conversations_per_s"], 3)}
r["http"] = {k: r["request_overhead"]["instant_backend"]["http"][k] for k in ("requests_per_s", "cpu_s_per_1000_requests")}
r["grpc"] = {k: r["request_overhead"]["instant_backend"]["grpc"][k] for k in ("requests_per_s", "cpu_s_per_1000_requests")}
json.dump(r, open(out, "w"), indent=2)
print(json.dumps({k: r[k] for k in ("conversations_per_s_vs_llama_server", "server_cpu_s_vs_llama_server", "http", "grpc")}))
print(json.dumps({k: v for k, v in r["ceiling"].items() if k != "batched_bench"}))
PYEOF
