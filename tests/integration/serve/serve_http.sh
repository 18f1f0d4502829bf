#!/usr/bin/env bash
# `parley serve` on stories260K, answered by real clients: curl (chat, completions, SSE, models,
# health, metrics, API key refusal, prefix reuse with no affinity hint), Parley's own openai
# backend (a Coral evaluation against the server), a client that leaves before its answer
# (cancelled, status 499), then SIGTERM with requests in flight: each of
# them is answered, the server exits 0. Exit 77 (skipped) without the model.
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"
MODEL="$SHARED/models/stories260K.gguf"
[[ -f "$MODEL" ]] || { echo "skipped: no $MODEL"; exit 77; }
HERE="$SOURCE/tests/integration/serve"
WORK="$(mktemp -d /tmp/parley-serve-XXXX)"
KEY=test-key-123
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
check() { python3 "$HERE/check.py" "$@"; }

"$PARLEY" serve "$MODEL" --port 0 --port-file "$WORK/port" --api-key "$KEY" --drain-timeout 30 \
  n_parallel=8 threads=1 n_ctx=8192 max_tokens=32 > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [[ -s "$WORK/port" ]] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[[ -s "$WORK/port" ]] || { echo "FAIL: the server did not start"; cat "$WORK/server.log"; exit 1; }
URL="http://127.0.0.1:$(cat "$WORK/port")"
AUTH=(-H "Authorization: Bearer $KEY")
post() { curl -sS "${AUTH[@]}" -H 'Content-Type: application/json' "$URL$1" -d "$2"; }

curl -sSf "$URL/health" | grep -q '"ok"'
curl -sS "$URL/v1/models" > "$WORK/noauth.json"; check error "$WORK/noauth.json" 401
curl -sS "${AUTH[@]}" "$URL/v1/models" > "$WORK/models.json"; check models "$WORK/models.json" stories260K

CHAT='{"model":"stories260K","messages":[{"role":"system","content":"You are a storyteller."},{"role":"user","content":"Once upon a time"}],"temperature":0,"max_tokens":16}'
post /v1/chat/completions "$CHAT" > "$WORK/chat.json"; check chat "$WORK/chat.json"
post /v1/chat/completions '{"messages":[{"role":"user","content":"Tell me a story"}],"temperature":0.8,"seed":7,"n":3,"max_tokens":8}' > "$WORK/chat_n.json"
check chat "$WORK/chat_n.json" 3
post /v1/completions '{"prompt":"Once upon a time","max_tokens":5,"temperature":0,"stop":["zzzz"]}' > "$WORK/completion.json"
check completion "$WORK/completion.json"
post /v1/chat/completions "${CHAT%\}},\"stream\":true,\"stream_options\":{\"include_usage\":true}}" > "$WORK/sse.txt"
check sse "$WORK/sse.txt" "$WORK/chat.json"
post /v1/chat/completions '{"messages":[]}' > "$WORK/bad.json"; check error "$WORK/bad.json" 400

# No affinity hint: the next turn of the first conversation still finds its prefix resident.
reply=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]))' "$WORK/chat.json")
NEXT='{"messages":[{"role":"system","content":"You are a storyteller."},{"role":"user","content":"Once upon a time"},{"role":"assistant","content":'"$reply"'},{"role":"user","content":"And then?"}],"temperature":0,"max_tokens":8}'
post /v1/chat/completions "$NEXT" > "$WORK/next.json"; check cached "$WORK/next.json"

curl -sS "$URL/metrics" > "$WORK/metrics.txt"
check metrics "$WORK/metrics.txt" 'parley_requests_total{endpoint="chat",status="200"}' 'parley_requests_total{endpoint="chat",status="400"}' \
  parley_prompt_tokens_total parley_completion_tokens_total parley_prefix_cache_hit_tokens_total parley_queue_depth \
  parley_kv_cells_used parley_request_duration_seconds_bucket parley_time_to_first_token_seconds_count

