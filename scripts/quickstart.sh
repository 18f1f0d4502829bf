#!/usr/bin/env bash
# The main job: set up (first run installs and builds; later runs take seconds), then evaluate on
# the embedded llama.cpp backend with the model and data in ../shared: a mixed-domain Coral
# evaluation next to its chain-of-thought baseline (examples/coral-vs-cot.toml). Extra arguments are
# graph overrides, e.g. nodes.model.model=/path/to/model.gguf
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
GRAPH="${PARLEY_GRAPH:-$REPO/examples/coral-vs-cot.toml}"
exec "${PARLEY_BUILD:-$REPO/build}/bin/parley" run "$GRAPH" "$@"
