#!/usr/bin/env bash
# Replicas that find each other, on a real one-node Slurm: `parley slurm --serve` runs two
# `parley serve` replicas as one job, registering in a folder; a Coral evaluation runs as another
# job, its backend (grpc/backend, or openai/backend with BACKEND=openai, the 4th argument) reading
# the folder. One replica is killed (SIGKILL) mid-run: its calls are retried on the other, and
# `parley merge` finds every conversation exactly once.
# Exit 77 (skipped) where Slurm, the model or gRPC cannot be had.
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"; BACKEND="${4:-grpc}"
TOOL="$SHARED/tools/slurm-single-node.sh"
MODEL="$SHARED/models/stories260K.gguf"
if [[ $(id -u) -ne 0 || ! -f "$TOOL" || ! -f "$MODEL" ]]; then echo "skipped: needs root, $TOOL and $MODEL"; exit 77; fi
"$PARLEY" plugins | grep -q '^grpc ' || { echo "skipped: no grpc plugin (built without gRPC)"; exit 77; }
export SLURM_SN_DIR=/tmp/slurm-single-node
WORK="$(mktemp -d /tmp/parley-slurm-serve-XXXX)"
chmod 755 "$WORK"
cleanup() { bash "$TOOL" stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bash "$TOOL" install >/dev/null 2>&1 || { echo "skipped: Slurm packages cannot be installed"; exit 77; }
bash "$TOOL" start
export SLURM_CONF="$SLURM_SN_DIR/etc/slurm.conf"
REG="$WORK/replicas"
until_true() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.5; done; return 1; }

# The servers: one task (one core) with two replicas.
"$PARLEY" slurm --serve "$MODEL" --register "$REG" --servers 1 --replicas-per-task 2 --cpus 1 --mem 2G \
  --out "$WORK/serve.sbatch" n_parallel=8 threads=1 n_ctx=8192
serve_job=$(sbatch --parsable "$WORK/serve.sbatch")
echo "submitted server job $serve_job"
two_registered() { [[ $(ls "$REG"/*.url 2>/dev/null | wc -l) -eq 2 ]]; }
until_true 240 two_registered || { echo "FAIL: the replicas did not register"; ls -la "$REG"; cat "$REG"/.logs/* || true; exit 1; }

# The evaluation: a Coral graph whose backend reads the folder.
ITEMS=30
if [[ "$BACKEND" == openai ]]; then
  GRAPH="$SOURCE/tests/integration/serve/coral_over_http.toml"; EXTRA=("nodes.model.url=[]" nodes.model.model=stories260K)
else
  GRAPH="$SOURCE/tests/integration/serve/coral_over_grpc.toml"; EXTRA=()
fi
"$PARLEY" slurm "$GRAPH" --shards 1 --cpus 1 --mem 2G --out "$WORK/eval.sbatch" "${EXTRA[@]}" \
  "nodes.model.replicas_from=$REG" "nodes.mmlu_pro.limit=$ITEMS" "nodes.mmlu_pro.data=$SHARED/data/mmlu_pro/test_sample_60.jsonl" \
  nodes.coral.max_turns=4 nodes.coral.max_tokens=48 nodes.model.cooldown_s=0.2 "graph.output_dir=$WORK/out"
eval_job=$(sbatch --parsable "$WORK/eval.sbatch")
echo "submitted evaluation job $eval_job"

# Mid-run: some conversations done, then one replica is killed without warning (its entry stays).
records="$WORK/out/shard-0-of-1/coral/records_mmlu_pro.jsonl"
some_done() { [[ -f "$records" && $(wc -l < "$records") -ge 3 ]]; }
until_true 600 some_done || { echo "FAIL: the evaluation made no progress"; cat "$WORK"/out/logs/* || true; exit 1; }
victim=$(ls "$REG"/*.url | head -1)
pid=$(basename "$victim" .url); pid=${pid##*-}
kill -9 "$pid"
echo "killed replica $(basename "$victim") at $(wc -l < "$records") of $ITEMS conversations"

for _ in $(seq 1 1200); do [[ -z "$(squeue -h -j "$eval_job" 2>/dev/null)" ]] && break; sleep 0.5; done
[[ -z "$(squeue -h -j "$eval_job" 2>/dev/null)" ]] || { echo "FAIL: the evaluation did not finish"; exit 1; }
scancel "$serve_job"
[[ -f "$WORK/out/shard-0-of-1/coral/results.json" ]] || { echo "FAIL: no results"; cat "$WORK"/out/logs/* || true; exit 1; }
"$PARLEY" merge "$WORK/out"
rows=$(wc -l < "$WORK/out/coral/records_mmlu_pro.jsonl")
[[ "$rows" -eq "$ITEMS" ]] || { echo "FAIL: $rows conversations, expected $ITEMS"; exit 1; }
grep -Eq "replicas: (2 \(|[^;]*, )" "$WORK"/out/logs/* || { echo "FAIL: the evaluation did not find both replicas"; exit 1; }
until_true 60 bash -c "[[ \$(ls '$REG'/*.url 2>/dev/null | wc -l) -le 1 ]]" # the survivor unregisters on scancel
echo "slurm serve ($BACKEND): 2 replicas discovered, one killed mid-run, $rows conversations each exactly once"
