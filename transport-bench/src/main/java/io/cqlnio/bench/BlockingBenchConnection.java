package io.cqlnio.bench;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * The ceiling: a raw blocking {@link SocketChannel}, no event loop, no queue. The producer (JMH) thread
 * writes whatever the window allows in one gathering write; a reader thread of its own counts the frames
 * coming back. In {@code inline} mode (latency) the producer reads the echo itself, with no thread handoff.
 * Not an SPI provider: wrapping it in the SPI would add exactly the queue and handoff it is the ceiling of.
 */
final class BlockingBenchConnection implements BenchConnection {

    private static final Logger log = LoggerFactory.getLogger(BlockingBenchConnection.class);
    private static final int READ_BUFFER = 64 * 1024;

    private final SocketChannel socket;
    private final Window window;
    private final int windowSize;
    private final boolean oneWay;
    private final boolean inline;
    private final ByteBuffer[] frames;
    private final int frameLength;
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER);
    private final Thread reader;
    private volatile long received;
    private volatile long receivedBytes;
    private volatile Throwable failure;
    private volatile boolean closed;

    BlockingBenchConnection(InetSocketAddress peer, int frameSize, int windowSize, boolean oneWay, boolean inline)
            throws IOException {
        this.socket = SocketChannel.open();
        socket.setOption(StandardSocketOptions.TCP_NODELAY, true);
        socket.connect(peer);
        this.window = new Window(windowSize);
        this.windowSize = windowSize;
        this.oneWay = oneWay;
        this.inline = inline;
        this.frames = new ByteBuffer[windowSize];
        for (int i = 0; i < windowSize; i++) {
            frames[i] = Frames.newFrame(i, frameSize);
        }
        this.frameLength = frames[0].remaining();
        if (oneWay || inline) {
            reader = null;
        } else {
            reader = new Thread(this::readLoop, "blocking-reader-" + socket.socket().getLocalPort());
            reader.setDaemon(true);
            reader.start();
        }
    }

    /** One gathering write of every frame the window has room for (at least one): the raw ceiling. */
    @Override
    public void send() {
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException("reader failed", f);
        }
        int batch;
        if (oneWay) {
            batch = windowSize;
        } else {
            window.acquire("blocking");
            batch = 1;
            while (batch < windowSize && window.outstanding() < windowSize) {
                window.acquire("blocking");
                batch++;
            }
        }
        for (int i = 0; i < batch; i++) {
            frames[i].limit(frameLength).position(0);
        }
        try {
            long remaining = (long) batch * frameLength;
            while (remaining > 0) {
                remaining -= socket.write(frames, 0, batch);
            }
            if (oneWay) {
                received += batch;
                receivedBytes += (long) batch * frameLength;
            } else if (inline) {
                readInline(batch);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void readInline(int expected) throws IOException {
        int got = 0;
        while (got < expected) {
            if (socket.read(readBuffer) < 0) {
                throw new IOException("peer closed");
            }
            got += countFrames();
        }
    }

    private void readLoop() {
        try {
            while (!closed) {
                if (socket.read(readBuffer) < 0) {
                    return;
                }
                countFrames();
            }
        } catch (IOException e) {
            if (!closed) {
                failure = e;
                log.warn("blocking reader failed", e);
            }
        }
    }

    /** Counts and drops the whole frames in the read buffer, keeps a partial one; returns how many. */
    private int countFrames() {
        readBuffer.flip();
        int n = 0;
        while (readBuffer.remaining() >= Frames.HEADER_LENGTH) {
            int length = Frames.frameLength(readBuffer, readBuffer.position());
            if (readBuffer.remaining() < length) {
                break;
            }
            readBuffer.position(readBuffer.position() + length);
            received = received + 1;
            receivedBytes = receivedBytes + length;
            window.release();
            n++;
        }
        readBuffer.compact();
        return n;
    }

    @Override
    public void awaitIdle() {
        window.await(0, "blocking");
    }

    @Override
    public long frames() {
        return received;
    }

    @Override
    public long bytes() {
        return receivedBytes;
    }

    @Override
    public void close() {
        closed = true;
        try {
            socket.close();
            if (reader != null) {
                reader.join(TimeUnit.SECONDS.toMillis(5));
            }
        } catch (IOException e) {
            log.debug("close failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
