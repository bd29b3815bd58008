package io.cqlnio.v5;

import io.cqlnio.frame.Segments;
import io.cqlnio.spi.ProtocolException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/**
 * A loopback peer for v5 tests without Cassandra, on a plain blocking socket (no cqlnio code on its side but
 * {@link Segments}' constants and checksums): it reads what the client sends, checks the stream independently (so a writer that is only self-consistent
 * cannot pass), and, when asked, echoes every byte back (so the client's own reader unwraps its own segments) or
 * flips one bit of the echo at a chosen offset (so the client's checks are seen to fail).
 *
 * <p>The check: the first {@code bareFrames} frames arrive as bare frames (sent before the switch), then only
 * segments, each with a valid CRC24 and CRC32; a self-contained payload holds whole frames and nothing else, and a
 * run of non-self-contained payloads adds up to exactly one frame. The first violation is recorded and checking
 * stops (the echo goes on). Frames are collected whole, in arrival order.
 */
final class SegmentPeer implements AutoCloseable {

    private final ServerSocket server;
    private final Thread thread;
    private final boolean echo;
    private final long corruptAt;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final ByteArrayOutputStream spanning = new ByteArrayOutputStream();
    private final List<byte[]> frames = new ArrayList<>();
    private int bareLeft;
    private int bareSeen;
    private int segments;
    private long bytesReceived;
    private String violation;
    private Throwable failure;
    private boolean ended;
    private volatile Socket accepted;

    /**
     * @param bareFrames frames expected before the first segment
     * @param echo       send every byte back
     * @param corruptAt  offset in the echoed stream whose lowest bit is flipped, or -1
     */
    SegmentPeer(int bareFrames, boolean echo, long corruptAt) throws IOException {
        this(bareFrames, echo, corruptAt, false);
    }

    /**
     * @param tinyWindow the smallest receive buffer (set on the listening socket, inherited by the accepted one):
     *                   the client's writes then usually stop in the middle of a segment rather than before it
     */
    SegmentPeer(int bareFrames, boolean echo, long corruptAt, boolean tinyWindow) throws IOException {
        this.bareLeft = bareFrames;
        this.echo = echo;
        this.corruptAt = corruptAt;
        server = new ServerSocket();
        if (tinyWindow) {
            server.setReceiveBufferSize(1);
        }
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        thread = new Thread(this::serve, "segment-peer");
        thread.setDaemon(true);
        thread.start();
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    }

    private void serve() {
        try (Socket s = server.accept()) {
            accepted = s;
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[4096];
            long echoed = 0;
            for (int n; (n = in.read(buf)) >= 0; ) {
                check(buf, n);
                if (echo) {
                    if (corruptAt >= echoed && corruptAt < echoed + n) {
                        buf[(int) (corruptAt - echoed)] ^= 0x01;
                    }
                    out.write(buf, 0, n);
                    echoed += n;
                }
            }
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                if (!ended) {
                    failure = e;
                }
            }
        } finally {
            synchronized (this) {
                if (violation == null && pending.size() > 0) {
                    violation = "the stream ended inside a frame or segment, " + pending.size() + " bytes pending";
                }
                ended = true;
                notifyAll();
            }
        }
    }

    private synchronized void check(byte[] buf, int n) {
        bytesReceived += n;
        if (violation != null) {
            return;
        }
        pending.write(buf, 0, n);
        ByteBuffer b = ByteBuffer.wrap(pending.toByteArray());
        try {
            while (true) {
                if (bareLeft > 0) {
                    if (b.remaining() < 9 || b.remaining() < 9 + b.getInt(b.position() + 5)) {
                        break;
                    }
                    byte[] frame = new byte[9 + b.getInt(b.position() + 5)];
                    b.get(frame);
                    frames.add(frame);
                    bareLeft--;
                    bareSeen++;
                    continue;
                }
                if (b.remaining() < Segments.HEADER_LENGTH) {
                    break;
                }
                int header3b = Segments.readHeader(b, b.position());
                int length = Segments.payloadLength(header3b);
                if (b.remaining() < Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH) {
                    break;
                }
                ByteBuffer payload = b.slice(b.position() + Segments.HEADER_LENGTH, length);
                CRC32 crc = Segments.newCrc32();
                crc.update(payload.duplicate());
                int trailer = Segments.readTrailer(b, b.position() + Segments.HEADER_LENGTH + length);
                if (trailer != (int) crc.getValue()) {
                    throw new ProtocolException("segment " + segments + ": CRC32 read " + trailer + ", computed "
                            + (int) crc.getValue());
                }
                b.position(b.position() + Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH);
                segments++;
                if (Segments.isSelfContained(header3b)) {
                    if (spanning.size() > 0) {
                        throw new ProtocolException("segment " + segments + " is self-contained but a frame of "
                                + "earlier non-self-contained segments is unfinished");
                    }
                    while (payload.hasRemaining()) {
                        if (payload.remaining() < 9 || payload.remaining() < 9 + payload.getInt(payload.position() + 5)) {
                            throw new ProtocolException("self-contained segment " + segments + " ends inside a frame");
                        }
                        byte[] frame = new byte[9 + payload.getInt(payload.position() + 5)];
                        payload.get(frame);
                        frames.add(frame);
                    }
                } else {
                    spanning.write(payload.array(), payload.arrayOffset() + payload.position(), length);
                    byte[] so = spanning.toByteArray();
                    if (so.length >= 9) {
                        int total = 9 + ByteBuffer.wrap(so).getInt(5);
                        if (so.length > total) {
                            throw new ProtocolException("non-self-contained segments carry more than one frame");
                        }
                        if (so.length == total) {
                            frames.add(so);
                            spanning.reset();
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            violation = e.getMessage();
        }
        byte[] rest = Arrays.copyOfRange(b.array(), b.position(), b.limit());
        pending.reset();
        pending.write(rest, 0, rest.length);
        notifyAll();
    }

    /** Waits until {@code frames} whole frames were seen, a violation was found, or the deadline passed. */
    synchronized boolean awaitFrames(int count, long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (frames.size() < count && violation == null && !ended) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return frames.size() >= count;
    }

    /** Waits until the client closed its side (or the deadline passed); {@code true} if it did. */
    synchronized boolean awaitEnd(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (!ended) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    synchronized List<byte[]> frames() {
        return List.copyOf(frames);
    }

    synchronized int bareFramesSeen() {
        return bareSeen;
    }

    synchronized int segments() {
        return segments;
    }

    synchronized long bytesReceived() {
        return bytesReceived;
    }

    /** The first thing wrong with the stream, or {@code null}. */
    synchronized String violation() {
        return violation;
    }

    /** An I/O failure of the peer itself, or {@code null}. */
    synchronized Throwable failure() {
        return failure;
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            ended = true;
            notifyAll();
        }
        server.close();
        Socket s = accepted;
        if (s != null) {
            s.close();
        }
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