# Parley's own client: a Coral evaluation over HTTP (every conversation completes).
PARLEY_SERVE_URL="$URL" OPENAI_API_KEY="$KEY" PARLEY_SHARED_DIR="$SHARED" \
  "$PARLEY" run "$HERE/coral_over_http.toml" "graph.output_dir=$WORK/coral" > "$WORK/coral.log" 2>&1 \
  || { echo "FAIL: Coral over HTTP"; tail -20 "$WORK/coral.log"; exit 1; }
rows=$(wc -l < "$WORK/coral/coral/records_mmlu_pro.jsonl")
[[ "$rows" -eq 6 ]] || { echo "FAIL: $rows Coral records, expected 6"; exit 1; }

# SIGTERM while generating: every request already accepted is answered, the server exits 0.
# (stories260K may finish some of them before the signal; the in-flight count is asserted on the
# scripted node below, whose fixed latency keeps all six in flight.)
drain_check() {  # LOG: SIGTERM with six completions in flight; each answered, exit 0
  local log="$1" want_in_flight="$2"
  for i in $(seq 1 6); do
    post /v1/completions '{"prompt":"Once upon a time","max_tokens":400,"temperature":1,"seed":'"$i"'}' > "$WORK/drain_$i.json" &
  done
  for _ in $(seq 1 100); do  # all six accepted before the signal
    curl -sS "$URL/metrics" 2>/dev/null | grep -q '^parley_requests_in_flight 6$' && break; sleep 0.05
  done
  kill -TERM "$pid"
  sleep 0.2
  if curl -sf -m 2 "$URL/health" > /dev/null 2>&1; then echo "FAIL: healthy after SIGTERM"; exit 1; fi
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  local status=0; wait "$pid" || status=$?
  pid=""
  [[ "$status" -eq 0 ]] || { echo "FAIL: the server exited with $status"; tail -20 "$log"; exit 1; }
  for i in $(seq 1 6); do
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["object"]=="text_completion", r' "$WORK/drain_$i.json" \
      || { echo "FAIL: in-flight request $i was not answered during the drain"; cat "$WORK/drain_$i.json"; exit 1; }
  done
  if [[ -n "$want_in_flight" ]]; then
    grep -q "draining ($want_in_flight requests in flight" "$log" \
      || { echo "FAIL: expected $want_in_flight requests in flight at SIGTERM"; grep draining "$log"; exit 1; }
  fi
}
drain_check "$WORK/server.log" ""

# A graph's backend node: `parley serve GRAPH.toml --node NAME` (the scripted double, answering
# after 1.5 s), then the same SIGTERM drain with exactly six requests in flight.
rm -f "$WORK/port"
"$PARLEY" serve "$HERE/scripted.toml" --node model --port 0 --port-file "$WORK/port" --drain-timeout 30 > "$WORK/graph.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"
AUTH=()
curl -sS "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}]}' \
  | grep -q 'The correct answer is (C).' || { echo "FAIL: the graph's scripted node did not answer"; cat "$WORK/graph.log"; exit 1; }
# A client that leaves before its answer: the backend request is cancelled at once (the scripted
# node answers a cancelled request without waiting out its 1.5 s), counted as status 499, and the
# server keeps serving. Without cancellation it would run on and count as a 200 at 1.5 s.
for body in '{"messages":[{"role":"user","content":"x"}]}' '{"messages":[{"role":"user","content":"x"}],"stream":true}'; do
  curl -sS -m 0.4 "$URL/v1/chat/completions" -d "$body" > /dev/null 2>&1 || true  # gives up after 0.4 s
done
gone=""
for _ in $(seq 1 10); do  # within 0.5 s of the second client leaving, well before its 1.5 s answer
  curl -sS "$URL/metrics" > "$WORK/gone.txt"
  grep -q '^parley_requests_total{endpoint="chat",status="499"} 2$' "$WORK/gone.txt" && grep -q '^parley_requests_in_flight 0$' "$WORK/gone.txt" \
    && { gone=1; break; }
  sleep 0.05
done
[[ -n "$gone" ]] || { echo "FAIL: requests whose clients left were not cancelled"; grep -E 'requests_total|in_flight' "$WORK/gone.txt"; exit 1; }
drain_check "$WORK/graph.log" 6
echo "serve: curl, SSE, API key, metrics, prefix reuse, Coral over HTTP, the SIGTERM drain and a graph's node all passed"
