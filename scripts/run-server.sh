#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs textgen-server.
# Arguments are passed to textgen-server; with none, it serves the stories260K
# model from ../shared/models on 0.0.0.0:50051.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target textgen-server textgen-client

if [ $# -eq 0 ]; then
  shared="${TEXTGEN_SHARED_DIR:-../shared}"
  set -- --model "$shared/models/stories260K/stories260K.bin" \
         --tokenizer "$shared/models/stories260K/tok512.bin"
fi
exec build/release/server/textgen-server "$@"
