#!/usr/bin/env bash
# `parley serve --grpc-port` on stories260K answered by a Python gRPC client that uses Matrix's
# proto and names (grpc_client.py), then UNAVAILABLE for a call that arrives while the server
# drains. Exit 77 (skipped) without the model, python3-grpcio, protoc or a gRPC build.
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"
MODEL="$SHARED/models/stories260K.gguf"
PY=/usr/bin/python3  # Debian's python3-grpcio
[[ -f "$MODEL" ]] || { echo "skipped: no $MODEL"; exit 77; }
"$PY" -c "import grpc" 2>/dev/null || { echo "skipped: no python3-grpcio"; exit 77; }
command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null || { echo "skipped: no protoc/grpc_python_plugin"; exit 77; }
HERE="$SOURCE/tests/integration/serve"
WORK="$(mktemp -d /tmp/parley-serve-grpc-XXXX)"
KEY=grpc-key
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
protoc -I "$SOURCE/core/src/serve/proto" --python_out="$WORK" --grpc_out="$WORK" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" "$SOURCE/core/src/serve/proto/openai.proto"

mkdir -p "$WORK/replicas"
echo "grpc://127.0.0.1:1" > "$WORK/replicas/dead.url"   # a replica that never answers
"$PARLEY" serve "$MODEL" --port 0 --port-file "$WORK/port" --grpc-port 0 --grpc-port-file "$WORK/grpc_port" \
  --register "$WORK/replicas" --api-key "$KEY" n_parallel=8 threads=1 n_ctx=8192 > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [[ -s "$WORK/grpc_port" ]] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if grep -q "built without gRPC" "$WORK/server.log"; then echo "skipped: parley was built without gRPC"; exit 77; fi
[[ -s "$WORK/grpc_port" ]] || { echo "FAIL: the server did not start"; cat "$WORK/server.log"; exit 1; }
GRPC="127.0.0.1:$(cat "$WORK/grpc_port")"
URL="http://127.0.0.1:$(cat "$WORK/port")"

"$PY" "$HERE/grpc_client.py" "$WORK" "$GRPC" "$KEY" check
# (into a file first: under pipefail, `curl | grep -q` fails when grep exits before curl has written all)
curl -sS "$URL/metrics" > "$WORK/metrics.txt"
grep -q 'parley_requests_total{endpoint="grpc_chat",status="200"}' "$WORK/metrics.txt" \
  || { echo "FAIL: gRPC calls are not in /metrics"; exit 1; }

# Parley's own gRPC client: a Coral evaluation, replicas from the registration folder.
ls "$WORK/replicas" | grep -q "^127.0.0.1-$pid.url$" || { echo "FAIL: no registration"; ls "$WORK/replicas"; exit 1; }
PARLEY_REPLICAS="$WORK/replicas" PARLEY_API_KEY="$KEY" PARLEY_SHARED_DIR="$SHARED" \
  "$PARLEY" run "$HERE/coral_over_grpc.toml" "graph.output_dir=$WORK/coral" > "$WORK/coral.log" 2>&1 \
  || { echo "FAIL: Coral over gRPC"; tail -20 "$WORK/coral.log"; exit 1; }
rows=$(wc -l < "$WORK/coral/coral/records_mmlu_pro.jsonl")
[[ "$rows" -eq 6 ]] || { echo "FAIL: $rows Coral records over gRPC, expected 6"; exit 1; }

# A drain kept going by long HTTP requests; a gRPC call meanwhile is refused with UNAVAILABLE.
for i in $(seq 1 8); do
  curl -sS -H "Authorization: Bearer $KEY" "$URL/v1/completions" \
    -d '{"prompt":"Once upon a time","max_tokens":900,"temperature":1,"seed":'"$i"'}' > "$WORK/drain_$i.json" &
done
for _ in $(seq 1 100); do curl -sS "$URL/metrics" 2>/dev/null | grep -q '^parley_requests_in_flight 8$' && break; sleep 0.05; done
kill -TERM "$pid"
sleep 0.1
"$PY" "$HERE/grpc_client.py" "$WORK" "$GRPC" "$KEY" unavailable
status=0; wait "$pid" || status=$?
pid=""
[[ ! -e "$WORK/replicas/127.0.0.1-"*.url ]] || { echo "FAIL: the registration outlived the server"; exit 1; }
[[ "$status" -eq 0 ]] || { echo "FAIL: the server exited with $status"; tail -20 "$WORK/server.log"; exit 1; }
# A call whose deadline passes before its answer (the scripted node answers after 1.5 s): the
# server cancels the backend request at once (status 499 in the metrics) instead of running it on.
rm -f "$WORK/port" "$WORK/grpc_port"
"$PARLEY" serve "$HERE/scripted.toml" --node model --port 0 --port-file "$WORK/port" --grpc-port 0 \
  --grpc-port-file "$WORK/grpc_port" > "$WORK/scripted.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [[ -s "$WORK/grpc_port" ]] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"
"$PY" "$HERE/grpc_client.py" "$WORK" "127.0.0.1:$(cat "$WORK/grpc_port")" "" deadline
cancelled=""
for _ in $(seq 1 10); do  # within 0.5 s of the deadline, well before the 1.5 s answer
  curl -sS "$URL/metrics" > "$WORK/gone.txt"
  grep -q '^parley_requests_total{endpoint="grpc_chat",status="499"} 1$' "$WORK/gone.txt" \
    && grep -q '^parley_requests_in_flight 0$' "$WORK/gone.txt" && { cancelled=1; break; }
  sleep 0.05
done
[[ -n "$cancelled" ]] || { echo "FAIL: a call past its deadline was not cancelled"; grep -E 'requests_total|in_flight' "$WORK/gone.txt"; exit 1; }
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "serve over gRPC: Matrix's client names, status codes, the drain and cancellation past a deadline passed"
