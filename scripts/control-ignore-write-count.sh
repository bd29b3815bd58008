#!/usr/bin/env bash
# Proves the write-path tests can fail: applies docs/controls/ignore-write-count.patch (FrameWriter
# retires what it offered instead of what write() returned: the origin-story bug), runs the write-path
# tests, expects every one of them to fail, and restores the source whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
patch=docs/controls/ignore-write-count.patch
git apply "$patch"
trap 'git apply -R "$patch"' EXIT
status=0
for test in FrameWriterShortWriteTest FrameWriterConcurrencyTest RealSocketShortWriteTest; do
  if mvn -B -q -o -pl transport-core test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
       > "target-control-$test.log" 2>&1; then
    echo "CONTROL FAILED: $test passed against the broken write path"
    status=1
  else
    echo "ok: $test fails against the broken write path: $(grep -m1 -E 'AssertionFailed|AssertionError|Exception:' "target-control-$test.log" | cut -c1-200)"
  fi
  rm -f "target-control-$test.log"
done
exit $status
