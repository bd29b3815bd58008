package io.cqlnio.kit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP fault proxy between a transport and its peer, scriptable per direction: fragment every segment
 * into 1-byte or random-size writes, delay each chunk, stall once for a while, throttle to N bytes/s, flip one
 * bit at a chosen byte offset, and cut the stream at a chosen byte offset (RST, FIN, half-close or a silent black
 * hole). It forwards whatever the legs carry: over TLS ({@link Wire#TLS}) that is ciphertext, so fragments, stalls
 * and cuts fall inside TLS records.
 *
 * <p>Blocking, two pump threads per proxied connection: simple enough to trust, and each write is its own TCP
 * segment (TCP_NODELAY on both legs), so the transport's reads really do see the fragments. Sleeps here are the
 * injected faults themselves, not waits for a result.
 *
 * <pre>{@code
 * FaultProxy proxy = new FaultProxy(peer.address(),
 *         Script.clean().fragment(1, 64).cutAt(100_000, Cut.RESET),   // client -> peer
 *         Script.clean().oneByte(), 42);                              // peer -> client
 * transport.connect(proxy.address(), handler);
 * }</pre>
 */
final class FaultProxy implements AutoCloseable {

    /** How a scripted cut ends the stream. */
    enum Cut {
        /** Both legs closed with SO_LINGER 0: each end gets a TCP RST. */
        RESET,
        /** Both legs closed normally: each end reads end-of-stream, mid-frame. */
        CLOSE,
        /** Only this direction ends (FIN toward its destination); the other direction goes on. */
        HALF_CLOSE,
        /**
         * The destination silently vanishes: nothing more is read or forwarded and nothing is closed, as with a host
         * that stopped answering (no ACKs): the sender's kernel buffers fill and its bytes pile up.
         */
        BLACKHOLE
    }

    /** What one direction does to the bytes it forwards. Immutable; each method returns a changed copy. */
    static final class Script {
        final int minChunk;
        final int maxChunk;
        final long delayMillis;
        final long stallAfter;
        final long stallMillis;
        final long bytesPerSecond;
        final long cutAt;
        final Cut cut;
        final long corruptAt;

        private Script(int minChunk, int maxChunk, long delayMillis, long stallAfter, long stallMillis,
                       long bytesPerSecond, long cutAt, Cut cut, long corruptAt) {
            this.minChunk = minChunk;
            this.maxChunk = maxChunk;
            this.delayMillis = delayMillis;
            this.stallAfter = stallAfter;
            this.stallMillis = stallMillis;
            this.bytesPerSecond = bytesPerSecond;
            this.cutAt = cutAt;
            this.cut = cut;
            this.corruptAt = corruptAt;
        }

        /** Forwards bytes as they come. */
        static Script clean() {
            return new Script(0, 0, 0, -1, 0, 0, -1, null, -1);
        }

        /** Every write is {@code min..max} bytes (seeded), each its own segment. */
        Script fragment(int min, int max) {
            return new Script(min, max, delayMillis, stallAfter, stallMillis, bytesPerSecond, cutAt, cut, corruptAt);
        }

        /** Every byte its own write and segment. */
        Script oneByte() {
            return fragment(1, 1);
        }

        /** Waits {@code millis} before forwarding each chunk read (latency). */
        Script delay(long millis) {
            return new Script(minChunk, maxChunk, millis, stallAfter, stallMillis,
                    bytesPerSecond, cutAt, cut, corruptAt);
        }

        /** Forwards nothing for {@code millis} once {@code afterBytes} were forwarded. */
        Script stall(long afterBytes, long millis) {
            return new Script(minChunk, maxChunk, delayMillis, afterBytes, millis,
                    bytesPerSecond, cutAt, cut, corruptAt);
        }

        /** Forwards at most {@code bytesPerSecond}, on average from the first byte. */
        Script throttle(long bytesPerSecond) {
            return new Script(minChunk, maxChunk, delayMillis, stallAfter, stallMillis,
                    bytesPerSecond, cutAt, cut, corruptAt);
        }

        /** Forwards exactly {@code offset} bytes, then cuts the stream. */
        Script cutAt(long offset, Cut how) {
            return new Script(minChunk, maxChunk, delayMillis, stallAfter, stallMillis, bytesPerSecond, offset, how,
                    corruptAt);
        }

        /**
         * Flips the lowest bit of the byte at {@code offset} (counted from the first byte forwarded): the
         * broken-variant control, proving a check downstream notices one wrong byte rather than passing silently.
         */
        Script corruptAt(long offset) {
            return new Script(minChunk, maxChunk, delayMillis, stallAfter, stallMillis, bytesPerSecond, cutAt, cut,
                    offset);
        }
    }

    private final InetSocketAddress upstream;
    private final Script toUpstream;
    private final Script toClient;
    private final long seed;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final AtomicLong forwardedUp = new AtomicLong();
    private final AtomicLong forwardedDown = new AtomicLong();
    private final AtomicLong cuts = new AtomicLong();
    private final AtomicLong corrupted = new AtomicLong();
    private volatile boolean closed;

    FaultProxy(InetSocketAddress upstream, Script toUpstream, Script toClient, long seed) throws IOException {
        this.upstream = upstream;
        this.toUpstream = toUpstream;
        this.toClient = toClient;
        this.seed = seed;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "kit-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** Bytes forwarded toward the peer, over all connections. */
    long forwardedUp() {
        return forwardedUp.get();
    }

    /** Bytes forwarded toward the client, over all connections. */
    long forwardedDown() {
        return forwardedDown.get();
    }

    /** Scripted cuts performed so far. */
    long cuts() {
        return cuts.get();
    }

    /** Scripted bit flips performed so far. */
    long corrupted() {
        return corrupted.get();
    }

    /** Unexpected proxy failures (an I/O error caused by a scripted cut or by close() is not one). */
    List<Throwable> errors() {
        return errors;
    }

    private void acceptLoop() {
        int index = 0;
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket peer = new Socket();
                peer.connect(upstream, 5000);
                for (Socket s : new Socket[]{client, peer}) {
                    s.setTcpNoDelay(true);
                    sockets.add(s);
                }
                int i = index++;
                Leg up = new Leg(client, peer, toUpstream, new SplittableRandom(seed * 31 + 2L * i), forwardedUp);
                Leg down = new Leg(peer, client, toClient, new SplittableRandom(seed * 31 + 2L * i + 1), forwardedDown);
                start(up, "kit-proxy-up-" + i);
                start(down, "kit-proxy-down-" + i);
            } catch (IOException e) {
                if (!closed) {
                    errors.add(e);
                }
                return;
            }
        }
    }

    private static void start(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** One direction of one proxied connection. */
    private final class Leg implements Runnable {
        private final Socket from;
        private final Socket to;
        private final Script script;
        private final SplittableRandom random;
        private final AtomicLong total;
        private long forwarded;
        private boolean stalled;
        private long startNanos;

        Leg(Socket from, Socket to, Script script, SplittableRandom random, AtomicLong total) {
            this.from = from;
            this.to = to;
            this.script = script;
            this.random = random;
            this.total = total;
        }

        @Override
        public void run() {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                startNanos = System.nanoTime();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    if (script.delayMillis > 0) {
                        Thread.sleep(script.delayMillis);
                    }
                    int send = n;
                    boolean cutNow = false;
                    if (script.cutAt >= 0 && forwarded + n >= script.cutAt) {
                        send = (int) (script.cutAt - forwarded);
                        cutNow = true;
                    }
                    if (script.corruptAt >= forwarded && script.corruptAt < forwarded + send) {
                        buf[(int) (script.corruptAt - forwarded)] ^= 1;
                        corrupted.incrementAndGet();
                    }
                    forward(out, buf, send);
                    if (cutNow) {
                        cut();
                        return; // a black hole reads no more: the sockets stay open until the proxy closes
                    }
                }
                // The source ended before any cut: pass its end on.
                to.shutdownOutput();
            } catch (IOException e) {
                if (!closed) {
                    // A reset (or the other leg's cut) on one side shows on the other side as a reset, as it would
                    // across a real path; on already closed sockets this does nothing.
                    closeBoth(true);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }

        private void forward(OutputStream out, byte[] buf, int n) throws IOException, InterruptedException {
            int at = 0;
            while (at < n) {
                int chunk = n - at;
                if (script.maxChunk > 0) {
                    chunk = Math.min(chunk, script.minChunk + random.nextInt(script.maxChunk - script.minChunk + 1));
                }
                if (script.stallAfter >= 0 && !stalled && forwarded + chunk > script.stallAfter) {
                    chunk = (int) Math.max(0, script.stallAfter - forwarded);
                    if (chunk == 0) {
                        stalled = true;
                        Thread.sleep(script.stallMillis);
                        startNanos += TimeUnit.MILLISECONDS.toNanos(script.stallMillis); // not counted by the throttle
                        continue;
                    }
                }
                out.write(buf, at, chunk);
                at += chunk;
                forwarded += chunk;
                total.addAndGet(chunk);
                if (script.bytesPerSecond > 0) {
                    long due = startNanos + forwarded * 1_000_000_000L / script.bytesPerSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
            }
        }

        private void cut() throws IOException {
            cuts.incrementAndGet();
            switch (script.cut) {
                case RESET:
                    closeBoth(true);
                    break;
                case CLOSE:
                    closeBoth(false);
                    break;
                case HALF_CLOSE:
                    to.shutdownOutput();
                    break;
                case BLACKHOLE:
                    break;
                default:
                    throw new AssertionError(script.cut);
            }
        }

        private void closeBoth(boolean reset) {
            for (Socket s : new Socket[]{from, to}) {
                try {
                    if (reset) {
                        s.setSoLinger(true, 0);
                    }
                    s.close();
                } catch (IOException e) {
                    // already closed
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
