package io.cqlnio.soak;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The soak's echo peer, in a JVM of its own so that none of its threads, buffers or sockets count in the metrics
 * the soak tracks. One selector thread echoes every byte back as it arrives; a connection whose reply the kernel
 * cannot take yet stops being read until it can (so the peer holds at most one buffer per connection). At the
 * client's EOF it finishes sending what it holds and then closes its side, as a server does, so a client's graceful
 * close (which waits for that EOF) ends at once; a reset or any I/O error just closes the connection.
 *
 * <p>Protocol on the child's stdin/stdout: it prints {@code listening PORT} once bound; the end of stdin (the
 * parent closed it, or died) ends the child. {@link Handle} is the parent's side.
 */
public final class SoakPeer {

    private static final int BUFFER_SIZE = 64 * 1024;
    private static final int BACKLOG = 1024;

    private final Selector selector;
    private final ServerSocketChannel server;

    private SoakPeer() throws IOException {
        selector = Selector.open();
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), BACKLOG);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
    }

    /** The child's entry point. */
    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        SoakPeer peer = new SoakPeer();
        Thread watchdog = new Thread(SoakPeer::exitAtEndOfStdin, "soak-peer-stdin");
        watchdog.setDaemon(true);
        watchdog.start();
        out.println("listening " + ((InetSocketAddress) peer.server.getLocalAddress()).getPort());
        peer.serve();
    }

    private static void exitAtEndOfStdin() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            while (in.readLine() != null) {
                // no commands: only the end of the stream matters
            }
        } catch (IOException e) {
            // stdin gone: the parent is gone too
        }
        System.exit(0);
    }

    private void serve() throws IOException {
        while (true) {
            selector.select();
            for (SelectionKey key : selector.selectedKeys()) {
                if (!key.isValid()) {
                    continue;
                }
                if (key.isAcceptable()) {
                    for (SocketChannel c; (c = server.accept()) != null; ) {
                        c.configureBlocking(false);
                        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                        c.register(selector, SelectionKey.OP_READ, new Echo());
                    }
                } else {
                    echo(key);
                }
            }
            selector.selectedKeys().clear();
        }
    }

    /** One connection's state: the bytes read and not yet echoed, and whether the client has sent EOF. */
    private static final class Echo {
        final ByteBuffer pending = ByteBuffer.allocate(BUFFER_SIZE);
        boolean clientDone;
    }

    private static void echo(SelectionKey key) {
        SocketChannel c = (SocketChannel) key.channel();
        Echo echo = (Echo) key.attachment();
        ByteBuffer pending = echo.pending;
        try {
            if (!echo.clientDone && pending.hasRemaining() && c.read(pending) < 0) {
                echo.clientDone = true;
            }
            pending.flip();
            c.write(pending);
            pending.compact();
            boolean holding = pending.position() > 0;
            if (echo.clientDone && !holding) {
                key.cancel();
                c.close();
                return;
            }
            // Read only while there is room; write interest only while a reply waits.
            int ops = (holding ? SelectionKey.OP_WRITE : 0) | (echo.clientDone || !pending.hasRemaining() ? 0
                    : SelectionKey.OP_READ);
            key.interestOps(ops);
        } catch (IOException e) {
            key.cancel();
            try {
                c.close();
            } catch (IOException ignored) {
                // closing after the failure
            }
        }
    }

    /** Starts the peer in a child JVM (its class path: this class's own entry) and returns once it listens. */
    static Handle launch() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = Path.of(codeSource()).toString();
        Process process = new ProcessBuilder(java, "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", classPath, SoakPeer.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        return new Handle(process);
    }

    private static java.net.URI codeSource() {
        try {
            return SoakPeer.class.getProtectionDomain().getCodeSource().getLocation().toURI();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The parent's side of the child peer. */
    static final class Handle implements AutoCloseable {
        private final Process process;
        private final InetSocketAddress address;

        private Handle(Process process) throws IOException {
            this.process = process;
            BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null || !line.startsWith("listening ")) {
                process.destroyForcibly();
                throw new IOException("soak peer said " + line + ", expected listening PORT");
            }
            address = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    Integer.parseInt(line.substring("listening ".length()).trim()));
        }

        InetSocketAddress address() {
            return address;
        }

        long pid() {
            return process.pid();
        }

        @Override
        public void close() throws IOException {
            OutputStream stdin = process.getOutputStream();
            try {
                stdin.close();
            } catch (IOException e) {
                // already gone
            }
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
