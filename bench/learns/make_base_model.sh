#!/usr/bin/env bash
# Builds the arithmetic base model from random initialisation and writes it to
# models/arith-base.gguf (the committed copy; run from the repository root):
#   1. parley-arith-data writes the vocabulary (words and phrases) and SEED-drawn SFT rows over the train
#      split (plugins/arithmetic/data/train.json): CoT solutions and two-agent Coral dialogues
#      with a partner that is sometimes wrong (plugins/arithmetic/dialogue.hpp);
#   2. make_arith_model init: the vocabulary and a random llama GGUF with a ChatML template;
#   3. make_arith_model train: SFT with the trainer's code (run_training), on THREADS threads.
# Environment (defaults are what made the committed model): SEED, ROWS, STEPS, BATCH, LR,
# THREADS, N_EMBD, N_LAYER, N_HEAD, N_FF, OUT, PARLEY_BUILD.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh" # sets BUILD
SEED="${SEED:-1}" ROWS="${ROWS:-12000}" STEPS="${STEPS:-300}" BATCH="${BATCH:-48}" LR="${LR:-4e-3}" THREADS="${THREADS:-2}"
N_EMBD="${N_EMBD:-64}" N_LAYER="${N_LAYER:-4}" N_HEAD="${N_HEAD:-4}" N_FF="${N_FF:-192}"
OUT="${OUT:-$REPO/models/arith-base.gguf}"
WORK="$BUILD/learns-base"
need_torch_build
need_build parley-arith-data make_arith_model
DATA="$BUILD/plugins/arithmetic/parley-arith-data"
MAKE="$BUILD/bench/learns/make_arith_model"
rm -rf "$WORK" && mkdir -p "$WORK" "$(dirname "$OUT")"
SPEC="$REPO/plugins/arithmetic/data/train.json"
"$DATA" vocab "$SPEC" >"$WORK/vocab.json"
"$DATA" sft "$SPEC" "$ROWS" "$SEED" >"$WORK/sft.jsonl"
"$MAKE" init --vocab "$WORK/vocab.json" --out "$WORK/init.gguf" --seed "$SEED" \
  --n-embd "$N_EMBD" --n-layer "$N_LAYER" --n-head "$N_HEAD" --n-ff "$N_FF"
start=$(date +%s)
OMP_WAIT_POLICY=PASSIVE "$MAKE" train --model "$WORK/init.gguf" --data "$WORK/sft.jsonl" --out-dir "$WORK/train" \
  --steps "$STEPS" --warmup 10 --batch "$BATCH" --lr "$LR" --threads "$THREADS" --seed "$SEED" | tee "$WORK/summary.json"
echo "trained in $(( $(date +%s) - start )) s"
cp "$WORK/train/model.gguf" "$OUT"
ls -l "$OUT"
