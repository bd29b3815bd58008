package io.cqlnio.readme;

// The README's quick start, shown there from the tag below to the end of the file (ReadmeTest compares them):
// keep it one class a reader can paste into src/main/java/QuickStart.java of a new project.
// tag::quickstart[]
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Sends one CQL v4 OPTIONS request and prints the SUPPORTED reply. Usage: {@code QuickStart [host] [port]}. */
public final class QuickStart {

    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 9042;
        // The loop threads are not daemons: closing the transport is what lets the JVM exit.
        try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
            Replies replies = new Replies();
            Connection c = transport.connect(new InetSocketAddress(host, port), replies).get(5, TimeUnit.SECONDS);
            ByteBuffer options = ByteBuffer.allocateDirect(9)          // v4 OPTIONS on stream 0: a header, no body
                    .put((byte) 4).put((byte) 0).putShort((short) 0).put((byte) 5).putInt(0).flip();
            ByteBuffer reply = ByteBuffer.wrap(replies.send(c, 0, options).get(5, TimeUnit.SECONDS));
            if (reply.get(4) != 0x06) {
                throw new IllegalStateException("expected SUPPORTED (opcode 0x06), got opcode " + reply.get(4));
            }
            System.out.println("SUPPORTED from " + c.remoteAddress() + ": " + stringMultimap(reply.position(9)));
            c.close().get(5, TimeUnit.SECONDS);                        // flushes what was accepted, then closes
        }
    }

    /**
     * Hands each reply to the request waiting on its stream id. {@link #send} may be called from any thread;
     * the transport calls {@link #onFrame} and {@link #onClosed} on the connection's loop thread.
     */
    static final class Replies implements FrameHandler {
        private final Map<Integer, CompletableFuture<byte[]>> pending = new ConcurrentHashMap<>();

        CompletableFuture<byte[]> send(Connection c, int stream, ByteBuffer request) {
            CompletableFuture<byte[]> reply = new CompletableFuture<>();
            pending.put(stream, reply);
            c.write(request, failure -> {                              // request is the transport's until here
                if (failure != null) {
                    pending.remove(stream, reply);
                    reply.completeExceptionally(failure);
                }
            });
            return reply;
        }

        @Override
        public void onFrame(Connection c, ByteBuffer frame) {         // one whole frame, header included
            int stream = frame.getShort(frame.position() + 2);         // header bytes 2-3 (v3 and later)
            CompletableFuture<byte[]> reply = pending.remove(stream);
            if (reply == null) {
                return;   // nobody waits (a server EVENT on stream -1, a late reply); throwing here would close c
            }
            byte[] copy = new byte[frame.remaining()];
            frame.get(copy);                                           // frame is valid only during this call
            reply.complete(copy);
        }

        @Override
        public void onClosed(Connection c, Throwable causeOrNull) {   // exactly once; null after our own close()
            var closed = new ConnectionClosedException("connection to " + c.remoteAddress() + " closed", causeOrNull);
            pending.values().forEach(reply -> reply.completeExceptionally(closed));
            pending.clear();   // a send() racing with this fails through its write listener instead
        }
    }

    /** A CQL [string multimap]: a [short] n, then n times a [string] key and a [string list]. */
    static Map<String, List<String>> stringMultimap(ByteBuffer body) {
        Map<String, List<String>> map = new TreeMap<>();
        for (int n = body.getShort() & 0xffff; n > 0; n--) {
            String key = string(body);
            List<String> values = new ArrayList<>();
            for (int m = body.getShort() & 0xffff; m > 0; m--) {
                values.add(string(body));
            }
            map.put(key, values);
        }
        return map;
    }

    private static String string(ByteBuffer body) {                   // [short] length, then UTF-8 bytes
        byte[] bytes = new byte[body.getShort() & 0xffff];
        body.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
// end::quickstart[]
