#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs textgen-server.
# Arguments are passed to textgen-server; with none, it serves the embedded
# textgen-tiny-stories model on 0.0.0.0:50051.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# The tests need more packages (install-deps.sh test), so this build leaves
# them out; scripts/test.sh turns them on again.
cmake --preset release -DTEXTGEN_BUILD_TESTS=OFF
cmake --build --preset release --target textgen-server textgen-client textgen-bench \
  textgen-convert
exec build/release/server/textgen-server "$@"
