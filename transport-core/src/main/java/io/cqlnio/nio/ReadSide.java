package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;

/**
 * A connection's inbound side on its loop: readiness to frames for the handler, and reading paused or resumed
 * from any thread without losing or reordering a frame (held frames go first on resume). Loop thread only,
 * except {@link #pause()} and {@link #resume()}.
 */
final class ReadSide implements FrameReader.Sink {

    private static final Logger LOG = LoggerFactory.getLogger(ReadSide.class);

    private final ConnectionControl control;
    private final Connection connection;
    private final FrameHandler handler;
    private final Loop loop;
    private final Wire wire;
    /** Null on a plaintext connection. */
    private final TlsSteps tls;
    /** Null unless a read idle timeout is configured. */
    private final IdleTimers idle;
    final FrameReader reader;
    private volatile boolean paused;
    private boolean interestPaused;
    private Runnable applyPause;
    private Runnable readAgain;

    ReadSide(ConnectionControl control, Connection connection, FrameHandler handler, Loop loop, Wire wire,
             TlsSteps tls, IdleTimers idle, FrameReader reader) {
        this.control = control;
        this.connection = connection;
        this.handler = handler;
        this.loop = loop;
        this.wire = wire;
        this.tls = tls;
        this.idle = idle;
        this.reader = reader;
    }

    /** Loop. Whether OP_READ is off because of a pause (a seam for tests). */
    boolean interestPaused() {
        return interestPaused;
    }

    /** Any thread. */
    void pause() {
        if (!paused) {
            paused = true;
            loop.execute(applyPause());
        }
    }

    /** Any thread. */
    void resume() {
        if (paused) {
            paused = false;
            loop.execute(applyPause());
        }
    }

    private Runnable applyPause() {
        if (applyPause == null) {
            applyPause = this::applyPauseNow; // benign race: any copy does the same
        }
        return applyPause;
    }

    /** Loop. The connection opened: its interest becomes reading, unless a pause came first. */
    void start() {
        control.setInterest(paused ? 0 : SelectionKey.OP_READ);
        interestPaused = paused;
    }

    /** Loop. OP_READ fired, or TLS holds input that no readiness event will announce. */
    void onReadable() {
        if (control.isTornDown() || interestPaused) {
            return; // a readiness event raced the pause; the bytes stay in the kernel
        }
        int n;
        long framesBefore = reader.framesRead;
        try {
            n = reader.read(wire, this);
        } catch (ProtocolException e) {
            LOG.warn("closing {}: {}", connection, e.getMessage());
            control.closeNow(e, new ConnectionClosedException(connection + " closed: " + e.getMessage(), e));
            return;
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("read failed on " + connection + ": "
                    + e.getMessage(), e);
            control.closeNow(why, why);
            return;
        }
        if (idle != null && reader.framesRead != framesBefore) {
            idle.framesRead();
        }
        if (paused && !interestPaused && !control.isTornDown()) {
            applyPauseNow(); // paused from inside onFrame: stop now, not a loop turn later
        }
        if (tls != null && n >= 0 && !control.isTornDown()) {
            readAgainIfTlsHoldsInput();
            if (wire.hasBacklog()) {
                control.flushIfUnclaimed(); // a TLS 1.3 key update reply waits behind no frame
            }
        }
        if (n < 0 && !control.isTornDown()) {
            int carried = reader.carriedBytes();
            ConnectionState now = control.state();
            if (now == ConnectionState.CLOSED) {
                return; // aborted: the abort's task closes, with the abort's cause
            }
            if (carried == 0 && now == ConnectionState.DRAINING) {
                control.finishDrain(); // the end of a close(): the peer ended its side after ours
                return;
            }
            ConnectionClosedException why = new ConnectionClosedException(connection + " closed by the peer"
                    + (carried > 0 ? " in the middle of a frame (" + carried + " bytes of it received)" : ""));
            control.closeNow(why, why);
        }
    }

    @Override
    public boolean onFrame(ByteBuffer frame) {
        if (control.isTornDown() || control.state() == ConnectionState.CLOSED) {
            return false;
        }
        try {
            handler.onFrame(connection, frame);
        } catch (Throwable t) {
            control.closeOnError(t);
            return false;
        }
        return !control.isTornDown() && control.state() != ConnectionState.CLOSED && !paused;
    }

    /** Loop. Makes OP_READ follow {@code paused}; on resume, first delivers what was held. */
    private void applyPauseNow() {
        if (control.isTornDown() || control.state().isConnecting()) {
            return;
        }
        boolean pause = paused;
        if (pause == interestPaused) {
            return;
        }
        interestPaused = pause;
        if (pause) {
            control.setInterest(control.interestOps() & ~SelectionKey.OP_READ);
            return;
        }
        long framesBefore = reader.framesRead;
        boolean drained;
        try {
            drained = reader.resume(this);
        } catch (ProtocolException e) {
            control.closeNow(e, new ConnectionClosedException(connection + " closed: " + e.getMessage(), e));
            return;
        }
        if (idle != null && reader.framesRead != framesBefore) {
            idle.framesRead();
        }
        if (control.isTornDown()) {
            return;
        }
        if (!drained || paused) {
            interestPaused = true; // paused again while delivering what was held
            return;
        }
        control.setInterest(control.interestOps() | SelectionKey.OP_READ);
        readAgainIfTlsHoldsInput();
    }

    /**
     * Loop. No readiness event announces what TLS holds already read (whole records, plaintext, the peer's
     * close_notify): while reading is on, come back for it in a task.
     */
    void readAgainIfTlsHoldsInput() {
        if (tls != null && !control.isTornDown() && !interestPaused && tls.hasBufferedInput()) {
            if (readAgain == null) {
                readAgain = this::onReadable;
            }
            loop.execute(readAgain);
        }
    }

    /**
     * Any thread. Inbound v5 segments, LZ4-compressed unless {@code lz4} is null, from the next byte after the
     * frame being delivered (exact on the loop).
     */
    void switchToSegments(Lz4Codec lz4) {
        if (loop.inLoop()) {
            reader.switchToSegments(lz4);
        } else {
            loop.execute(() -> reader.switchToSegments(lz4));
        }
    }
}
