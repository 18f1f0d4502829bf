#!/usr/bin/env bash
# Training benchmark (bench/training/README.md): the libtorch trainer against llama.cpp (logit
# parity) and against plain PyTorch (DPO step throughput) on stories260K. Installs Debian's
# python3-torch when missing, builds parley_bench_training (a build with PARLEY_WITH_TORCH=ON,
# scripts/setup.sh's default), runs it and writes bench/results/training.json.
#   bench/training/run.sh [--threads N] [--steps N] [--rounds N] [--no-python] [--quick] ...
# (defaults here: --threads 2 --steps 5 --rounds 3; later options win)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh"
if [[ " $* " != *" --no-python "* ]]; then
  need_python torch python3-torch # the PyTorch side (pytorch_dpo.py)
  need_python numpy python3-numpy
fi
need_torch_build
need_build parley_bench_training
PARLEY_BENCH_COMMAND="bench/training/run.sh${*:+ $*}" \
  "$BUILD/bench/training/parley_bench_training" --threads 2 --steps 5 --rounds 3 "$@"
