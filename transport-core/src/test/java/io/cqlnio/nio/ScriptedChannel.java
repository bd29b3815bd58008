package io.cqlnio.nio;

import java.nio.ByteBuffer;
import java.util.function.LongUnaryOperator;

/**
 * The write seam: a channel that accepts exactly as many bytes per call as its script says (0 included),
 * records them, and moves buffer positions the way a socket does. {@code script} maps the call number
 * (0-based) to the most bytes that call may take.
 */
final class ScriptedChannel extends WriteOnlyChannel {

    private final LongUnaryOperator script;
    private byte[] accepted = new byte[1024];
    private int size;
    private long calls;

    ScriptedChannel(LongUnaryOperator script) {
        this.script = script;
    }

    /** Accepts at most {@code k} bytes per call. */
    static ScriptedChannel accepting(long k) {
        return new ScriptedChannel(call -> k);
    }

    byte[] bytes() {
        return java.util.Arrays.copyOf(accepted, size);
    }

    long acceptedCount() {
        return size;
    }

    long calls() {
        return calls;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        long allowance = script.applyAsLong(calls++);
        long taken = 0;
        for (int i = offset; i < offset + length && taken < allowance; i++) {
            ByteBuffer b = srcs[i];
            int n = (int) Math.min(b.remaining(), allowance - taken);
            if (size + n > accepted.length) {
                accepted = java.util.Arrays.copyOf(accepted, Math.max(size + n, accepted.length * 2));
            }
            b.get(accepted, size, n);
            size += n;
            taken += n;
        }
        return taken;
    }

}
