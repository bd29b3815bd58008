package io.cqlnio.e2e;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReportTest {

    private static Map<String, String> run(String client, int rep, double rps, double cpu) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("rep", Integer.toString(rep));
        m.put("placement", "pinned");
        m.put("client", client);
        m.put("workload", "W1");
        m.put("variant", "v4");
        m.put("inFlight", "128");
        m.put("rps", Double.toString(rps));
        for (String f : List.of("p50Us", "p99Us", "p999Us", "p999CorrectedUs", "allocBytesPerReq", "nodeCpuUsPerReq")) {
            m.put(f, "100");
        }
        m.put("cpuUsPerReq", Double.toString(cpu));
        m.put("nodeCpuUtil", "0.5");
        m.put("load1", "1.5");
        return m;
    }

    @Test
    void ratiosAreOfTheMediansAndTargetsSayMetOrMissed() {
        List<Map<String, String>> runs = new ArrayList<>();
        double[] nio = {3000, 1000, 2000};   // median 2000
        double[] driver = {1000, 100, 5000};  // median 1000
        for (int rep = 0; rep < 3; rep++) {
            runs.add(run("cql-nio", rep, nio[rep], 10));
            runs.add(run("java-driver", rep, driver[rep], 40));
        }
        assertEquals(2000, Report.median(runs, r -> r.get("client").equals("cql-nio"), "rps"));
        String md = Report.markdown(runs);
        assertTrue(md.contains("| W1 v4 | 128 | 2.00 | 0.25 |"), md);
        assertTrue(md.contains("client CPU/req <= 0.5 at 128 in flight (W1, W2): 1 of 1 met (W1 v4 x128 0.25 met)"), md);
        assertTrue(md.contains("req/s >= 1.2 at 128 in flight where the node is not the bottleneck: 1 of 1 met"), md);
    }

    @Test
    void jsonQuotesStringsAndLeavesNumbersBare() {
        String json = Report.json(Map.of("note", "a \"b\""), List.of(run("cql-nio", 1, 5, 6)));
        assertTrue(json.contains("\"note\": \"a \\\"b\\\"\""), json);
        assertTrue(json.contains("\"rps\": 5.0"), json);
        assertTrue(json.contains("\"client\": \"cql-nio\""), json);
    }
}
