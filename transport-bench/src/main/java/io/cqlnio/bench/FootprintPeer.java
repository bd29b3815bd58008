package io.cqlnio.bench;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
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
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The peer of {@link FootprintRunner}, in a JVM of its own so that none of its per-connection state lands in
 * the heap being measured. One selector thread accepts and reads-and-discards on every connection until told
 * to pause, after which it reads nothing more, so the client's kernel buffers fill and its frames stay pending.
 *
 * <p>Protocol on the child's stdin/stdout, one line each: it prints {@code listening PORT} once bound;
 * {@code pause} answers {@code paused} once no connection is read any more; {@code quit} or the end of stdin
 * (the parent died) ends it. Its receive buffer is small ({@link #RECEIVE_BUFFER}, set on the listening socket
 * so every accepted socket inherits it, which also turns off autotuning): a paused peer then holds at most a
 * few KiB per connection in the kernel, not megabytes.
 *
 * <p>{@link Handle} is the parent's side: {@link #launch} starts the child with this JVM's classpath.
 */
public final class FootprintPeer {

    static final int RECEIVE_BUFFER = 4096;
    private static final int BACKLOG = 4096;

    private final ServerSocketChannel server;
    private final Selector selector;
    private final ByteBuffer sink = ByteBuffer.allocateDirect(64 * 1024);
    private final PrintStream out;
    private volatile boolean pauseRequested;
    private boolean paused;

    private FootprintPeer(PrintStream out) throws IOException {
        this.out = out;
        selector = Selector.open();
        server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_RCVBUF, RECEIVE_BUFFER);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), BACKLOG);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
    }

    /** The child's entry point. */
    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        FootprintPeer peer = new FootprintPeer(out);
        Thread commands = new Thread(peer::readCommands, "footprint-peer-commands");
        commands.setDaemon(true);
        commands.start();
        out.println("listening " + ((InetSocketAddress) peer.server.getLocalAddress()).getPort());
        peer.serve();
    }

    private void readCommands() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.equals("pause")) {
                    pauseRequested = true;
                    selector.wakeup();
                } else if (line.equals("quit")) {
                    break;
                }
            }
        } catch (IOException e) {
            // stdin gone: the parent is gone too
        }
        System.exit(0);
    }

    private void serve() throws IOException {
        while (true) {
            selector.select();
            if (pauseRequested && !paused) {
                for (SelectionKey key : selector.keys()) {
                    if (key.isValid() && key.channel() != server) {
                        key.interestOps(0);
                    }
                }
                paused = true;
                out.println("paused");
            }
            for (SelectionKey key : selector.selectedKeys()) {
                if (!key.isValid()) {
                    continue;
                }
                if (key.isAcceptable()) {
                    SocketChannel channel;
                    while ((channel = server.accept()) != null) {
                        channel.configureBlocking(false);
                        channel.register(selector, paused ? 0 : SelectionKey.OP_READ);
                    }
                } else if (key.isReadable() && !paused) {
                    SocketChannel channel = (SocketChannel) key.channel();
                    int n;
                    try {
                        do {
                            sink.clear();
                            n = channel.read(sink);
                        } while (n > 0);
                    } catch (IOException e) {
                        n = -1;
                    }
                    if (n < 0) {
                        key.cancel();
                        channel.close();
                    }
                }
            }
            selector.selectedKeys().clear();
        }
    }

    /** Starts the peer in a child JVM and waits until it listens. */
    static Handle launch() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC", "-cp",
                System.getProperty("java.class.path"), FootprintPeer.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        return new Handle(process);
    }

    /** The parent's side of the child peer. Not thread-safe: one thread drives it. */
    static final class Handle implements AutoCloseable {
        private final Process process;
        private final BufferedReader in;
        private final BufferedWriter commands;
        private final InetSocketAddress address;

        private Handle(Process process) throws IOException {
            this.process = process;
            this.in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            this.commands = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
            String line = expect("listening ");
            this.address = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    Integer.parseInt(line.substring("listening ".length()).trim()));
        }

        InetSocketAddress address() {
            return address;
        }

        /** Returns once the peer reads no connection any more. */
        void pause() throws IOException {
            commands.write("pause\n");
            commands.flush();
            expect("paused");
        }

        private String expect(String prefix) throws IOException {
            String line = in.readLine();
            if (line == null || !line.startsWith(prefix)) {
                throw new IOException("footprint peer said " + line + ", expected " + prefix);
            }
            return line;
        }

        @Override
        public void close() throws IOException {
            try {
                commands.write("quit\n");
                commands.flush();
            } catch (IOException e) {
                // already gone
            }
            try {
                if (!process.waitFor(Duration.ofSeconds(10).toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
