package io.cqlnio.e2e;

import java.util.Map;

/**
 * One measured cell for one client: a workload, a variant, a fixed number of requests in flight, a warm-up and a
 * measured window. Travels to the client JVM as one line ({@link #toLine()}).
 */
record Cell(Workload workload, Variant variant, int inFlight, long warmupMs, long measureMs) {

    Cell {
        if (inFlight < 1 || inFlight > 1024) {
            throw new IllegalArgumentException("inFlight = " + inFlight + " must be 1..1024");
        }
        if (warmupMs < 0 || measureMs < 1) {
            throw new IllegalArgumentException("warmupMs = " + warmupMs + ", measureMs = " + measureMs);
        }
    }

    String toLine() {
        return ResultLine.format(Map.of("workload", workload.name(), "variant", variant.label,
                "inFlight", Integer.toString(inFlight), "warmupMs", Long.toString(warmupMs),
                "measureMs", Long.toString(measureMs)));
    }

    static Cell parse(String line) {
        Map<String, String> m = ResultLine.parse(line);
        return new Cell(Workload.valueOf(m.get("workload")), Variant.of(m.get("variant")),
                Integer.parseInt(m.get("inFlight")), Long.parseLong(m.get("warmupMs")),
                Long.parseLong(m.get("measureMs")));
    }

    /** {@code W1 v4 x16}. */
    String label() {
        return workload + " " + variant.label + " x" + inFlight;
    }
}
