#!/usr/bin/env bash
# Builds the Dockerfile with podman and smoke-tests the image without a
# container runtime. The image's file system is exported and its ENTRYPOINT
# runs in a chroot as the image's USER, on free loopback ports. The script
# checks health, one Generate call, the metrics endpoint (when the server has
# --metrics-listen) and a clean exit on SIGTERM.
#
# Usage: scripts/docker-check.sh [PODMAN_BUILD_ARGUMENTS...]
#   for example: scripts/docker-check.sh --build-arg TEXTGEN_MARCH=
# Runs as root, because chroot and mount need it. Installs podman and its
# helpers when they are missing. On a 2-core machine a build without cached
# layers took 1 to 2 minutes, plus up to a minute for the base image on the
# first run, which is why .ci/run does not call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${TEXTGEN_IMAGE:-textgen:dev}"
base_image="localhost/debian:bookworm-slim"
python=/usr/bin/python3
tools=(mmdebstrap podman uidmap fuse-overlayfs python3)

# Ports that the Dockerfile's EXPOSE must list: gRPC and metrics.
expected_ports=(50051/tcp 9464/tcp)
# Address that the Dockerfile's HEALTHCHECK and default CMD use.
default_address="127.0.0.1:50051"
# Seconds to wait for the server to report SERVING, and for it to exit after
# SIGTERM (its default --drain-timeout is 20 s).
start_timeout=120
stop_timeout=40

step="starting"
work=""
container=""
server_pid=""
rootfs=""
mounts=()
# Set by inspect_image from the image's configuration.
image_uid=""
image_gid=""
image_env=()
image_entrypoint=()
image_cmd=()
image_healthcheck=()
image_ports=()

log() { echo "docker-check: $*"; }

fail() {
  log "FAIL: $*" >&2
  exit 1
}

