#!/usr/bin/env bash
# Checks the files of deploy/ without a cluster or a container engine:
#   1. promtool checks prometheus.yml and alerts.yml, and runs the alert unit
#      tests of alerts_test.yml;
#   2. tests/deploy/check_deploy.py checks that the manifests, the compose
#      file and the dashboard agree with each other and with textgen-server's
#      ports, flags and metric names (server/metric_names.h);
#   3. the unit tests of that checker run.
# ctest runs this script as the test deploy_check. It needs promtool (Debian
# package prometheus) and python3-yaml: `scripts/install-deps.sh test`.
set -uo pipefail
cd "$(dirname "$0")/.."

python=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
promtool="${PROMTOOL:-promtool}"

if ! command -v "$promtool" >/dev/null; then
  echo "deploy/check.sh: $promtool not found; install it with: scripts/install-deps.sh test" >&2
  exit 1
fi
if ! "$python" -c 'import yaml' 2>/dev/null; then
  echo "deploy/check.sh: $python cannot import yaml; install it with: scripts/install-deps.sh test" >&2
  exit 1
fi

passed=0
failed=0
run_step() {
  local name="$1"
  shift
  echo "== $name: $*"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "== FAILED: $name"
    failed=$((failed + 1))
  fi
}

run_step "scrape configuration" "$promtool" check config deploy/prometheus/prometheus.yml
run_step "alert rules" "$promtool" check rules deploy/prometheus/alerts.yml
run_step "alert unit tests" "$promtool" test rules deploy/prometheus/alerts_test.yml
run_step "deploy files" "$python" tests/deploy/check_deploy.py --promtool "$promtool"
run_step "checker unit tests" "$python" -m unittest discover --start-directory tests/deploy --pattern '*_test.py'

echo "deploy/check.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
