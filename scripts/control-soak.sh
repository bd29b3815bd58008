#!/usr/bin/env bash
# Proves the soak's growth criterion can fail within the CI run's minute. For each control below: applies
# docs/controls/<patch> to the work tree's transport-core, runs the soak exactly as SoakIT does (60 s, a sample every
# 2 s, through scripts/soak.sh), expects it to FAIL on the metric named, and restores the source whatever happens.
#   soak-socket-per-connect.patch        Connector opens a second socket per connect and never closes it
#                                        (expect: open fds)
#   soak-retain-closed-connections.patch EventLoop keeps every connection it deregisters, as a registry that
#                                        never forgets (expect: heap after GC)
# Usage: scripts/control-soak.sh [patch-name ...]   (default: both; about 90 s each)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A expect=(
  [soak-socket-per-connect.patch]='open fds grew'
  [soak-retain-closed-connections.patch]='heap after GC MiB grew'
)
order=(soak-socket-per-connect.patch soak-retain-closed-connections.patch)
if [ $# -gt 0 ]; then order=("$@"); fi

status=0
for name in "${order[@]}"; do
  patch=docs/controls/$name
  git apply "$patch"
  trap 'git apply -R "$patch"' EXIT
  log="target-control-soak-${name%.patch}.log"
  if scripts/soak.sh --duration 60s --sample 2s > "$log" 2>&1; then
    echo "CONTROL FAILED: the soak passed against $name"
    status=1
  elif grep -q "^soak: FAIL .*${expect[$name]}" "$log"; then
    echo "ok: the soak fails against $name: $(grep -m1 '^soak: FAIL' "$log" | cut -c1-240)"
    grep -E '^soak:   (heap after GC MiB|open fds) .*growth' "$log" || true
    rm -f "$log"
  else
    echo "CONTROL FAILED: the soak failed against $name, but not on '${expect[$name]}': $(tail -1 "$log" | cut -c1-240)"
    status=1
  fi
  git apply -R "$patch"
  trap - EXIT
done
exit $status
