#!/usr/bin/env bash
# The second JDK pass of .ci/run: transport-core's tests and the compatibility kit's (io.cqlnio.kit: unit and
# real-socket tests, against nio; no Cassandra) again, on the newest JDK of this machine, after `mvn -B verify` built
# and tested everything on JDK 17. The bytecode stays Java 17 (Maven and javac still run on 17): only the JVM that
# surefire forks for the tests changes (its `jvm` parameter; the newest-jdk profile of the poms picks the tests).
#
# Which JDK: scripts/newest-jdk.sh ($CQLNIO_NEWEST_JDK, a JDK home or its bin/java, else the highest feature release
# >= 21 under /usr/lib/jvm: Temurin 25 on this project's machines). None: one line saying so, and exit 0. Extra
# arguments go to Maven, e.g. -Dcqlnio.kit.transports= runs the kit against every implementation (Netty's too),
# about 2 minutes more.
#   scripts/newest-jdk-tests.sh
#   CQLNIO_NEWEST_JDK=/opt/jdk-26 scripts/newest-jdk-tests.sh -o
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
java=$(scripts/newest-jdk.sh) || status=$?
if [ "$status" = 1 ]; then
  echo "JDK 25 tests skipped: no JDK >= 21 found under ${CQLNIO_JVM_DIR:-/usr/lib/jvm}; set CQLNIO_NEWEST_JDK"
  exit 0
elif [ "$status" != 0 ]; then
  exit "$status"
fi

version=$("$java" -version 2>&1 | head -n 1)
echo "newest-JDK pass: transport-core and the kit (nio) on $java ($version)"
start=$(date +%s)
mvn -B -Pnewest-jdk -Djvm="$java" -pl transport-tests -am test "$@"
echo "newest-JDK pass: $(( $(date +%s) - start )) s on $version"
