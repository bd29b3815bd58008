package io.cqlnio.nio;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * The {@link Wire} of a TLS connection: between its plaintext (frames) and its socket (ciphertext), driven by an
 * {@link SSLEngine} on the loop thread. What its {@code write} returns is the point of this class:
 *
 * <pre>
 *  write(frames) -> engine.wrap: plaintext of many frames batched into as few records as fit in netOut
 *                -> socket.write(netOut) -> the kernel may take a prefix of the ciphertext
 *  returns: the plaintext bytes whose ciphertext the kernel has taken, all of it
 * </pre>
 *
 * A frame's bytes leave its buffers when they are wrapped, but {@code write} counts them only once the last
 * byte of the records that carry them is with the kernel, record by record. Until then they are
 * {@link #unacknowledged()}: the writer keeps their frames at the head of its queue, so no listener hears
 * "written" for a frame whose ciphertext is still in our buffer, and a connection that dies there fails that
 * frame and those behind it, and no other. The ciphertext the kernel did not take stays at the head of
 * {@code netOut} and goes first on the next call (invariant 1, one layer down).
 *
 * <p>Ciphertext buffers are heap buffers, as Netty's are for the JDK engine: with direct ones the JDK's AES-GCM
 * allocates twice as much per record and throughput drops (docs/BENCHMARKS.md, "TLS").
 *
 * <p>Reads go through {@link TlsInbound}, the read half.
 *
 * <p>The handshake runs before the connection is handed out ({@link #handshake()}); delegated tasks run on an
 * {@link Executor}, never on the loop. After the handshake, TLS 1.3 post-handshake messages (session tickets,
 * key updates) are handled; a TLS 1.2 renegotiation is refused with an {@link SSLException}, which closes the
 * connection. CQL servers never renegotiate, and a renegotiation in the middle of a frame stream would need
 * delegated tasks to run with frames waiting behind them.
 *
 * <p>Loop thread only, except {@link #runDelegatedTasks}.
 */
final class TlsWire implements Wire, TlsInbound.Replies {

    /** What {@link #handshake()} waits for. */
    enum Handshake {
        DONE,
        /** More ciphertext from the peer: wait for OP_READ. */
        NEED_READ,
        /** The kernel did not take all our handshake ciphertext: wait for OP_WRITE. */
        NEED_WRITE,
        /** The engine has delegated tasks: run them with {@link #runDelegatedTasks}, then call again. */
        NEED_TASKS
    }

    /** Records of ciphertext built per socket write, and read per socket read. */
    static final int RECORDS_PER_BUFFER = 4;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final Object owner;
    private final SSLEngine engine;
    private final WritableByteChannel out;

    /** Read mode: ciphertext built and not yet taken by the kernel. */
    private ByteBuffer netOut;
    private final TlsInbound inbound;
    /** Plaintext wrapped into {@code netOut} whose ciphertext the kernel has not fully taken. */
    private long unacknowledged;
    /** Ciphertext bytes the kernel has taken since the start: where each record ends is counted on this scale. */
    private long cipherWritten;
    /**
     * The records in {@code netOut} that carry plaintext, oldest first: where each ends (on the
     * {@link #cipherWritten} scale) and how much plaintext it carries. A record's plaintext counts as written
     * as soon as its last byte is with the kernel, so a connection that dies mid-batch fails only the frames
     * whose records did not make it. Records are added only to an empty {@code netOut}, when every earlier one
     * is acknowledged, so this is a list that starts over rather than a ring: {@code recordAcked} of
     * {@code recordCount} are done.
     */
    private long[] recordEnds = new long[RECORDS_PER_BUFFER * 2];
    private int[] recordPlaintext = new int[RECORDS_PER_BUFFER * 2];
    private int recordAcked;
    private int recordCount;
    /** Plaintext acknowledged so far by the write call in progress, for when a later socket write in it fails. */
    private long ackedThisCall;
    /** A socket write failed after others in the same call succeeded; thrown by the next call. */
    private IOException writeFailure;
    private boolean handshakeDone;
    /** Known once the handshake is done: TLS 1.3 may send post-handshake messages, which are not a renegotiation. */
    private boolean tls13;
    private volatile boolean tasksRunning;

    TlsWire(Object owner, SSLEngine engine, ReadableByteChannel in, WritableByteChannel out) {
        this.owner = owner;
        this.engine = engine;
        this.out = out;
        SSLSession session = engine.getSession();
        netOut = ByteBuffer.allocate(session.getPacketBufferSize() * RECORDS_PER_BUFFER).flip();
        inbound = new TlsInbound(engine, in, this, RECORDS_PER_BUFFER);
    }

    SSLEngine engine() {
        return engine;
    }

    // ---------------------------------------------------------------- handshake

    void beginHandshake() throws SSLException {
        engine.beginHandshake();
    }

    /**
     * Advances the handshake as far as the socket and the engine allow.
     *
     * @throws SSLException the handshake failed (bad certificate, wrong host name, not a TLS peer)
     * @throws IOException  the socket failed or the peer closed it
     */
    Handshake handshake() throws IOException {
        if (tasksRunning) {
            return Handshake.NEED_TASKS;
        }
        while (true) {
            if (!flushNetOut()) {
                return Handshake.NEED_WRITE;
            }
            HandshakeStatus status = engine.getHandshakeStatus();
            switch (status) {
                case NEED_WRAP: {
                    netOut.clear();
                    SSLEngineResult r;
                    try {
                        r = engine.wrap(EMPTY, netOut);
                    } finally {
                        netOut.flip();
                    }
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                        flushNetOut(); // best effort: it may carry the alert that says why
                        throw new SSLException("TLS handshake of " + owner + " ended: the engine closed");
                    }
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                        netOut = TlsInbound.grow(netOut, engine.getSession().getPacketBufferSize(), true);
                    }
                    break;
                }
                case NEED_UNWRAP:
                case NEED_UNWRAP_AGAIN: {
                    SSLEngineResult r = inbound.unwrapToPlainIn();
                    boolean stuck = r.getStatus() == SSLEngineResult.Status.OK && r.bytesConsumed() == 0
                            && r.bytesProduced() == 0 && engine.getHandshakeStatus() == status;
                    switch (stuck ? SSLEngineResult.Status.BUFFER_UNDERFLOW : r.getStatus()) {
                        case BUFFER_OVERFLOW:
                            inbound.growPlainIn();
                            break;
                        case BUFFER_UNDERFLOW:
                            int n = inbound.readMore();
                            if (n < 0) {
                                throw new SSLHandshakeException("the peer closed the connection during the TLS"
                                        + " handshake of " + owner + " (is it a TLS server?)");
                            }
                            if (n == 0) {
                                return Handshake.NEED_READ;
                            }
                            break;
                        case CLOSED:
                            throw new SSLException("the peer ended the TLS session during the handshake of " + owner);
                        default:
                            break;
                    }
                    break;
                }
                case NEED_TASK:
                    return Handshake.NEED_TASKS;
                default: // NOT_HANDSHAKING (FINISHED is only ever reported in a result)
                    handshakeDone = true;
                    tls13 = "TLSv1.3".equals(engine.getSession().getProtocol());
                    return Handshake.DONE;
            }
        }
    }

    /**
     * Runs the engine's delegated tasks on {@code executor}, then {@code resume} (on the executor's thread;
     * it should hand back to the loop). The engine is not touched on the loop meanwhile.
     */
    void runDelegatedTasks(Executor executor, Runnable resume) {
        tasksRunning = true;
        executor.execute(() -> {
            try {
                Runnable task;
                while ((task = engine.getDelegatedTask()) != null) {
                    task.run();
                }
            } finally {
                tasksRunning = false;
                resume.run();
            }
        });
    }

    /**
     * After a failed handshake: one try at sending the alert the engine has for the peer, so the server logs
     * why (say, "certificate_unknown") instead of an end of stream. Never throws.
     */
    void sendAlertQuietly() {
        try {
            closeOutbound();
            flushNetOut();
        } catch (IOException | RuntimeException ignored) {
            // the connection is failing anyway; the cause that matters is already in hand
        }
    }

    // ---------------------------------------------------------------- writes

    /**
     * Wraps and writes as much of {@code srcs} as the kernel takes.
     *
     * @return plaintext bytes whose records are now wholly with the kernel: first those
     * {@link #unacknowledged()} before this call, then those of {@code srcs}, always a prefix of everything
     * ever offered
     */
    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        if (writeFailure != null) {
            throw writeFailure;
        }
        ackedThisCall = 0;
        try {
            writeBatches(srcs, offset, length);
            return ackedThisCall;
        } catch (IOException e) {
            // One call makes many socket writes: the records the kernel took before this one failed are
            // written, and their frames must hear so. The failure is reported by the next call.
            if (ackedThisCall == 0) {
                throw e;
            }
            writeFailure = e;
            return ackedThisCall;
        }
    }

    /** Adds to {@link #ackedThisCall} as records reach the kernel, so a failure half-way loses none of them. */
    private void writeBatches(ByteBuffer[] srcs, int offset, int length) throws IOException {
        flushAndAcknowledge();
        if (netOut.hasRemaining()) {
            return;
        }
        long left = 0;
        for (int i = offset; i < offset + length; i++) {
            left += srcs[i].remaining();
        }
        int packet = engine.getSession().getPacketBufferSize();
        while (left > 0 || wantsWrap()) {
            netOut.clear(); // empty: every record before is with the kernel
            try {
                // Many frames per record, several records per write: the plaintext of the whole batch.
                do {
                    SSLEngineResult r = engine.wrap(srcs, offset, length, netOut);
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                        throw new SSLException("TLS session of " + owner + " is closed for writing");
                    }
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                        if (netOut.position() > 0) {
                            break; // full: write what we have
                        }
                        netOut = TlsInbound.grow(netOut, packet, false);
                        continue;
                    }
                    if (r.bytesConsumed() > 0) {
                        record(cipherWritten + netOut.position(), r.bytesConsumed());
                    } else if (r.bytesProduced() == 0) {
                        // Never spin on the loop thread: an engine that takes nothing and makes nothing is broken.
                        throw new SSLException("TLS engine of " + owner + " made no progress wrapping " + left
                                + " bytes (handshake status " + r.getHandshakeStatus() + ")");
                    }
                    left -= r.bytesConsumed();
                    refuseRenegotiation(r.getHandshakeStatus());
                } while ((left > 0 || wantsWrap()) && netOut.remaining() >= packet);
            } finally {
                netOut.flip();
            }
            flushAndAcknowledge();
            if (netOut.hasRemaining()) {
                return;
            }
        }
    }

    /** Writes ciphertext still waiting (close_notify, after the last frame); {@code true} when none is left. */
    boolean flushCiphertext() throws IOException {
        return flushNetOut();
    }

    /** Plaintext taken from frames whose ciphertext is not yet all with the kernel. */
    @Override
    public long unacknowledged() {
        return unacknowledged;
    }

    /** Ciphertext is waiting for the kernel (a short write left it, or a post-handshake reply). */
    @Override
    public boolean hasBacklog() {
        return netOut.hasRemaining() || writeFailure != null;
    }

    /**
     * Queues close_notify (or, after a failed handshake, the engine's alert) behind any ciphertext still
     * waiting; {@link #flushCiphertext()} writes it. Best effort: the caller closes the socket anyway.
     */
    void closeOutbound() throws SSLException {
        engine.closeOutbound();
        wrapWithoutPlaintext();
    }

    // ---------------------------------------------------------------- reads

    /** Unwraps into {@code dst}; see {@link TlsInbound#read}. */
    @Override
    public int read(ByteBuffer dst) throws IOException {
        return inbound.read(dst);
    }

    /** See {@link TlsInbound#hasBufferedInput()}. */
    boolean hasBufferedInput() {
        return inbound.hasBufferedInput();
    }

    // ---------------------------------------------------------------- the rest

    /** The budget exists for the JDK's copy of offered heap bytes; TLS encrypts only what fits its buffer. */
    @Override
    public boolean budgetsWrites() {
        return false;
    }

    /** After the handshake: answer what TLS 1.3 asks for (a key update); refuse a TLS 1.2 renegotiation. */
    @Override
    public void afterUnwrap(HandshakeStatus status) throws IOException {
        refuseRenegotiation(status);
        if (status == HandshakeStatus.NEED_WRAP) {
            // The reply goes out behind any ciphertext already waiting, on the writer's next flush (which the
            // connection asks for): writing it here would acknowledge frames behind the writer's back.
            wrapWithoutPlaintext();
        }
    }

    /**
     * Appends what the engine has to send that carries no plaintext (close_notify, an alert, a key update
     * reply) behind the ciphertext already waiting in {@code netOut}, without writing it.
     */
    private void wrapWithoutPlaintext() throws SSLException {
        netOut.compact();
        try {
            SSLEngineResult r;
            do {
                r = engine.wrap(EMPTY, netOut);
            } while (r.bytesProduced() > 0 && r.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW
                    && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP);
        } finally {
            netOut.flip();
        }
    }

    private void refuseRenegotiation(HandshakeStatus status) throws SSLException {
        if (!handshakeDone || status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED) {
            return;
        }
        if (status == HandshakeStatus.NEED_TASK || status == HandshakeStatus.NEED_UNWRAP
                || (status == HandshakeStatus.NEED_WRAP && !tls13)) {
            throw new SSLException("TLS renegotiation refused on " + owner + " (" + engine.getSession().getProtocol()
                    + ", handshake status " + status + "): cqlnio does not renegotiate");
        }
    }

    private boolean wantsWrap() {
        return engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP;
    }

    /** Writes {@code netOut} until it is empty or the kernel takes nothing. */
    private boolean flushNetOut() throws IOException {
        while (netOut.hasRemaining()) {
            int n = out.write(netOut);
            if (n <= 0) {
                return false;
            }
            cipherWritten += n;
        }
        return true;
    }

    /**
     * Flushes, then adds the plaintext of every record now wholly with the kernel to {@link #ackedThisCall},
     * also when a socket write fails after others succeeded.
     */
    private void flushAndAcknowledge() throws IOException {
        try {
            flushNetOut();
        } finally {
            long acked = 0;
            while (recordAcked < recordCount && recordEnds[recordAcked] <= cipherWritten) {
                acked += recordPlaintext[recordAcked++];
            }
            unacknowledged -= acked;
            ackedThisCall += acked;
        }
    }

    private void record(long end, int plaintext) {
        if (recordAcked == recordCount) {
            recordAcked = 0;
            recordCount = 0;
        } else if (recordCount == recordEnds.length) {
            recordEnds = Arrays.copyOf(recordEnds, recordCount << 1);
            recordPlaintext = Arrays.copyOf(recordPlaintext, recordCount << 1);
        }
        recordEnds[recordCount] = end;
        recordPlaintext[recordCount++] = plaintext;
        unacknowledged += plaintext;
    }


}
