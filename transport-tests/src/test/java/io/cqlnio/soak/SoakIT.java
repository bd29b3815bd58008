package io.cqlnio.soak;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The soak in a minute ({@code mvn verify}): {@link SoakMain} with its defaults (200 connections on 2 loops, 3
 * closes and 3 aborts a second, mixed frames from 64 B to 256 KiB) for 60 s, sampling every 2 s, in a JVM of its
 * own: the failsafe JVM has run other tests before this one, and their leftovers would be measured too. The peer is
 * a third JVM. The samples go to {@code target/soak/soak-ci.csv}, the output to this test's report.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class SoakIT {

    @Test
    void nothingGrowsAndNothingIsLostOverAMinute() throws Exception {
        Path classes = Path.of(SoakMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String classPath = classes + java.io.File.pathSeparator
                + Files.readString(Path.of(System.getProperty("cqlnio.soak.classpath"))).trim();
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-cp", classPath, SoakMain.class.getName(),
                "--duration", System.getProperty("cqlnio.soak.duration", "60s"), "--sample", "2s",
                "--csv", Path.of("target", "soak", "soak-ci.csv").toString());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                System.out.println(line);
                lines.add(line);
            }
        } finally {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
        String summary = String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        assertTrue(!lines.isEmpty() && lines.get(lines.size() - 1).equals("soak: PASS"), summary);
        assertEquals(0, process.exitValue(), summary);
    }
}
