#!/usr/bin/env bash
# Proves the kit's fault tests can fail. For each control below: copies the committed (HEAD) transport-core and
# transport-tests into a temporary directory, applies docs/controls/<patch> to that copy of core, compiles it
# with javac, and runs the named kit tests against it (nio only; the patched classes replace the installed
# transport-core jar on the test class path). Every control must FAIL; a baseline run of the same tests against
# the unpatched copy must PASS first, so a failure is the patch's doing. Touches neither the work tree nor its
# target/. Quiet (-q) runs print nothing while tests pass, so expect several silent minutes.
#
# Usage: scripts/kit-controls.sh [patch-name ...]    (default: all below; needs ~/.m2 to hold transport-core
#        and transport-bench, and transport-core's test-jar, as after the lead's install)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# patch -> kit tests that must fail with it (surefire -Dtest syntax; parameterised tests match by method prefix)
declare -A controls=(
  [ignore-write-count.patch]='TransportKitTest#concurrentProducers*,FaultProxyTest#orderAndAccounting*,ShortWriteStormTest'
  [kit-no-max-frame-length.patch]='TransportKitTest#aDeclaredLengthAboveMaxFrameLength*,BadInputFuzzTest#randomBytes*'
  [kit-carry-from-declared-length.patch]='BadInputFuzzTest#anEndlessTrickle*'
  [kit-split-drops-a-byte.patch]='TransportKitTest#inboundFramesSplitAnywhere*,TransportKitTest#framesLargerThanTheReadBuffer*,FaultProxyTest#inboundStreamEndsMidFrame*'
  [kit-lost-wakeup.patch]='LoopLivenessTest#aSleepingLoopWokenBy64*'
  [kit-close-forgets-staged.patch]='ManyConnectionsTest,TransportKitTest#abortFails*,TransportKitTest#peerResetFails*,FaultProxyTest#resetAtAByteOffset*'
  [kit-swallow-handler-error.patch]='LoopLivenessTest#handlersThatThrow*,TransportKitTest#aThrowingHandler*'
  [kit-one-loop-for-all.patch]='LoopLivenessTest#aBlockingHandlerStallsItsOwnLoopOnly*'
)
order=(ignore-write-count.patch kit-no-max-frame-length.patch kit-carry-from-declared-length.patch
       kit-split-drops-a-byte.patch kit-lost-wakeup.patch kit-close-forgets-staged.patch
       kit-swallow-handler-error.patch kit-one-loop-for-all.patch)
if [ $# -gt 0 ]; then order=("$@"); fi

work=$(mktemp -d /tmp/kit-controls.XXXXXX)
trap 'rm -rf "$work"' EXIT
git archive HEAD pom.xml transport-core transport-tests | tar x -C "$work"
mvn -B -q -o -f "$work/transport-core/pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/core.cp" >/dev/null

# Compiles $work/core (patched or not) into $work/classes-<name>.
build_core() {
  local name=$1 src=$2 out="$work/classes-$1"
  rm -rf "$out" && mkdir -p "$out"
  javac -nowarn -d "$out" -cp "$(cat "$work/core.cp")" $(find "$src/src/main/java" -name '*.java' ! -name module-info.java) >"$work/javac-$name.log" 2>&1
  cp -r "$src/src/main/resources/." "$out/"
  echo "$out"
}

# Runs the kit tests $2 against core classes $1; returns surefire's status.
run_kit() {
  mvn -B -q -o -f "$work/transport-tests/pom.xml" test -Dtest="$2" -Dsurefire.failIfNoSpecifiedTests=false \
      -Dcqlnio.kit.transports=nio -Dcqlnio.storm.transports=nio -Dcqlnio.storm.frames=160000 -Dcqlnio.many.connections=300 \
      -Dmaven.test.dependency.excludes=io.cqlnio:transport-core:jar -Dmaven.test.additionalClasspath="$1" \
      >"$3" 2>&1
}

# Baseline: the same tests against the unpatched copy must pass, so each control's failure is its patch's doing.
rm -rf "$work/core" && cp -r "$work/transport-core" "$work/core"
clean=$(build_core clean "$work/core")
all=$(for patch in "${order[@]}"; do echo "${controls[$patch]:?unknown control $patch}"; done | paste -sd, -)
if ! run_kit "$clean" "$all" "$work/baseline.log"; then
  echo "BASELINE FAILED: the tests fail without any patch:"
  grep -E '^\[ERROR\]   [A-Za-z]+Test\.' "$work/baseline.log" | sort -u | cut -c1-240
  exit 1
fi
echo "baseline: the same tests pass against the unpatched core"

status=0
for patch in "${order[@]}"; do
  tests=${controls[$patch]}
  rm -rf "$work/core" && cp -r "$work/transport-core" "$work/core"
  if ! (cd "$work/core" && git apply -p2 "$root/docs/controls/$patch"); then
    echo "STALE CONTROL: $patch no longer applies to HEAD's transport-core; regenerate it"
    status=1
    continue
  fi
  broken=$(build_core "${patch%.patch}" "$work/core")
  if run_kit "$broken" "$tests" "$work/control.log"; then
    echo "CONTROL FAILED: $tests passed against $patch"
    status=1
  else
    echo "ok: $patch -> $(grep -E 'Tests run:.*Fail' "$work/control.log" | tail -1 | sed 's/\[ERROR\] //')"
    grep -E '^\[ERROR\]   [A-Za-z]+Test\.' "$work/control.log" | sort -u | cut -c1-220 | sed 's/^/      /'
  fi
done
exit $status
