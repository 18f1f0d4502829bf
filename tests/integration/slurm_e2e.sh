#!/usr/bin/env bash
# A real Slurm run: a one-node Slurm on localhost (../shared/tools/slurm-single-node.sh) runs the
# script `parley slurm` writes, as a 4-task array over stories260K, then `parley merge` checks
# that every (item, trial) came back exactly once. Exit 77 (skipped) where Slurm cannot be had.
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"
TOOL="$SHARED/tools/slurm-single-node.sh"
if [[ $(id -u) -ne 0 || ! -f "$TOOL" ]]; then echo "skipped: needs root and $TOOL"; exit 77; fi
export SLURM_SN_DIR=/tmp/slurm-single-node   # the tool's own layout (munge is particular about permissions)
WORK="$(mktemp -d /tmp/parley-slurm-work-XXXX)"
chmod 755 "$WORK"
cleanup() { bash "$TOOL" stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bash "$TOOL" install >/dev/null 2>&1 || { echo "skipped: Slurm packages cannot be installed"; exit 77; }
bash "$TOOL" start
export SLURM_CONF="$SLURM_SN_DIR/etc/slurm.conf"

OVERRIDES=(nodes.mmlu_pro.limit=12 nodes.cot.max_tokens=12 nodes.model.threads=1 nodes.model.n_ctx=8192
           nodes.model.n_parallel=4 "graph.output_dir=$WORK/out")
"$PARLEY" slurm "$SOURCE/examples/cot-mmlu_pro.toml" --shards 4 --cpus 1 --mem 2G --out "$WORK/job.sbatch" "${OVERRIDES[@]}"
grep -q -- "--array=0-3" "$WORK/job.sbatch"
job=$(sbatch --parsable "$WORK/job.sbatch")
echo "submitted array job $job"
for _ in $(seq 1 600); do
  [[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]] && break
  sleep 0.5
done
[[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]] || { echo "FAIL: the array did not finish in time"; squeue; exit 1; }
for i in 0 1 2 3; do
  [[ -f "$WORK/out/shard-$i-of-4/cot/results.json" ]] || { echo "FAIL: shard $i wrote no results"; cat "$WORK"/out/logs/* || true; exit 1; }
done
"$PARLEY" merge "$WORK/out"
rows=$(wc -l < "$WORK/out/cot/samples_mmlu_pro.jsonl")
[[ "$rows" -eq 12 ]] || { echo "FAIL: merged $rows samples, expected 12"; exit 1; }
echo "slurm: 4 array tasks, 12 samples merged exactly once"
