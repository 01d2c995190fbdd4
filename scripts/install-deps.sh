#!/usr/bin/env bash
# Installs every Debian package textgen needs to build, test and run.
# This is the only list of packages: the README, .ci/run and the Dockerfile all call it.
# Idempotent: when every package is already installed it changes nothing and needs no network.
set -euo pipefail

# Packages needed to build and run the server and its tests.
build_packages=(
  build-essential
  cmake
  ninja-build
  pkg-config
  libgrpc++-dev
  protobuf-compiler
  protobuf-compiler-grpc
  libprotobuf-dev
  libabsl-dev
  libdnnl-dev
  ocl-icd-opencl-dev
  prometheus-cpp-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  python3
  python3-numpy
  nlohmann-json3-dev
)

# Packages the tests need beyond the build: Prometheus and promtool, which
# scrape and check the server's metrics and the files in deploy/, and YAML
# for the checks of the Kubernetes manifests.
test_packages=(
  prometheus
  python3-yaml
)

# Packages only the runtime image needs: one for each shared library that
# textgen-server and textgen-client link directly (libgomp1 for OpenMP),
# except libc6 and libgcc-s1, which every Debian system has. The libraries'
# own dependencies, such as civetweb, come with them.
runtime_packages=(
  libgrpc++1.51
  libgrpc29
  libprotobuf32
  libdnnl2
  libgomp1
  libabsl20220623
  libstdc++6
  libprometheus-cpp-pull1.0
  libprometheus-cpp-core1.0
)

# Packages only the training recipe of the embedded model needs (tools/train).
# OpenBLAS's threaded build keeps torch off its slow reference BLAS.
train_packages=(
  python3
  python3-numpy
  python3-regex
  python3-torch
  libopenblas0-pthread
)

case "${1:-build}" in
  build) packages=("${build_packages[@]}") ;;
  test) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  runtime) packages=("${runtime_packages[@]}") ;;
  train) packages=("${train_packages[@]}") ;;
  *) echo "usage: $0 [build|test|runtime|train]" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
