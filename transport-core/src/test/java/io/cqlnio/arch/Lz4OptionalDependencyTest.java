package io.cqlnio.arch;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lz4-java is optional for transport-core users: a driver in a child JVM whose class path (or module path) lacks
 * it still loads the transport and runs uncompressed v5, and asking for LZ4 gets an exception naming the
 * artifact, after which the connection is as it was. With the jar (on the module path: and
 * {@code --add-modules org.lz4.java}) the same switch succeeds.
 */
class Lz4OptionalDependencyTest {

    private static final String PROBE = String.join("\n",
            "package probe;",
            "import io.cqlnio.spi.*;",
            "import java.net.InetSocketAddress;",
            "import java.nio.channels.ServerSocketChannel;",
            "import java.util.concurrent.TimeUnit;",
            "public final class Main {",
            "    public static void main(String[] args) throws Exception {",
            "        try (ServerSocketChannel server = ServerSocketChannel.open();",
            "             Transport transport = Transports.create(\"nio\", TransportConfig.defaults())) {",
            "            server.bind(new InetSocketAddress(\"127.0.0.1\", 0));",
            "            Connection c = transport.connect((InetSocketAddress) server.getLocalAddress(),",
            "                    (connection, frame) -> { }).get(10, TimeUnit.SECONDS);",
            "            try {",
            "                c.switchFraming(Framing.V5_SEGMENTS_LZ4);",
            "                System.out.println(\"lz4=switched\");",
            "            } catch (UnsupportedOperationException e) {",
            "                System.out.println(\"lz4=refused: \" + e.getMessage());",
            "                c.switchFraming(Framing.V5_SEGMENTS);",
            "                System.out.println(\"plain=switched\");",
            "            }",
            "            c.close().get(10, TimeUnit.SECONDS);",
            "        }",
            "    }",
            "}",
            "");

    private static String lz4Jar;

    @BeforeAll
    static void findLz4() {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (Paths.get(entry).getFileName().toString().startsWith("lz4-java-")) {
                lz4Jar = entry;
            }
        }
        assertTrue(lz4Jar != null, "lz4-java is not on this module's test class path");
    }

    @Test
    void onTheClassPath(@TempDir Path dir) throws Exception {
        String path = CoreBuild.classes() + File.pathSeparator + CoreBuild.dependencies();
        Path classes = compile(dir, false, path);
        String without = run(List.of("-cp", classes + File.pathSeparator + path, "probe.Main"));
        assertTrue(without.contains("lz4=refused: ") && without.contains("at.yawk.lz4:lz4-java")
                && without.contains("plain=switched"), without);
        String with = run(List.of("-cp", classes + File.pathSeparator + path + File.pathSeparator + lz4Jar,
                "probe.Main"));
        assertTrue(with.contains("lz4=switched"), with);
    }

    @Test
    void onTheModulePath(@TempDir Path dir) throws Exception {
        String path = CoreBuild.classes() + File.pathSeparator + CoreBuild.dependencies();
        Path classes = compile(dir, true, path);
        String without = run(List.of("--module-path", classes + File.pathSeparator + path, "-m", "probe/probe.Main"));
        assertTrue(without.contains("lz4=refused: ") && without.contains("at.yawk.lz4:lz4-java")
                && without.contains("plain=switched"), without);
        // On the module path but not resolved (nothing requires it but statically): the message says what to add.
        String unresolved = run(List.of("--module-path", classes + File.pathSeparator + path + File.pathSeparator
                + lz4Jar, "-m", "probe/probe.Main"));
        assertTrue(unresolved.contains("lz4=refused: ") && unresolved.contains("--add-modules org.lz4.java"),
                unresolved);
        String with = run(List.of("--module-path", classes + File.pathSeparator + path + File.pathSeparator + lz4Jar,
                "--add-modules", "org.lz4.java", "-m", "probe/probe.Main"));
        assertTrue(with.contains("lz4=switched"), with);
    }

    private static Path compile(Path dir, boolean module, String path) throws Exception {
        Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("probe"));
        Files.writeString(src.resolve("probe/Main.java"), PROBE);
        List<String> args = new ArrayList<>(List.of("-d", dir.resolve("classes").toString()));
        if (module) {
            Files.writeString(src.resolve("module-info.java"), "module probe { requires io.cqlnio.transport; }\n");
            args.addAll(List.of("--module-path", path, src.resolve("module-info.java").toString()));
        } else {
            args.addAll(List.of("-cp", path));
        }
        args.add(src.resolve("probe/Main.java").toString());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(out, true, StandardCharsets.UTF_8);
        assertEquals(0, ToolProvider.findFirst("javac").orElseThrow().run(log, log, args.toArray(String[]::new)),
                "the probe did not compile:\n" + out);
        return dir.resolve("classes");
    }

    private static String run(List<String> args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(args);
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output;
        try {
            output = child.getInputStream().readAllBytes();
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the probe did not finish in 60 s");
        } finally {
            child.destroyForcibly();
        }
        String printed = new String(output, StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), "the probe failed:\n" + printed);
        return printed;
    }
}
