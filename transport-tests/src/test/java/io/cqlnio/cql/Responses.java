package io.cqlnio.cql;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;

/** Builds response frames the way a server would, for codec and client tests. */
final class Responses {

    private Responses() {
    }

    static ByteBuffer frame(int version, int flags, int streamId, int opcode, Consumer<Frames.Writer> body) {
        Frames.Writer w = new Frames.Writer(64);
        body.accept(w);
        byte[] b = w.toArray();
        ByteBuffer f = ByteBuffer.allocate(9 + b.length);
        f.put((byte) (0x80 | version)).put((byte) flags).putShort((short) streamId).put((byte) opcode)
                .putInt(b.length).put(b).flip();
        return f;
    }

    static ByteBuffer ready(int streamId) {
        return frame(4, 0, streamId, Frames.READY, w -> { });
    }

    static ByteBuffer voidResult(int streamId) {
        return frame(4, 0, streamId, Frames.RESULT, w -> w.putInt(1));
    }

    static ByteBuffer setKeyspace(int streamId, String keyspace) {
        return frame(4, 0, streamId, Frames.RESULT, w -> {
            w.putInt(3);
            w.string(keyspace);
        });
    }

    static ByteBuffer error(int streamId, int code, String message) {
        return frame(4, 0, streamId, Frames.ERROR, w -> {
            w.putInt(code);
            w.string(message);
        });
    }

    /** Rows with a global table spec: columns (name, type id) and rows of already-serialized values. */
    static void rows(Frames.Writer w, List<String> names, List<Integer> types, List<List<Object>> rows) {
        w.putInt(2);
        w.putInt(0x0001);
        w.putInt(names.size());
        w.string("ks");
        w.string("t");
        for (int i = 0; i < names.size(); i++) {
            w.string(names.get(i));
            w.putShort(types.get(i));
        }
        w.putInt(rows.size());
        for (List<Object> row : rows) {
            for (Object v : row) {
                w.value(v);
            }
        }
    }
}
