package io.cqlnio.bench;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.util.Collection;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keeps the benchmarks from rotting: runs every benchmark once, in-process (forks 0), for a fraction of a
 * second per transport through the same code path as {@link CompareRunner}, and checks frames really
 * made the round trip and the report has its columns. Not a performance test: the numbers are ignored.
 */
class BenchmarkSmokeTest {

    /** A benchmark run by hand on the same machine holds JMH's /tmp/jmh.lock; the smoke must not depend on it. */
    @BeforeAll
    static void ignoreJmhLock() {
        System.setProperty("jmh.ignoreLock", "true");
    }

    @Test
    @Timeout(120)
    void timerBenchmarkRunsForEveryTransport() throws Exception {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(TimerBenchmark.class.getSimpleName())
                .param("outstanding", "1000")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(200))
                .build()).run();
        assertEquals(2, results.size(), "nio and netty-nio");
        for (RunResult r : results) {
            assertTrue(r.getPrimaryResult().getScore() > 0, r.getParams().getParam("transport"));
        }
    }

    @Test
    @Timeout(120)
    void everyBenchmarkRunsBrieflyForEveryTransportAndTheReportRenders() throws Exception {
        CompareRunner.Settings s = new CompareRunner.Settings();
        s.sizes = List.of("1024");
        s.windows = List.of("16");
        s.connections = List.of("1");
        s.forks = 0;
        s.warmupIterations = 0;
        s.iterations = 1;
        s.iterationTime = TimeValue.milliseconds(200);
        s.latency = true;
        s.oneWay = true;
        s.tls = List.of("false", "true");
        Path dir = Files.createDirectories(Path.of("target", "smoke"));
        s.json = dir.resolve("smoke.json");

        CompareRunner.Report report = CompareRunner.run(s);
        System.out.println(report.markdown());

        // Plaintext: throughput, one-way, latency for every transport; TLS: throughput and latency, SPI ones only.
        int spi = s.transports.contains(Harness.BLOCKING) ? s.transports.size() - 1 : s.transports.size();
        assertEquals(s.transports.size() * 3 + spi * 2, report.results().size(),
                "one result per transport, benchmark and tls setting");
        for (RunResult r : report.results()) {
            String what = r.getParams().getBenchmark() + " " + r.getParams().getParam("transport");
            assertTrue(CompareRunner.frames(r) > 0, what + " moved no frame");
        }
        for (String transport : s.transports) {
            assertTrue(report.markdown().contains(transport + " frames/s"), report.markdown());
        }
        assertTrue(report.markdown().contains("nio/netty-nio"), report.markdown());
        assertTrue(Files.size(dir.resolve("smoke-throughput.json")) > 0);
        assertTrue(Files.size(dir.resolve("smoke-throughput-tls.json")) > 0);
        assertTrue(report.markdown().contains("| 1024 | 16 | 1 | on |"), report.markdown());
    }
}
