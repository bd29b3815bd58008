package io.cqlnio.readme;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The README's code is the build's business, as Rust's doc tests are. Every fenced block in {@code README.md}
 * carries an HTML comment on the line before it that says how it is checked:
 * <ul>
 * <li>{@code <!-- snippet: PATH#TAG -->}: the block is the region of the test source {@code PATH} between
 *     {@code // tag::TAG[]} and {@code // end::TAG[]}, compared line by line after stripping each side's common
 *     indentation and trailing blanks. The source is compiled by the build and run by a test
 *     ({@code QuickStartIT}, {@code TlsSnippetIT}, {@code BridgesTest}); this test fails when the two differ.</li>
 * <li>{@code <!-- commands -->}: shell commands; each is checked against the build (modules, exec executions and
 *     their main classes, the shaded jar, scripts). Inline {@code `mvn ...`}, {@code `java ...`} and script
 *     spans anywhere in the README are checked the same way.</li>
 * <li>{@code <!-- dependency -->}: Maven {@code <dependency>} XML whose coordinates must be this build's.</li>
 * <li>{@code <!-- output -->}: what a command printed, a sample; not code, so not checked.</li>
 * <li>{@code <!-- your project -->}: commands a reader runs in their own project (not this build's); tried by hand
 *     in a fresh project, as the issue's "done means" asks, not by this test.</li>
 * </ul>
 * A block without a comment, or a {@code java} block that is not a snippet, fails: nothing the README shows goes
 * unchecked by accident. Why compare rather than generate the README from the sources: the README stays a plain
 * file anyone can edit and review, a normal build never rewrites a tracked file, and the failure message shows the
 * source region to paste.
 */
class ReadmeTest {

    private static final Path ROOT = repositoryRoot();
    private static final Path README = ROOT.resolve("README.md");
    /** Where the snippets live; each tag in these files must be shown once in the README. */
    private static final Path SNIPPET_SOURCES = ROOT.resolve("transport-tests/src/test/java/io/cqlnio/readme");

    private static final Pattern FENCE = Pattern.compile("^\\s*```\\s*(\\w*)\\s*$");
    private static final Pattern MARKER = Pattern.compile("^\\s*<!--\\s*(.*?)\\s*-->\\s*$");
    private static final Pattern TAG = Pattern.compile("^\\s*// tag::([\\w-]+)\\[]\\s*$");
    private static final Pattern INLINE_CODE = Pattern.compile("`([^`]+)`");
    private static final Set<String> KINDS = Set.of("snippet", "commands", "dependency", "output", "your project");
    private static final Set<String> PHASES = Set.of("clean", "validate", "compile", "test", "package", "verify",
            "install");

    /** One fenced block: its language, the marker before it, its lines, and the README line it starts on. */
    record Block(int line, String language, String marker, List<String> lines) {
        String where() {
            return "README.md line " + line + " (```" + language + (marker == null ? "" : ", <!-- " + marker + " -->")
                    + ")";
        }
    }

    @Test
    void everyBlockSaysHowItIsChecked() throws IOException {
        List<String> problems = new ArrayList<>();
        for (Block block : blocks(Files.readAllLines(README))) {
            String kind = block.marker() == null ? null : block.marker().split(":", 2)[0].trim();
            if (kind == null) {
                problems.add(block.where() + ": no <!-- ... --> line before it saying how it is checked");
            } else if (!KINDS.contains(kind)) {
                problems.add(block.where() + ": unknown marker '" + kind + "'");
            } else if (block.language().equals("java") && !kind.equals("snippet")) {
                problems.add(block.where() + ": a java block must be a snippet of a compiled, tested source");
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void everySnippetIsItsSourceRegion() throws IOException {
        List<String> problems = new ArrayList<>();
        for (Block block : blocks(Files.readAllLines(README))) {
            if (block.marker() == null || !block.marker().startsWith("snippet:")) {
                continue;
            }
            String[] ref = block.marker().substring("snippet:".length()).trim().split("#", 2);
            if (ref.length != 2) {
                problems.add(block.where() + ": expected snippet: PATH#TAG");
                continue;
            }
            Path source = ROOT.resolve(ref[0]);
            if (!Files.isRegularFile(source)) {
                problems.add(block.where() + ": no file " + ref[0]);
                continue;
            }
            List<String> region = region(Files.readAllLines(source), ref[1]);
            if (region == null) {
                problems.add(block.where() + ": no region // tag::" + ref[1] + "[] ... // end::" + ref[1] + "[] in "
                        + ref[0]);
                continue;
            }
            String difference = firstDifference(normalize(block.lines()), normalize(region));
            if (difference != null) {
                problems.add(block.where() + " differs from " + ref[0] + " tag " + ref[1] + ": " + difference
                        + "\n  The source is the one the build compiles and runs: fix it there, then paste its"
                        + " region into the README. The region is now:\n" + String.join("\n", normalize(region)));
            }
        }
        if (!problems.isEmpty()) {
            fail(String.join("\n\n", problems));
        }
    }

    @Test
    void everySnippetSourceRegionIsShownOnce() throws IOException {
        Map<String, Integer> shown = new TreeMap<>();
        for (Block block : blocks(Files.readAllLines(README))) {
            if (block.marker() != null && block.marker().startsWith("snippet:")) {
                shown.merge(block.marker().substring("snippet:".length()).trim(), 1, Integer::sum);
            }
        }
        Map<String, Integer> expected = new TreeMap<>();
        try (Stream<Path> files = Files.list(SNIPPET_SOURCES)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                for (String line : Files.readAllLines(file)) {
                    Matcher tag = TAG.matcher(line);
                    if (tag.matches()) {
                        expected.put(ROOT.relativize(file).toString().replace('\\', '/') + "#" + tag.group(1), 1);
                    }
                }
            }
        }
        assertTrue(expected.size() >= 4, "expected the quick start, TLS, Micrometer and JMX regions: " + expected);
        assertEquals(expected, shown, "each tagged region is shown exactly once in the README");
    }

    /** The two commands at the top, the CI command, and every other command the README tells a reader to run. */
    @Test
    void everyCommandMatchesTheBuild() throws IOException {
        List<String> readme = Files.readAllLines(README);
        List<String> commands = new ArrayList<>();
        for (Block block : blocks(readme)) {
            if ("commands".equals(block.marker())) {
                block.lines().stream().map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#"))
                        .forEach(commands::add);
            }
        }
        boolean fenced = false;
        for (String line : readme) {
            if (FENCE.matcher(line).matches()) {
                fenced = !fenced;
            } else if (!fenced) {
                Matcher code = INLINE_CODE.matcher(line);
                while (code.find()) {
                    String span = code.group(1).trim();
                    if (span.startsWith("mvn ") || span.startsWith("java ") || span.matches("[\\w./-]+\\.sh")) {
                        commands.add(span);
                    }
                }
            }
        }
        assertTrue(commands.contains("mvn -B -q install -DskipTests && mvn -B -q -pl transport-tests exec:java"),
                "the demo command at the top is gone: " + commands);
        assertTrue(commands.contains("mvn -B verify"), "the test command at the top is gone: " + commands);
        assertTrue(Files.readAllLines(ROOT.resolve(".ci/run")).contains("mvn -B verify"),
                ".ci/run no longer runs the README's test command");

        List<String> problems = new ArrayList<>();
        for (String command : commands) {
            for (String part : command.split("&&")) {
                String problem = check(part.trim().split("\\s+"));
                if (problem != null) {
                    problems.add("`" + part.trim() + "` (in `" + command + "`): " + problem);
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void everyDependencyIsOneOfThisBuildsModules() throws Exception {
        String version = text(pom(ROOT), "version");
        String groupId = text(pom(ROOT), "groupId");
        int dependencies = 0;
        for (Block block : blocks(Files.readAllLines(README))) {
            if (!"dependency".equals(block.marker())) {
                continue;
            }
            Document xml = parse("<root>" + String.join("\n", block.lines()) + "</root>", block.where());
            NodeList list = xml.getElementsByTagName("dependency");
            for (int i = 0; i < list.getLength(); i++, dependencies++) {
                Element dependency = (Element) list.item(i);
                String artifactId = text(dependency, "artifactId");
                assertEquals(groupId, text(dependency, "groupId"), block.where());
                assertEquals(version, text(dependency, "version"), block.where());
                Path module = ROOT.resolve(artifactId);
                assertTrue(modules().contains(artifactId) && text(pom(module), "artifactId").equals(artifactId),
                        block.where() + ": " + artifactId + " is not a module of this build " + modules());
            }
        }
        assertTrue(dependencies > 0, "the README's \"Depend on it\" shows no <dependency>");
    }

    /** Null when {@code argv} is a command this build can run as written, else what is wrong with it. */
    private static String check(String[] argv) throws IOException {
        if (argv[0].endsWith(".sh")) {
            Path script = ROOT.resolve(argv[0]);
            return Files.isExecutable(script) ? null : "no executable script " + argv[0];
        }
        if (argv[0].equals("java")) {
            if (argv.length < 4 || !argv[1].equals("-cp")) {
                return "expected java -cp JAR MAIN ...";
            }
            if (!argv[2].equals("transport-bench/target/benchmarks.jar")
                    || !Files.readString(ROOT.resolve("transport-bench/pom.xml"))
                    .contains("<finalName>benchmarks</finalName>")) {
                return "the build makes no " + argv[2];
            }
            return mainClass("transport-bench", argv[3]);
        }
        if (!argv[0].equals("mvn")) {
            return "not a command this test knows how to check: teach ReadmeTest.check";
        }
        String module = null;
        List<String> goals = new ArrayList<>();
        for (int i = 1; i < argv.length; i++) {
            String arg = argv[i];
            if (arg.equals("-pl")) {
                module = argv[++i];
                if (!modules().contains(module)) {
                    return "-pl " + module + " is not a module of " + modules();
                }
            } else if (!arg.startsWith("-")) {
                goals.add(arg);
            } else if (!Set.of("-B", "-q", "-am", "-DskipTests").contains(arg)) {
                return "option " + arg + " is not one this test knows";
            }
        }
        if (goals.isEmpty()) {
            return "no goal or phase";
        }
        for (String goal : goals) {
            if (goal.startsWith("exec:java")) {
                if (module == null) {
                    return "exec:java needs -pl MODULE";
                }
                String id = goal.contains("@") ? goal.substring(goal.indexOf('@') + 1) : "default-cli";
                String mainClass = execMainClass(module, id);
                if (mainClass == null) {
                    return module + "/pom.xml has no exec-maven-plugin execution '" + id + "' with a mainClass";
                }
                String problem = mainClass(module, mainClass);
                if (problem != null) {
                    return problem;
                }
            } else if (!PHASES.contains(goal)) {
                return "goal " + goal + " is not one this test knows";
            }
        }
        return null;
    }

    /** Null when {@code module}'s main or test sources declare {@code className} with a {@code main} method. */
    private static String mainClass(String module, String className) throws IOException {
        for (String sources : List.of("src/main/java", "src/test/java")) {
            Path source = ROOT.resolve(module).resolve(sources).resolve(className.replace('.', '/') + ".java");
            if (Files.isRegularFile(source)) {
                return Files.readString(source).contains("public static void main(String[] args)") ? null
                        : className + " has no public static void main(String[] args)";
            }
        }
        return "no class " + className + " in " + module + "'s sources";
    }

    private static String execMainClass(String module, String executionId) {
        NodeList executions = pom(ROOT.resolve(module)).getElementsByTagName("execution");
        for (int i = 0; i < executions.getLength(); i++) {
            Element execution = (Element) executions.item(i);
            Element plugin = (Element) execution.getParentNode().getParentNode();
            if (text(plugin, "artifactId").equals("exec-maven-plugin") && text(execution, "id").equals(executionId)) {
                NodeList mainClass = execution.getElementsByTagName("mainClass");
                return mainClass.getLength() == 0 ? null : mainClass.item(0).getTextContent().trim();
            }
        }
        return null;
    }

    private static List<String> modules() {
        NodeList modules = pom(ROOT).getElementsByTagName("module");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < modules.getLength(); i++) {
            names.add(modules.item(i).getTextContent().trim());
        }
        return names;
    }

    private static Element pom(Path moduleDir) {
        Path file = moduleDir.resolve("pom.xml");
        try {
            return parse(Files.readString(file), file.toString()).getDocumentElement();
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file, e);
        }
    }

    private static Document parse(String xml, String where) {
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new AssertionError(where + " is not well-formed XML: " + e.getMessage(), e);
        }
    }

    /** The text of {@code parent}'s direct child element {@code name}, or "" when there is none. */
    private static String text(Element parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                return e.getTextContent().trim();
            }
        }
        return "";
    }

    static List<Block> blocks(List<String> readme) {
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < readme.size(); i++) {
            Matcher open = FENCE.matcher(readme.get(i));
            if (!open.matches()) {
                continue;
            }
            String marker = null;
            for (int j = i - 1; j >= 0; j--) {
                if (!readme.get(j).isBlank()) {
                    Matcher m = MARKER.matcher(readme.get(j));
                    marker = m.matches() ? m.group(1) : null;
                    break;
                }
            }
            int start = i + 1;
            int end = start;
            while (end < readme.size() && !readme.get(end).trim().equals("```")) {
                end++;
            }
            if (end == readme.size()) {
                fail("README.md line " + (i + 1) + ": a ``` block that never closes");
            }
            blocks.add(new Block(i + 1, open.group(1), marker, readme.subList(start, end)));
            i = end;
        }
        return blocks;
    }

    /** The lines strictly between {@code // tag::name[]} and {@code // end::name[]}, or null. */
    static List<String> region(List<String> source, String name) {
        int start = -1;
        for (int i = 0; i < source.size(); i++) {
            if (source.get(i).trim().equals("// tag::" + name + "[]")) {
                start = i + 1;
            } else if (start >= 0 && source.get(i).trim().equals("// end::" + name + "[]")) {
                return source.subList(start, i);
            }
        }
        return null;
    }

    /** Trailing blanks and leading/trailing empty lines dropped, the common indentation removed. */
    static List<String> normalize(List<String> lines) {
        List<String> stripped = new ArrayList<>(lines.stream().map(String::stripTrailing).toList());
        while (!stripped.isEmpty() && stripped.get(0).isEmpty()) {
            stripped.remove(0);
        }
        while (!stripped.isEmpty() && stripped.get(stripped.size() - 1).isEmpty()) {
            stripped.remove(stripped.size() - 1);
        }
        int indent = stripped.stream().filter(l -> !l.isEmpty())
                .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
        return stripped.stream().map(l -> l.isEmpty() ? l : l.substring(indent)).toList();
    }

    /** Null when equal, else the first line that differs, from both sides. */
    static String firstDifference(List<String> readme, List<String> source) {
        for (int i = 0; i < Math.max(readme.size(), source.size()); i++) {
            String r = i < readme.size() ? readme.get(i) : "<end of block>";
            String s = i < source.size() ? source.get(i) : "<end of region>";
            if (!r.equals(s)) {
                return "block line " + (i + 1) + "\n  README: " + r + "\n  source: " + s;
            }
        }
        return null;
    }

    private static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("README.md")) && Files.isDirectory(dir.resolve("transport-tests"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no README.md above " + Path.of("").toAbsolutePath());
    }
}
