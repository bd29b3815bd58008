#!/usr/bin/env bash
# Proves the write-path tests can fail. For each control below: applies docs/controls/<patch> to the work
# tree's transport-core, runs the named tests, expects every one of them to fail, and restores the source
# whatever happens.
#   ignore-write-count.patch            FrameWriter retires what it offered, not what write() returned
#                                       (the origin-story bug)
#   tls-drop-ciphertext-remainder.patch TlsChannel treats the ciphertext it offered as written (the same bug,
#                                       one layer down)
#   tls-ack-on-wrap.patch               TlsChannel counts plaintext as written once encrypted, before the
#                                       kernel has its ciphertext
#   tls-ack-per-batch.patch             TlsChannel acknowledges a batch of records only when all of it is
#                                       written (frames the peer has are failed if the connection dies)
#   tls-no-close-notify.patch           a graceful close over TLS ends the stream without close_notify
#   two-writers-at-once.patch           a caller never waits for the writer's claim, so two threads may write
#                                       through at once
#   close-without-drain.patch           close() closes the socket as soon as the last frame is with the kernel
#                                       (the old close path: unread input makes it a reset)
#   drain-keeps-unread.patch            the drain's end (deadline, transport close) closes on unread input instead
#                                       of dropping it first
# Usage: scripts/control-ignore-write-count.sh [patch-name ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A controls=(
  [ignore-write-count.patch]='FrameWriterShortWriteTest FrameWriterConcurrencyTest RealSocketShortWriteTest WriteThroughTest#aShortWriteThrough*'
  [tls-drop-ciphertext-remainder.patch]='TlsWritePathTest#shortCiphertext* RealSocketShortWriteTest'
  [tls-ack-on-wrap.patch]='TlsWritePathTest#shortCiphertext*'
  [tls-ack-per-batch.patch]='TlsWritePathTest#shortCiphertext*'
  [tls-no-close-notify.patch]='ConnectionLifecycleTest#graceful*'
  [two-writers-at-once.patch]='WriteThroughTest#producersAndTheLoopNeverWriteAtOnce'
  [close-without-drain.patch]='GracefulCloseTest#framesReportedWritten* GracefulCloseTest#aDeadlineThatPasses* GracefulCloseTest#repliesArrivingAfterTheFin* GracefulCloseTest#repliesArrivingAfterCloseNotify*'
  [drain-keeps-unread.patch]='GracefulCloseTest#aDeadlineThatPasses* GracefulCloseTest#aTransportClosedDuringTheDrain*'
)
order=(ignore-write-count.patch tls-drop-ciphertext-remainder.patch tls-ack-on-wrap.patch tls-ack-per-batch.patch
       tls-no-close-notify.patch two-writers-at-once.patch close-without-drain.patch drain-keeps-unread.patch)
if [ $# -gt 0 ]; then order=("$@"); fi

status=0
for name in "${order[@]}"; do
  patch=docs/controls/$name
  git apply "$patch"
  trap 'git apply -R "$patch"' EXIT
  for test in ${controls[$name]}; do
    log="target-control-${test%%#*}.log"
    if mvn -B -q -o -pl transport-core test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
         > "$log" 2>&1; then
      echo "CONTROL FAILED: $test passed against $name"
      status=1
    else
      echo "ok: $test fails against $name: $(grep -m1 -E 'AssertionFailed|AssertionError|Exception:' "$log" | cut -c1-200)"
    fi
    rm -f "$log"
  done
  git apply -R "$patch"
  trap - EXIT
done
exit $status
