#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs every test.
# Usage: scripts/test.sh [PRESET]   (release by default; asan for the sanitizers)
# The tests read models from ../shared next to this checkout; set
# TEXTGEN_SHARED_DIR to use another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"

bash scripts/install-deps.sh test
extra=()
if [ -n "${TEXTGEN_SHARED_DIR:-}" ]; then
  extra+=("-DTEXTGEN_SHARED_DIR=${TEXTGEN_SHARED_DIR}")
fi
cmake --preset "$preset" "${extra[@]}"
cmake --build --preset "$preset"
ctest --preset "$preset"
