package io.cqlnio.e2e;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Turns the result maps of {@link E2eRun} into the markdown of {@code docs/BENCHMARKS.md} (medians over the
 * repetitions, then ratios and issue 14's targets) and into JSON (every run, unaggregated). Stateless.
 */
final class Report {

    /** A node whose CPU use in the window is at least this share of one CPU is taken as the bottleneck. */
    static final double NODE_BOUND = 0.85;

    private static final String NIO = "cql-nio";
    private static final String NETTY = "cql-netty";
    private static final String DRIVER = "java-driver";

    private Report() {
    }

    /** The median of {@code field} over the runs matching {@code which}, or NaN when none does. */
    static double median(List<Map<String, String>> runs, Predicate<Map<String, String>> which, String field) {
        double[] v = runs.stream().filter(which).mapToDouble(r -> Double.parseDouble(r.get(field))).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static String markdown(List<Map<String, String>> all) {
        List<Map<String, String>> runs = all.stream().filter(r -> !r.containsKey("invalid")).toList();
        StringBuilder b = new StringBuilder();
        if (runs.size() < all.size()) {
            b.append("\n").append(all.size() - runs.size()).append(" invalid results left out (see the JSON)\n");
        }
        for (String placement : distinct(runs, "placement")) {
            List<Map<String, String>> in = runs.stream().filter(r -> r.get("placement").equals(placement)).toList();
            b.append("\n#### ").append(placement).append(placement.equals("pinned")
                    ? " (client JVM on CPU 0, node on CPU 1)" : " (both on both CPUs)").append(", median of ")
                    .append(distinct(in, "rep").size()).append(" repetitions, load average ")
                    .append(range(in, "load1")).append("\n\n");
            b.append("| cell | in flight | client | req/s | p50 µs | p99 µs | p99.9 µs | p99.9 µs CO-corrected "
                    + "| client CPU µs/req | client alloc B/req | node CPU µs/req | node CPU busy |\n");
            b.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (List<String> cell : cells(in)) {
                for (String client : distinct(in, "client")) {
                    Predicate<Map<String, String>> p = match(cell, client);
                    if (in.stream().noneMatch(p)) {
                        continue;
                    }
                    b.append("| ").append(cell.get(0)).append(' ').append(cell.get(1)).append(" | ").append(cell.get(2))
                            .append(" | ").append(client)
                            .append(" | ").append(num(median(in, p, "rps"), 0))
                            .append(" | ").append(num(median(in, p, "p50Us"), 0))
                            .append(" | ").append(num(median(in, p, "p99Us"), 0))
                            .append(" | ").append(num(median(in, p, "p999Us"), 0))
                            .append(" | ").append(num(median(in, p, "p999CorrectedUs"), 0))
                            .append(" | ").append(num(median(in, p, "cpuUsPerReq"), 1))
                            .append(" | ").append(num(median(in, p, "allocBytesPerReq"), 0))
                            .append(" | ").append(num(median(in, p, "nodeCpuUsPerReq"), 1))
                            .append(" | ").append(num(100 * median(in, p, "nodeCpuUtil"), 0)).append(" % |\n");
                }
            }
            b.append("\nRatios of the medians (cql-nio over the other; below 1 is better for CPU and latency, above 1 "
                    + "for req/s):\n\n");
            b.append("| cell | in flight | req/s vs driver | CPU/req vs driver | p50 vs driver | p99 vs driver "
                    + "| req/s vs netty | CPU/req vs netty | p50 vs netty | node bound? |\n");
            b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
            for (List<String> cell : cells(in)) {
                b.append("| ").append(cell.get(0)).append(' ').append(cell.get(1)).append(" | ").append(cell.get(2))
                        .append(" | ").append(ratio(in, cell, DRIVER, "rps"))
                        .append(" | ").append(ratio(in, cell, DRIVER, "cpuUsPerReq"))
                        .append(" | ").append(ratio(in, cell, DRIVER, "p50Us"))
                        .append(" | ").append(ratio(in, cell, DRIVER, "p99Us"))
                        .append(" | ").append(ratio(in, cell, NETTY, "rps"))
                        .append(" | ").append(ratio(in, cell, NETTY, "cpuUsPerReq"))
                        .append(" | ").append(ratio(in, cell, NETTY, "p50Us"))
                        .append(" | ").append(nodeBound(in, cell, placement)).append(" |\n");
            }
            b.append(targets(in, placement));
        }
        return b.toString();
    }

    /** Issue 14's targets against this placement's medians, each ratio with met or missed. */
    private static String targets(List<Map<String, String>> in, String placement) {
        StringBuilder b = new StringBuilder("\nTargets (cql-nio / java-driver, " + placement + "):\n\n");
        List<List<String>> cells = cells(in);
        b.append("- client CPU/req <= 0.5 at 128 in flight (W1, W2): ")
                .append(check(in, cells, c -> c.get(2).equals("128") && !c.get(0).equals("W3"), "cpuUsPerReq", 0.5, true))
                .append('\n');
        b.append("- client CPU/req <= 0.7 at 1 in flight: ")
                .append(check(in, cells, c -> c.get(2).equals("1"), "cpuUsPerReq", 0.7, true)).append('\n');
        b.append("- req/s >= 1.0 everywhere: ").append(check(in, cells, c -> true, "rps", 1.0, false)).append('\n');
        b.append("- req/s >= 1.2 at 128 in flight where the node is not the bottleneck: ")
                .append(check(in, cells, c -> c.get(2).equals("128") && nodeBound(in, c, placement).equals("no"),
                        "rps", 1.2, false)).append('\n');
        b.append("- p50 <= 0.9 at 1 in flight: ").append(check(in, cells, c -> c.get(2).equals("1"), "p50Us", 0.9, true))
                .append('\n');
        b.append("- p99 <= 1.0 at 1 in flight: ").append(check(in, cells, c -> c.get(2).equals("1"), "p99Us", 1.0, true))
                .append('\n');
        return b.toString();
    }

    private static String check(List<Map<String, String>> in, List<List<String>> cells, Predicate<List<String>> which,
                                String field, double bound, boolean atMost) {
        List<String> parts = new ArrayList<>();
        int met = 0;
        int all = 0;
        for (List<String> c : cells) {
            if (!which.test(c)) {
                continue;
            }
            double r = ratioValue(in, c, DRIVER, field);
            if (Double.isNaN(r)) {
                continue;
            }
            boolean ok = atMost ? r <= bound : r >= bound;
            all++;
            met += ok ? 1 : 0;
            parts.add(c.get(0) + " " + c.get(1) + " x" + c.get(2) + " " + num(r, 2) + (ok ? " met" : " **missed**"));
        }
        return all == 0 ? "no cell" : met + " of " + all + " met (" + String.join(", ", parts) + ")";
    }

    private static String nodeBound(List<Map<String, String>> in, List<String> cell, String placement) {
        // Pinned, the node has one CPU; unpinned it shares two with the client.
        double limit = placement.equals("pinned") ? NODE_BOUND : 2 * NODE_BOUND;
        double busiest = 0;
        for (String client : distinct(in, "client")) {
            double u = median(in, match(cell, client), "nodeCpuUtil");
            if (!Double.isNaN(u)) {
                busiest = Math.max(busiest, u);
            }
        }
        return busiest >= limit ? "yes (" + num(100 * busiest, 0) + " %)" : "no";
    }

    private static String ratio(List<Map<String, String>> in, List<String> cell, String other, String field) {
        double r = ratioValue(in, cell, other, field);
        return Double.isNaN(r) ? "–" : num(r, 2);
    }

    private static double ratioValue(List<Map<String, String>> in, List<String> cell, String other, String field) {
        return median(in, match(cell, NIO), field) / median(in, match(cell, other), field);
    }

    private static Predicate<Map<String, String>> match(List<String> cell, String client) {
        return r -> r.get("workload").equals(cell.get(0)) && r.get("variant").equals(cell.get(1))
                && r.get("inFlight").equals(cell.get(2)) && r.get("client").equals(client);
    }

    /** (workload, variant, inFlight) in the order first run. */
    private static List<List<String>> cells(List<Map<String, String>> in) {
        return in.stream().map(r -> List.of(r.get("workload"), r.get("variant"), r.get("inFlight"))).distinct()
                .toList();
    }

    private static List<String> distinct(List<Map<String, String>> in, String field) {
        return in.stream().map(r -> r.get(field)).distinct().toList();
    }

    private static String range(List<Map<String, String>> in, String field) {
        double lo = in.stream().mapToDouble(r -> Double.parseDouble(r.get(field))).min().orElse(Double.NaN);
        double hi = in.stream().mapToDouble(r -> Double.parseDouble(r.get(field))).max().orElse(Double.NaN);
        return num(lo, 2) + "–" + num(hi, 2);
    }

    private static String num(double v, int decimals) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%,." + decimals + "f", v);
    }

    /** {@code {"about": {...}, "runs": [{...}, ...]}}; numbers unquoted, everything else a JSON string. */
    static String json(Map<String, String> about, List<Map<String, String>> runs) {
        return "{\n  \"about\": " + object(about) + ",\n  \"runs\": [\n    "
                + runs.stream().map(Report::object).collect(Collectors.joining(",\n    ")) + "\n  ]\n}\n";
    }

    private static String object(Map<String, String> m) {
        Map<String, String> fields = new LinkedHashMap<>(m);
        return fields.entrySet().stream().map(e -> quote(e.getKey()) + ": " + value(e.getValue()))
                .collect(Collectors.joining(", ", "{", "}"));
    }

    private static String value(String v) {
        return v.matches("-?\\d+(\\.\\d+)?") ? v : v.equals("true") || v.equals("false") ? v : quote(v);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
