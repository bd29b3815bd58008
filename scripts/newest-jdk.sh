#!/usr/bin/env bash
# Prints the java executable of the newest JDK on this machine, for the second JDK of the tests and benchmarks:
# $CQLNIO_NEWEST_JDK (a JDK home or its bin/java) when set, else the highest feature release >= 21 under
# /usr/lib/jvm ($CQLNIO_JVM_DIR), read from each JDK's `release` file (symlinked aliases skipped).
# Exit 1 and print nothing when there is none; exit 2 when CQLNIO_NEWEST_JDK names no java.
#   java=$(scripts/newest-jdk.sh) || echo "none"
set -euo pipefail

min_feature=${CQLNIO_MIN_FEATURE:-21}
jvm_dir=${CQLNIO_JVM_DIR:-/usr/lib/jvm}

if [ -n "${CQLNIO_NEWEST_JDK:-}" ]; then
  java=$CQLNIO_NEWEST_JDK
  if [ -d "$java" ]; then java=$java/bin/java; fi
  if [ ! -x "$java" ]; then
    echo "CQLNIO_NEWEST_JDK=$CQLNIO_NEWEST_JDK is neither a JDK home nor a java executable" >&2
    exit 2
  fi
  echo "$java"
  exit 0
fi

best=0
java=
for home in "$jvm_dir"/*; do
  [ -d "$home" ] && [ ! -L "$home" ] && [ -x "$home/bin/java" ] || continue
  feature=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$home/release" 2>/dev/null || true)
  if [ -n "$feature" ] && [ "$feature" -ge "$min_feature" ] && [ "$feature" -gt "$best" ]; then
    best=$feature
    java=$home/bin/java
  fi
done
[ -n "$java" ] || exit 1
echo "$java"
