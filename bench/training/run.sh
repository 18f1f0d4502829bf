#!/usr/bin/env bash
# Training benchmark (bench/training/README.md): the libtorch trainer against llama.cpp (logit
# parity) and against plain PyTorch (DPO step throughput) on stories260K. Installs Debian's
# python3-torch when missing, builds parley_bench_training (a build with PARLEY_WITH_TORCH=ON,
# scripts/setup.sh's default), runs it and writes bench/results/training.json.
#   bench/training/run.sh [--threads N] [--steps N] [--rounds N] [--no-python] [--quick] ...
# (defaults here: --threads 2 --steps 5 --rounds 3; later options win)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${PARLEY_BUILD:-$REPO/build}"
if [[ " $* " != *" --no-python "* ]] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "run.sh: installing python3-torch for the PyTorch side" >&2
  apt-get install -y python3-torch > /dev/null
fi
[[ -f "$BUILD/CMakeCache.txt" ]] || "$REPO/scripts/setup.sh"
grep -q "PARLEY_WITH_TORCH:BOOL=ON" "$BUILD/CMakeCache.txt" \
  || { echo "run.sh: $BUILD was configured with PARLEY_WITH_TORCH=OFF; run scripts/setup.sh (default ON)" >&2; exit 1; }
cmake --build "$BUILD" --target parley_bench_training -j"${PARLEY_JOBS:-2}" > /dev/null
PARLEY_BENCH_COMMAND="bench/training/run.sh${*:+ $*}" \
  "$BUILD/bench/training/parley_bench_training" --threads 2 --steps 5 --rounds 3 "$@"
