#!/usr/bin/env bash
# The soak by hand (issue 16): builds transport-core and transport-tests (compile only, nothing installed), then
# runs io.cqlnio.soak.SoakMain under nice in a fresh JVM with the options given (see its Javadoc), e.g.
#   scripts/soak.sh --duration 10m --csv transport-tests/results/$(date -u +%Y%m%d-%H%M)-soak/samples.csv
# Exit status: 0 PASS, 1 FAIL (growth or a lost/doubled outcome), anything else: the run did not finish.
set -euo pipefail
cd "$(dirname "$0")/.."
nice mvn -B -q -o -Dstyle.color=never -pl transport-tests -am compile
exec nice java ${SOAK_JVM_ARGS:--Xmx512m} \
  -cp "transport-tests/target/classes:$(cat transport-tests/target/soak.classpath)" io.cqlnio.soak.SoakMain "$@"
