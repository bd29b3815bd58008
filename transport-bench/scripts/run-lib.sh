# Sourced by compare.sh and tls.sh, which set $jar, $out and the array $common first.
# run NAME PIN [CompareRunner options...]: one CompareRunner invocation, pinned to vCPU PIN with taskset
# (or "-" for unpinned); markdown and JSON to $out/NAME.{md,json}, output to $out/NAME.log, and the load
# average before and after to $out/conditions.txt.
log_conditions() { { echo "# $1: $(date -u +%FT%TZ)"; uptime; } >> "$out/conditions.txt"; }
run() {
    local name=$1 pin=$2; shift 2
    log_conditions "$name start"
    if [ "$pin" = "-" ]; then
        java -cp "$jar" io.cqlnio.bench.CompareRunner "${common[@]}" --json "$out/$name.json" --md "$out/$name.md" "$@"
    else
        taskset -c "$pin" java -cp "$jar" io.cqlnio.bench.CompareRunner "${common[@]}" --json "$out/$name.json" \
            --md "$out/$name.md" "$@"
    fi > "$out/$name.log" 2>&1
    log_conditions "$name end"
}
