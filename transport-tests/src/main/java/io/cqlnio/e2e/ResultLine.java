package io.cqlnio.e2e;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one-line {@code key=value key=value} form in which cells go to a client JVM and results come back. Keys and
 * values hold no spaces or '=' (enforced), so no quoting is needed.
 */
final class ResultLine {

    private ResultLine() {
    }

    static String format(Map<String, String> fields) {
        StringBuilder b = new StringBuilder();
        fields.forEach((k, v) -> {
            check(k);
            check(v);
            if (b.length() > 0) {
                b.append(' ');
            }
            b.append(k).append('=').append(v);
        });
        return b.toString();
    }

    static Map<String, String> parse(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String token : line.trim().split(" +")) {
            if (token.isEmpty()) {
                continue;
            }
            int eq = token.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("not key=value: '" + token + "' in '" + line + "'");
            }
            m.put(token.substring(0, eq), token.substring(eq + 1));
        }
        return m;
    }

    private static void check(String s) {
        if (s.isEmpty() || s.indexOf(' ') >= 0 || s.indexOf('=') >= 0 || s.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("'" + s + "' cannot travel in a result line");
        }
    }
}
