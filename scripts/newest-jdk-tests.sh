#!/usr/bin/env bash
# The second JDK pass of .ci/run: transport-core's tests and the compatibility kit's (io.cqlnio.kit: unit and
# real-socket tests, against nio; no Cassandra) again, on the newest JDK of this machine, after `mvn -B verify` built
# and tested everything on JDK 17. The bytecode stays Java 17 (Maven and javac still run on 17): only the JVM that
# surefire forks for the tests changes (its `jvm` parameter; the newest-jdk profile of the poms picks the tests).
#
# Which JDK: $CQLNIO_NEWEST_JDK (a JDK home or its bin/java), else the highest feature release >= 21 under
# /usr/lib/jvm, read from each JDK's `release` file (Temurin 25 on this project's machines). None: one line saying
# so, and exit 0. Extra arguments go to Maven, e.g. -Dcqlnio.kit.transports= runs the kit against every
# implementation (Netty's too), about 2 minutes more.
#   scripts/newest-jdk-tests.sh
#   CQLNIO_NEWEST_JDK=/opt/jdk-26 scripts/newest-jdk-tests.sh -o
set -euo pipefail
cd "$(dirname "$0")/.."

min_feature=21
jvm_dir=${CQLNIO_JVM_DIR:-/usr/lib/jvm}   # where JDKs are looked for (a test of this script points it elsewhere)

# feature release of a JDK home from its release file (JAVA_VERSION="25.0.3" -> 25), or nothing
feature_of() {
  sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}

java=
if [ -n "${CQLNIO_NEWEST_JDK:-}" ]; then
  java=$CQLNIO_NEWEST_JDK
  if [ -d "$java" ]; then java=$java/bin/java; fi
  if [ ! -x "$java" ]; then
    echo "CQLNIO_NEWEST_JDK=$CQLNIO_NEWEST_JDK is neither a JDK home nor a java executable" >&2
    exit 2
  fi
else
  best=0
  for home in "$jvm_dir"/*; do
    [ -d "$home" ] && [ ! -L "$home" ] && [ -x "$home/bin/java" ] || continue   # aliases are symlinks
    feature=$(feature_of "$home")
    if [ -n "$feature" ] && [ "$feature" -ge "$min_feature" ] && [ "$feature" -gt "$best" ]; then
      best=$feature
      java=$home/bin/java
    fi
  done
  if [ -z "$java" ]; then
    echo "JDK 25 tests skipped: no JDK >= $min_feature found under $jvm_dir; set CQLNIO_NEWEST_JDK"
    exit 0
  fi
fi

version=$("$java" -version 2>&1 | head -n 1)
echo "newest-JDK pass: transport-core and the kit (nio) on $java ($version)"
start=$(date +%s)
mvn -B -Pnewest-jdk -Djvm="$java" -pl transport-tests -am test "$@"
echo "newest-JDK pass: $(( $(date +%s) - start )) s on $version"