# Stops the server if it still runs, unmounts what was mounted in the
# exported file system and deletes the temporary folder and container.
cleanup() {
  local status=$?
  set +e
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null
  fi

  local index
  for ((index = ${#mounts[@]} - 1; index >= 0; index--)); do
    umount "${mounts[index]}" || log "unmounting ${mounts[index]} failed" >&2
  done
  if [ -n "$container" ]; then
    podman rm --force "$container" >/dev/null
  fi

  if [ -n "$work" ]; then
    local still_mounted=0
    for mount_point in "${mounts[@]}"; do
      mountpoint -q "$mount_point" && still_mounted=1
    done
    if [ "$still_mounted" -eq 0 ]; then
      # --one-file-system: never descends into a mount that is still there.
      rm -rf --one-file-system "$work"
    else
      log "left $work in place because a mount in it is still active" >&2
    fi
  fi

  if [ "$status" -ne 0 ]; then
    log "FAIL (exit status $status while $step)" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
# Makes an interrupted run exit through cleanup too.
trap 'exit 130' INT
trap 'exit 143' TERM

install_tools() {
  step="installing podman"
  local missing=() package
  for package in "${tools[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  log "installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# Makes a Debian bookworm base image from Debian's archive, standing in for
# Docker Hub's debian:bookworm-slim, which `--pull=never` keeps podman from
# downloading. Like the slim image, it merges /usr without the usrmerge
# package (which needs perl), and dpkg skips documentation and translations,
# also for the packages that the Dockerfile installs later.
make_base_image() {
  step="making the base image"
  if ! podman image exists "$base_image"; then
    log "making $base_image with mmdebstrap"
    mmdebstrap --variant=minbase --include=ca-certificates \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$work/base.tar"
    podman import "$work/base.tar" "$base_image"
    rm -f "$work/base.tar"
  fi
  podman tag "$base_image" docker.io/library/debian:bookworm-slim
}

build_image() {
  step="building $image"
  log "building $image"
  local start=$SECONDS
  # --format docker keeps HEALTHCHECK, which the OCI image format lacks.
  podman build --isolation chroot --network host --pull=never --format docker \
    --build-arg "CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)" "$@" -t "$image" .
  log "build took $((SECONDS - start)) s"
  log "image size: $(podman image inspect --format '{{.Size}}' "$image" |
    awk '{printf "%.1f MB", $1 / 1e6}')"
}

# Checks USER, EXPOSE, HEALTHCHECK and ENTRYPOINT and writes them as bash
# arrays to $work/image.sh.
inspect_image() {
  step="inspecting $image"
  podman image inspect "$image" >"$work/inspect.json"
  "$python" - "$work/inspect.json" "$default_address" "${expected_ports[@]}" \
    >"$work/image.sh" <<'PYTHON'
import json
import shlex
import sys

inspect_path, default_address, *expected_ports = sys.argv[1:]
with open(inspect_path) as f:
    image = json.load(f)[0]
config = image.get("Config") or {}
errors = []

user = config.get("User", "")
user_ids = user.split(":")
if len(user_ids) != 2 or not all(part.isdigit() for part in user_ids) or user_ids[0] == "0":
    errors.append(f"USER is {user!r}, expected a numeric UID:GID other than root")

exposed = sorted(config.get("ExposedPorts") or {})
for port in expected_ports:
    if port not in exposed:
        errors.append(f"EXPOSE lists {exposed}, missing {port}")

healthcheck = (image.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test") or []
if not healthcheck or healthcheck[0] != "CMD":
    errors.append(f"HEALTHCHECK is {healthcheck!r}, expected the exec form [\"CMD\", ...]")
elif "health" not in healthcheck or default_address not in healthcheck:
    errors.append(f"HEALTHCHECK is {healthcheck!r}, expected textgen-client health on "
                  f"{default_address}")

entrypoint = config.get("Entrypoint") or []
if not entrypoint:
    errors.append("ENTRYPOINT is missing")

if errors:
    for error in errors:
        print(f"docker-check: {error}", file=sys.stderr)
    sys.exit(1)

def bash_array(name, values):
    print(f"{name}=({' '.join(shlex.quote(value) for value in values)})")

print(f"image_uid={user_ids[0]}")
print(f"image_gid={user_ids[1]}")
bash_array("image_env", config.get("Env") or [])
bash_array("image_entrypoint", entrypoint)
bash_array("image_cmd", config.get("Cmd") or [])
bash_array("image_healthcheck", healthcheck[1:])
bash_array("image_ports", exposed)
PYTHON
  # shellcheck source=/dev/null
  source "$work/image.sh"
  log "USER $image_uid:$image_gid, EXPOSE ${image_ports[*]}"
  log "ENTRYPOINT ${image_entrypoint[*]}, CMD ${image_cmd[*]}"
  log "HEALTHCHECK ${image_healthcheck[*]}"
}

# Extracts the image's file system to $rootfs and mounts /proc and /dev in it.
export_image() {
  step="exporting $image"
  # --no-healthcheck: podman would set up a systemd timer for the HEALTHCHECK.
  container=$(podman create --no-healthcheck "$image")
  podman export "$container" -o "$work/image.tar"
  podman rm "$container" >/dev/null
  container=""
  rootfs="$work/rootfs"
  mkdir -p "$rootfs"
  tar -xf "$work/image.tar" -C "$rootfs"
  rm -f "$work/image.tar"

  mkdir -p "$rootfs/proc" "$rootfs/dev"
  mount -t proc proc "$rootfs/proc"
  mounts+=("$rootfs/proc")
  mount --bind /dev "$rootfs/dev"
  mounts+=("$rootfs/dev")
}

# Runs a command inside the exported image as its USER, with its environment.
run_in_image() {
  env -i "${image_env[@]}" chroot --userspec="$image_uid:$image_gid" "$rootfs" "$@"
}

# Checks that every shared library of the two executables is in the image.
check_libraries() {
  step="checking shared libraries"
  local program path missing
  for program in textgen-server textgen-client; do
    path=$(run_in_image sh -c "command -v $program") ||
      fail "$program is not on the image's PATH"
    missing=$(run_in_image ldd "$path" | grep 'not found' || true)
    if [ -n "$missing" ]; then
      fail "$path misses shared libraries: $missing"
    fi
    log "$path finds all its shared libraries"
  done
}

free_port() {
  "$python" -c 'import socket
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
print(listener.getsockname()[1])'
}

# Sets server_args to ENTRYPOINT and CMD with --listen (and --metrics-listen
# when the server has it) pointing at free loopback ports.
compose_server_args() {
  step="composing the server's command line"
  grpc_address="127.0.0.1:$(free_port)"
  metrics_address=""
  local help
  help=$(run_in_image "${image_entrypoint[@]}" --help 2>&1 || true)
  if grep -Eq -- '--metrics[-_]listen' <<<"$help"; then
    metrics_address="127.0.0.1:$(free_port)"
  else
    log "textgen-server --help lists no --metrics-listen: skipping the metrics check"
  fi

  server_args=("${image_entrypoint[@]}")
  local skip_next=0 argument
  for argument in "${image_cmd[@]}"; do
    if [ "$skip_next" -eq 1 ]; then
      skip_next=0
      continue
    fi
    case "$argument" in
      --listen | --metrics-listen | --metrics_listen) skip_next=1 ;;
      --listen=* | --metrics-listen=* | --metrics_listen=*) ;;
      *) server_args+=("$argument") ;;
    esac
  done
  server_args+=(--listen "$grpc_address")
  if [ -n "$metrics_address" ]; then
    server_args+=(--metrics-listen "$metrics_address")
  fi
}

start_server() {
  step="starting the server"
  log "starting: ${server_args[*]}"
  # Started directly rather than through run_in_image: env and chroot exec
  # the server, so $! is the server's own process id.
  env -i "${image_env[@]}" chroot --userspec="$image_uid:$image_gid" "$rootfs" \
    "${server_args[@]}" >"$work/server.log" 2>&1 &
  server_pid=$!

  local deadline=$((SECONDS + start_timeout))
  # The subshell keeps the redirection out of this shell: a signal trap that
  # runs during the call would otherwise send cleanup's messages to /dev/null.
  until (run_in_image textgen-client --addr "$grpc_address" --timeout 1 health) \
    >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/server.log" >&2
      fail "the server exited before it reported SERVING"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$work/server.log" >&2
      fail "the server did not report SERVING within $start_timeout s"
    fi
    sleep 0.5
  done
  local owner
  owner=$(stat -c %u "/proc/$server_pid")
  [ "$owner" = "$image_uid" ] || fail "the server runs as UID $owner, expected $image_uid"
  log "the server is SERVING on $grpc_address as UID $owner"
}

# Runs the image's HEALTHCHECK command against the smoke test's port.
check_healthcheck() {
  step="running the HEALTHCHECK command"
  local command=() argument output
  for argument in "${image_healthcheck[@]}"; do
    command+=("${argument//$default_address/$grpc_address}")
  done
  output=$(run_in_image "${command[@]}") || fail "HEALTHCHECK ${command[*]} failed: $output"
  log "HEALTHCHECK ${command[*]}: $output"
}

# Generates 8 tokens with the image's textgen-client.
check_generate() {
  step="calling Generate"
  local text summary
  text=$(run_in_image textgen-client --addr "$grpc_address" --max-new-tokens 8 --timeout 60 \
    "Once upon a time" 2>"$work/generate.err") || {
    cat "$work/generate.err" >&2
    fail "textgen-client Generate failed"
  }
  summary=$(cat "$work/generate.err")
  log "Generate text: Once upon a time$text"
  log "Generate summary: $summary"
  generated_tokens=$(sed -n 's/.*generated_tokens=\([0-9]*\).*/\1/p' <<<"$summary")
  if [ -z "$generated_tokens" ] || [ "$generated_tokens" -lt 1 ] ||
    [ "$generated_tokens" -gt 8 ]; then
    fail "Generate reported generated_tokens='$generated_tokens', expected 1 to 8"
  fi
}

# Reads the metrics endpoint and checks that it counted the generated tokens.
check_metrics() {
  if [ -z "$metrics_address" ]; then
    return
  fi
  step="reading the metrics"
  "$python" - "http://$metrics_address/metrics" "$generated_tokens" <<'PYTHON'
import sys
import urllib.request

url, generated_tokens = sys.argv[1], int(sys.argv[2])
# An empty ProxyHandler keeps any http_proxy setting from routing loopback.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(url, timeout=10) as response:
    body = response.read().decode()
name = "textgen_generated_tokens_total"
samples = [line for line in body.splitlines()
           if line.startswith(name + " ") or line.startswith(name + "{")]
if not samples:
    sys.exit(f"docker-check: {url} has no {name} sample")
total = sum(float(line.rsplit(" ", 1)[1]) for line in samples)
if total < generated_tokens:
    sys.exit(f"docker-check: {name} is {total:g}, expected at least {generated_tokens}")
print(f"docker-check: {url} serves {len(body.splitlines())} lines, {name} {total:g}")
PYTHON
}

stop_server() {
  step="stopping the server"
  kill -TERM "$server_pid"
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$server_pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$work/server.log" >&2
      fail "the server still runs $stop_timeout s after SIGTERM"
    fi
    sleep 0.2
  done
  local status=0
  wait "$server_pid" || status=$?
  server_pid=""
  log "server log:"
  sed 's/^/  /' "$work/server.log"
  [ "$status" -eq 0 ] || fail "the server exited with status $status after SIGTERM, expected 0"
  log "the server exited 0 after SIGTERM"
}

main() {
  if [ "$(id -u)" -ne 0 ]; then
    fail "run as root: chroot and mount need it"
  fi
  work=$(mktemp -d /var/tmp/textgen-docker-check.XXXXXX)
  install_tools
  make_base_image
  build_image "$@"
  inspect_image
  export_image
  check_libraries
  compose_server_args
  start_server
  check_healthcheck
  check_generate
  check_metrics
  stop_server
  step="finishing"
  log "PASS"
}

main "$@"
