package io.cqlnio.arch;

import io.cqlnio.spi.Transports;
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
import java.util.spi.ToolProvider;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * transport-core as a module, the way a modular driver sees it: a small driver module that {@code requires
 * io.cqlnio.transport} is compiled against the built classes and run in a child JVM on the module path only. It
 * finds {@code "nio"} through {@link Transports#create} (so {@code uses} and {@code provides} are right), sends
 * one frame over loopback (so every module the loop needs at run time is required), and cannot reach
 * {@code io.cqlnio.nio} (so only the SPI is exported).
 */
class ModulePathTest {

    private static final String PROBE = String.join("\n",
            "package probe;",
            "import io.cqlnio.spi.*;",
            "import java.net.InetSocketAddress;",
            "import java.nio.ByteBuffer;",
            "import java.nio.channels.ServerSocketChannel;",
            "import java.nio.channels.SocketChannel;",
            "import java.util.concurrent.TimeUnit;",
            "public final class Main {",
            "    public static void main(String[] args) throws Exception {",
            "        try (ServerSocketChannel server = ServerSocketChannel.open();",
            "             Transport transport = Transports.create(\"nio\", TransportConfig.defaults())) {",
            "            server.bind(new InetSocketAddress(\"127.0.0.1\", 0));",
            "            Connection c = transport.connect((InetSocketAddress) server.getLocalAddress(),",
            "                    (connection, frame) -> { }).get(10, TimeUnit.SECONDS);",
            "            ByteBuffer options = ByteBuffer.allocate(9).put(0, (byte) 4).put(4, (byte) 5);",
            "            c.write(options).get(10, TimeUnit.SECONDS);",
            "            ByteBuffer got = ByteBuffer.allocate(9);",
            "            try (SocketChannel peer = server.accept()) {",
            "                while (got.hasRemaining() && peer.read(got) >= 0) { }",
            "            }",
            "            Module core = Transports.class.getModule();",
            "            System.out.println(core.getName() + \" nio=\" + transport.getClass().getName()",
            "                    + \" received=\" + got.position()",
            "                    + \" exportsNio=\" + core.isExported(\"io.cqlnio.nio\")",
            "                    + \" exportsFrame=\" + core.isExported(\"io.cqlnio.frame\"));",
            "            c.close().get(10, TimeUnit.SECONDS);",
            "        }",
            "    }",
            "}",
            "");

    @Test
    void aDriverModuleFindsNioOnTheModulePath(@TempDir Path dir) throws Exception {
        String modulePath = CoreBuild.classes() + File.pathSeparator + CoreBuild.dependencies();
        Path src = dir.resolve("src/probe");
        Files.createDirectories(src.resolve("probe"));
        Files.writeString(src.resolve("module-info.java"), "module probe { requires io.cqlnio.transport; }\n");
        Files.writeString(src.resolve("probe/Main.java"), PROBE);
        Path classes = dir.resolve("classes");

        ByteArrayOutputStream compilerOut = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(compilerOut, true, StandardCharsets.UTF_8);
        int compiled = ToolProvider.findFirst("javac").orElseThrow().run(log, log, "-d", classes.toString(),
                "--module-path", modulePath, src.resolve("module-info.java").toString(),
                src.resolve("probe/Main.java").toString());
        assertEquals(0, compiled, "the probe module did not compile against io.cqlnio.transport:\n" + compilerOut);

        List<String> command = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java")
                .toString(), "--module-path", classes + File.pathSeparator + modulePath, "-m", "probe/probe.Main"));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output;
        try {
            output = child.getInputStream().readAllBytes();   // ends when the child exits or is killed
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the probe did not finish in 60 s");
        } finally {
            child.destroyForcibly();
        }
        String printed = new String(output, StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), "the probe failed on the module path:\n" + printed);
        assertTrue(printed.contains("io.cqlnio.transport nio=io.cqlnio.nio.NioTransport received=9"
                + " exportsNio=false exportsFrame=false"), printed);
    }
}
