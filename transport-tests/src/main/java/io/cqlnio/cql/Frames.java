package io.cqlnio.cql;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CQL native protocol pieces this client needs (native_protocol_v4.spec, and v5's body changes), as
 * static encoders and a {@link Reader}. Stateless; no I/O.
 */
final class Frames {

    static final int HEADER_LENGTH = 9;

    // Opcodes (spec section 2.4).
    static final int ERROR = 0x00;
    static final int STARTUP = 0x01;
    static final int READY = 0x02;
    static final int AUTHENTICATE = 0x03;
    static final int OPTIONS = 0x05;
    static final int SUPPORTED = 0x06;
    static final int QUERY = 0x07;
    static final int RESULT = 0x08;
    static final int PREPARE = 0x09;
    static final int EXECUTE = 0x0A;
    static final int EVENT = 0x0C;
    static final int BATCH = 0x0D;

    // Header flags (section 2.2).
    static final int FLAG_TRACING = 0x02;
    static final int FLAG_CUSTOM_PAYLOAD = 0x04;
    static final int FLAG_WARNING = 0x08;

    // Query parameter flags (section 4.1.4).
    static final int QUERY_VALUES = 0x01;
    static final int QUERY_SKIP_METADATA = 0x02;

    /** The consistency every request of this client uses: a single test node has one replica. */
    static final int CONSISTENCY_ONE = 0x0001;

    private Frames() {
    }

    /** The 9-byte request header: version without the response bit, no flags. */
    static ByteBuffer header(int version, int streamId, int opcode, int bodyLength) {
        ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH);
        header.put((byte) (version & 0x7f)).put((byte) 0).putShort((short) streamId).put((byte) opcode)
                .putInt(bodyLength).flip();
        return header;
    }

    static byte[] startupBody() {
        return startupBody(null);
    }

    /** STARTUP's [string map]: CQL_VERSION, then COMPRESSION when {@code compression} is not null. */
    static byte[] startupBody(String compression) {
        Writer w = new Writer(48);
        Map<String, String> options = new java.util.LinkedHashMap<>();
        options.put("CQL_VERSION", "3.0.0");
        if (compression != null) {
            options.put("COMPRESSION", compression);
        }
        w.stringMap(options);
        return w.toArray();
    }

    static byte[] queryBody(int version, String cql, List<?> values) {
        Writer w = new Writer(cql.length() + 32);
        w.longString(cql);
        queryParameters(w, version, values, 0);
        return w.toArray();
    }

    static byte[] prepareBody(int version, String cql) {
        Writer w = new Writer(cql.length() + 8);
        w.longString(cql);
        if (version >= 5) {
            w.putInt(0);   // v5 PREPARE flags: no keyspace
        }
        return w.toArray();
    }

    static byte[] executeBody(int version, CqlResult.Prepared prepared, List<?> values) {
        Writer w = new Writer(64);
        w.shortBytes(prepared.id());
        if (version >= 5) {
            w.shortBytes(prepared.resultMetadataId());
        }
        // As the Java driver does: a statement whose result columns are known from PREPARE asks the server not to
        // repeat them in every response (the client decodes the rows with the prepared columns instead).
        queryParameters(w, version, values, prepared.resultColumns().isEmpty() ? 0 : QUERY_SKIP_METADATA);
        return w.toArray();
    }

    /** BATCH of prepared statements: type LOGGED (0), UNLOGGED (1) or COUNTER (2). */
    static byte[] batchBody(int version, int type, List<CqlResult.Prepared> statements, List<List<?>> values) {
        Writer w = new Writer(64);
        w.putByte(type);
        w.putShort(statements.size());
        for (int i = 0; i < statements.size(); i++) {
            w.putByte(1);                                  // kind: prepared id
            w.shortBytes(statements.get(i).id());
            List<?> v = values.get(i);
            w.putShort(v.size());
            for (Object value : v) {
                w.value(value);
            }
        }
        w.putShort(CONSISTENCY_ONE);
        if (version >= 5) {
            w.putInt(0);
        } else {
            w.putByte(0);
        }
        return w.toArray();
    }

    private static void queryParameters(Writer w, int version, List<?> values, int extraFlags) {
        w.putShort(CONSISTENCY_ONE);
        int flags = (values.isEmpty() ? 0 : QUERY_VALUES) | extraFlags;
        if (version >= 5) {
            w.putInt(flags);            // v5 widened the flags to an int
        } else {
            w.putByte(flags);
        }
        if (!values.isEmpty()) {
            w.putShort(values.size());
            for (Object value : values) {
                w.value(value);
            }
        }
    }

    /** A growable big-endian body writer. */
    static final class Writer {
        private byte[] bytes;
        private int length;

        Writer(int capacity) {
            bytes = new byte[Math.max(16, capacity)];
        }

        private void ensure(int more) {
            if (length + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
            }
        }

        void putByte(int b) {
            ensure(1);
            bytes[length++] = (byte) b;
        }

        void putShort(int s) {
            ensure(2);
            bytes[length++] = (byte) (s >>> 8);
            bytes[length++] = (byte) s;
        }

        void putInt(int i) {
            ensure(4);
            for (int shift = 24; shift >= 0; shift -= 8) {
                bytes[length++] = (byte) (i >>> shift);
            }
        }

        void putLong(long l) {
            putInt((int) (l >>> 32));
            putInt((int) l);
        }

        void putRaw(byte[] raw) {
            ensure(raw.length);
            System.arraycopy(raw, 0, bytes, length, raw.length);
            length += raw.length;
        }

        void string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            putShort(utf8.length);
            putRaw(utf8);
        }

        void longString(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            putInt(utf8.length);
            putRaw(utf8);
        }

        void shortBytes(byte[] b) {
            putShort(b.length);
            putRaw(b);
        }

        void stringMap(Map<String, String> map) {
            putShort(map.size());
            map.forEach((k, v) -> {
                string(k);
                string(v);
            });
        }

        /** One [bytes] value, serialized by its Java type; {@code null} is the null value (length -1). */
        void value(Object value) {
            if (value == null) {
                putInt(-1);
                return;
            }
            byte[] serialized = Values.serialize(value);
            putInt(serialized.length);
            putRaw(serialized);
        }

        byte[] toArray() {
            return Arrays.copyOf(bytes, length);
        }
    }

    /** Reads a response body; every read checks bounds (a short body throws, it never reads past the end). */
    static final class Reader {
        private final ByteBuffer buf;

        Reader(ByteBuffer buf) {
            this.buf = buf;
        }

        int remaining() {
            return buf.remaining();
        }

        private void need(int n, String what) {
            if (n < 0 || buf.remaining() < n) {
                throw new IllegalArgumentException("malformed response: " + what + " needs " + n + " bytes, "
                        + buf.remaining() + " left");
            }
        }

        int readByte() {
            need(1, "byte");
            return buf.get() & 0xff;
        }

        int readUnsignedShort() {
            need(2, "short");
            return buf.getShort() & 0xffff;
        }

        int readInt() {
            need(4, "int");
            return buf.getInt();
        }

        String readString() {
            return utf8(readUnsignedShort(), "string");
        }

        String readLongString() {
            return utf8(readInt(), "long string");
        }

        private String utf8(int n, String what) {
            need(n, what);
            byte[] b = new byte[n];
            buf.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        /** [bytes]: {@code null} for a negative length. */
        byte[] readBytes() {
            int n = readInt();
            if (n < 0) {
                return null;
            }
            need(n, "bytes");
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        byte[] readShortBytes() {
            int n = readUnsignedShort();
            need(n, "short bytes");
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        List<String> readStringList() {
            int n = readUnsignedShort();
            List<String> list = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                list.add(readString());
            }
            return list;
        }

        Map<String, List<String>> readStringMultimap() {
            int n = readUnsignedShort();
            Map<String, List<String>> map = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                map.put(readString(), readStringList());
            }
            return map;
        }

        void skip(int n, String what) {
            need(n, what);
            buf.position(buf.position() + n);
        }

        void skipBytesMap() {
            int n = readUnsignedShort();
            for (int i = 0; i < n; i++) {
                readString();
                readBytes();
            }
        }
    }
}
