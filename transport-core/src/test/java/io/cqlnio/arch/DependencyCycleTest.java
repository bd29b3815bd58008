package io.cqlnio.arch;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * No dependency cycle inside transport-core: not between packages, not between top-level classes (a nested class
 * counts as part of its top-level class). The edges are what the compiled classes use, as the JDK's {@code jdeps}
 * reads them from {@code target/classes}, plus every {@code import io.cqlnio...} of the sources (which also
 * catches an import kept only for a constant or a Javadoc link, neither of which reaches the class file).
 * A failure names each cycle: its members and the edges that tie them.
 */
class DependencyCycleTest {

    private static final String ROOT = "io.cqlnio.";
    private static final Pattern JDEPS_EDGE = Pattern.compile("^\\s+(\\S+)\\s+->\\s+(\\S+)\\s+\\S+\\s*$");
    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?(io\\.cqlnio\\.[\\w.]+)\\s*;",
            Pattern.MULTILINE);

    /** Top-level class to the top-level classes of transport-core it depends on. */
    private static final Map<String, Set<String>> CLASSES = new TreeMap<>();

    @BeforeAll
    static void readTheGraph() throws IOException {
        for (String[] edge : jdepsEdges()) {
            addClassEdge(edge[0], edge[1]);
        }
        for (String[] edge : importEdges()) {
            addClassEdge(edge[0], edge[1]);
        }
        assertTrue(CLASSES.containsKey(ROOT + "spi.TransportConfig") && CLASSES.containsKey(ROOT + "nio.EventLoop"),
                "jdeps and the sources gave too small a graph: " + CLASSES.keySet());
    }

    @Test
    void packagesDependOnEachOtherOneWayOnly() {
        Map<String, Set<String>> packages = new TreeMap<>();
        CLASSES.forEach((from, tos) -> tos.forEach(to -> addEdge(packages, packageOf(from), packageOf(to))));
        assertNoCycle("packages", packages, name -> true);
    }

    @Test
    void spiAndFrameClassesFormNoCycle() {
        assertNoCycle("classes", CLASSES, name -> !name.startsWith(ROOT + "nio."));
    }

    /** To enable once nio is reshaped: delete the {@code @Disabled} line. */
    @Test
    void nioClassesFormNoCycle() {
        assertNoCycle("classes", CLASSES, name -> name.startsWith(ROOT + "nio."));
    }

    /** Fails naming every cycle (a strongly connected component of two or more) with a member matching {@code in}. */
    private static void assertNoCycle(String nodes, Map<String, Set<String>> graph, Predicate<String> in) {
        List<Set<String>> cycles = new ArrayList<>();
        for (Set<String> component : stronglyConnected(graph)) {
            if (component.size() > 1 && component.stream().anyMatch(in)) {
                cycles.add(component);
            }
        }
        if (!cycles.isEmpty()) {
            StringBuilder report = new StringBuilder(cycles.size() + " cycle(s) of " + nodes + " in transport-core:");
            for (Set<String> cycle : cycles) {
                report.append("\n  ").append(cycle.size()).append(' ').append(nodes).append(" tied together:");
                for (String member : cycle) {
                    Set<String> inside = new TreeSet<>(graph.getOrDefault(member, Set.of()));
                    inside.retainAll(cycle);
                    String targets = inside.stream().map(DependencyCycleTest::shortName)
                            .collect(Collectors.joining(", "));
                    report.append("\n    ").append(shortName(member)).append(" -> ").append(targets);
                }
            }
            fail(report.toString());
        }
    }

    /** Tarjan's algorithm, iterative so that a deep graph cannot overflow the stack. */
    static List<Set<String>> stronglyConnected(Map<String, Set<String>> graph) {
        Set<String> nodes = new TreeSet<>(graph.keySet());
        graph.values().forEach(nodes::addAll);
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> components = new ArrayList<>();
        for (String start : nodes) {
            if (index.containsKey(start)) {
                continue;
            }
            Deque<Map.Entry<String, List<String>>> work = new ArrayDeque<>();
            visit(start, graph, index, low, stack, onStack, work);
            while (!work.isEmpty()) {
                Map.Entry<String, List<String>> frame = work.peek();
                String node = frame.getKey();
                List<String> pending = frame.getValue();
                if (!pending.isEmpty()) {
                    String next = pending.remove(pending.size() - 1);
                    if (!index.containsKey(next)) {
                        visit(next, graph, index, low, stack, onStack, work);
                    } else if (onStack.contains(next)) {
                        low.put(node, Math.min(low.get(node), index.get(next)));
                    }
                    continue;
                }
                work.pop();
                if (!work.isEmpty()) {
                    String parent = work.peek().getKey();
                    low.put(parent, Math.min(low.get(parent), low.get(node)));
                }
                if (low.get(node).equals(index.get(node))) {
                    Set<String> component = new TreeSet<>();
                    String member;
                    do {
                        member = stack.pop();
                        onStack.remove(member);
                        component.add(member);
                    } while (!member.equals(node));
                    components.add(component);
                }
            }
        }
        return components;
    }

    private static void visit(String node, Map<String, Set<String>> graph, Map<String, Integer> index,
                              Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                              Deque<Map.Entry<String, List<String>>> work) {
        index.put(node, index.size());
        low.put(node, index.get(node));
        stack.push(node);
        onStack.add(node);
        work.push(Map.entry(node, new ArrayList<>(graph.getOrDefault(node, Set.of()))));
    }

    /** {@code jdeps -verbose:class} over the main classes: one edge per class a class refers to. */
    private static List<String[]> jdepsEdges() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        int exit = ToolProvider.findFirst("jdeps").orElseThrow().run(print, print, "--multi-release", "17",
                "--module-path", CoreBuild.dependencies(), "-verbose:class", "-filter:none",
                CoreBuild.classes().toString());
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, "jdeps failed:\n" + text);
        List<String[]> edges = new ArrayList<>();
        for (String line : text.split("\n")) {
            Matcher m = JDEPS_EDGE.matcher(line);
            if (m.matches()) {
                edges.add(new String[] {m.group(1), m.group(2)});
            }
        }
        return edges;
    }

    /** Every {@code import io.cqlnio...} of the main sources, from the file's top-level class. */
    private static List<String[]> importEdges() throws IOException {
        Path sources = CoreBuild.mainSources();
        List<String[]> edges = new ArrayList<>();
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".java"))::iterator) {
                String relative = sources.relativize(file).toString().replace(file.getFileSystem().getSeparator(), ".");
                if (relative.equals("module-info.java")) {
                    continue;
                }
                String from = relative.substring(0, relative.length() - ".java".length());
                Matcher m = IMPORT.matcher(Files.readString(file));
                while (m.find()) {
                    edges.add(new String[] {from, m.group(1)});
                }
            }
        }
        assertTrue(edges.size() > 10, "too few imports read under " + sources);
        return edges;
    }

    /** Adds {@code from -> to} folded to top-level classes, for two different classes of transport-core. */
    private static void addClassEdge(String from, String to) {
        String a = topLevel(from);
        String b = topLevel(to);
        if (a != null && b != null && !a.equals(b)) {
            addEdge(CLASSES, a, b);
        }
    }

    private static void addEdge(Map<String, Set<String>> graph, String from, String to) {
        if (!from.equals(to)) {
            graph.computeIfAbsent(from, k -> new TreeSet<>()).add(to);
            graph.computeIfAbsent(to, k -> new TreeSet<>());
        }
    }

    /**
     * {@code io.cqlnio.nio.FrameWriter$Entry} (a class file) and {@code io.cqlnio.nio.FrameWriter.Entry} (an import)
     * both fold to {@code io.cqlnio.nio.FrameWriter}; {@code null} for a name outside transport-core.
     */
    private static String topLevel(String name) {
        if (!name.startsWith(ROOT)) {
            return null;
        }
        StringBuilder top = new StringBuilder();
        for (String part : name.replace('$', '.').split("\\.")) {
            top.append(top.length() == 0 ? "" : ".").append(part);
            if (Character.isUpperCase(part.charAt(0))) {
                return top.toString();
            }
        }
        throw new IllegalArgumentException("no class in " + name);
    }

    private static String packageOf(String topLevelClass) {
        return topLevelClass.substring(0, topLevelClass.lastIndexOf('.'));
    }

    private static String shortName(String name) {
        return name.startsWith(ROOT) ? name.substring(ROOT.length()) : name;
    }
}
