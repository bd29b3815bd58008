package io.cqlnio.soak;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How a soak runs; every value has a default and a command-line option of the same name
 * ({@code --duration 10m --connections 200 ...}).
 *
 * @param transport   the SPI implementation, by provider name
 * @param duration    how long frames flow (the drain and close at the end come on top)
 * @param connections connections kept open; closed ones are replaced at once
 * @param loops       the transport's loop threads
 * @param window      frames outstanding (written, not yet echoed) per connection
 * @param closes      connections closed gracefully each second
 * @param aborts      connections aborted each second
 * @param sampleEvery how often the metrics are sampled
 * @param warmup      the share of the run before the first sample the growth check uses
 * @param csv         where the samples go as CSV; {@code null} for nowhere
 * @param seed        seeds the frames and which connections are ended; a run is repeatable in what it writes
 */
record SoakSettings(String transport, Duration duration, int connections, int loops, int window, int closes,
                    int aborts, Duration sampleEvery, double warmup, Path csv, long seed) {

    static SoakSettings defaults() {
        return parse();
    }

    /** Reads {@code --name value} pairs over the defaults; durations as {@code 90s}, {@code 10m} or ISO-8601. */
    static SoakSettings parse(String... args) {
        Map<String, String> v = new HashMap<>(Map.of("transport", "nio", "duration", "10m", "connections", "200",
                "loops", "2", "window", "4", "closes", "3", "aborts", "3", "sample", "5s", "warmup", "0.2",
                "seed", "16"));
        for (int i = 0; i < args.length; i += 2) {
            String name = args[i].startsWith("--") ? args[i].substring(2) : "";
            if ((!v.containsKey(name) && !name.equals("csv")) || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs with names " + v.keySet()
                        + " or csv, got " + String.join(" ", args));
            }
            v.put(name, args[i + 1]);
        }
        SoakSettings s = new SoakSettings(v.get("transport"), duration(v.get("duration")),
                Integer.parseInt(v.get("connections")), Integer.parseInt(v.get("loops")),
                Integer.parseInt(v.get("window")), Integer.parseInt(v.get("closes")), Integer.parseInt(v.get("aborts")),
                duration(v.get("sample")), Double.parseDouble(v.get("warmup")),
                v.containsKey("csv") ? Path.of(v.get("csv")) : null, Long.parseLong(v.get("seed")));
        s.check();
        return s;
    }

    private void check() {
        if (connections < 1 || window < 1 || loops < 1 || closes < 0 || aborts < 0 || closes + aborts > connections
                || warmup < 0 || warmup >= 1 || sampleEvery.isZero() || sampleEvery.isNegative()
                || duration.compareTo(sampleEvery.multipliedBy(6)) < 0) {
            throw new IllegalArgumentException("settings out of range (need 6 samples or more, closes + aborts <= "
                    + "connections, 0 <= warmup < 1): " + this);
        }
    }

    static Duration duration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        if (t.endsWith("s")) {
            return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        if (t.endsWith("m")) {
            return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        return Duration.parse(text);
    }
}
