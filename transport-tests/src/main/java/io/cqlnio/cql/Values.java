package io.cqlnio.cql;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** Java values to and from CQL's serialized forms, for the types this client supports. */
final class Values {

    // Type option ids (spec section 4.2.5.2).
    static final int CUSTOM = 0x0000;
    static final int ASCII = 0x0001;
    static final int BIGINT = 0x0002;
    static final int BLOB = 0x0003;
    static final int BOOLEAN = 0x0004;
    static final int COUNTER = 0x0005;
    static final int DOUBLE = 0x0007;
    static final int FLOAT = 0x0008;
    static final int INT = 0x0009;
    static final int TIMESTAMP = 0x000B;
    static final int UUID_TYPE = 0x000C;
    static final int VARCHAR = 0x000D;
    static final int TIMEUUID = 0x000F;
    static final int SMALLINT = 0x0013;
    static final int TINYINT = 0x0014;
    static final int LIST = 0x0020;
    static final int MAP = 0x0021;
    static final int SET = 0x0022;
    static final int UDT = 0x0030;
    static final int TUPLE = 0x0031;

    private Values() {
    }

    /**
     * Serializes by Java type: Integer (int), Long (bigint), String (text), byte[] or ByteBuffer (blob),
     * Boolean, Double, Float, Short (smallint), Byte (tinyint), UUID.
     *
     * @throws IllegalArgumentException for any other type, naming it
     */
    static byte[] serialize(Object value) {
        if (value instanceof Integer i) {
            return ByteBuffer.allocate(4).putInt(i).array();
        } else if (value instanceof Long l) {
            return ByteBuffer.allocate(8).putLong(l).array();
        } else if (value instanceof String s) {
            return s.getBytes(StandardCharsets.UTF_8);
        } else if (value instanceof byte[] b) {
            return b;
        } else if (value instanceof ByteBuffer bb) {
            byte[] b = new byte[bb.remaining()];
            bb.duplicate().get(b);
            return b;
        } else if (value instanceof Boolean b) {
            return new byte[] {(byte) (b ? 1 : 0)};
        } else if (value instanceof Double d) {
            return ByteBuffer.allocate(8).putDouble(d).array();
        } else if (value instanceof Float f) {
            return ByteBuffer.allocate(4).putFloat(f).array();
        } else if (value instanceof Short s) {
            return ByteBuffer.allocate(2).putShort(s).array();
        } else if (value instanceof Byte b) {
            return new byte[] {b};
        } else if (value instanceof UUID u) {
            return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits())
                    .array();
        }
        throw new IllegalArgumentException("unsupported bound value type " + value.getClass().getName());
    }

    /**
     * Deserializes a column value of type {@code type}; {@code null} stays null. Types without a mapping here
     * (collections, decimals, dates, UDTs...) come back as their raw bytes.
     */
    static Object deserialize(CqlResult.ColumnType type, byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        switch (type.id()) {
            case INT:
                return exact(b, 4, type).getInt();
            case BIGINT:
            case COUNTER:
            case TIMESTAMP:
                return exact(b, 8, type).getLong();
            case VARCHAR:
            case ASCII:
                return new String(bytes, StandardCharsets.UTF_8);
            case BOOLEAN:
                return exact(b, 1, type).get() != 0;
            case DOUBLE:
                return exact(b, 8, type).getDouble();
            case FLOAT:
                return exact(b, 4, type).getFloat();
            case SMALLINT:
                return exact(b, 2, type).getShort();
            case TINYINT:
                return exact(b, 1, type).get();
            case UUID_TYPE:
            case TIMEUUID:
                exact(b, 16, type);
                return new UUID(b.getLong(), b.getLong());
            default:
                return bytes;   // blob and everything not mapped
        }
    }

    private static ByteBuffer exact(ByteBuffer b, int length, CqlResult.ColumnType type) {
        if (b.remaining() != length) {
            throw new IllegalArgumentException("malformed value of type 0x" + Integer.toHexString(type.id())
                    + ": " + b.remaining() + " bytes, expected " + length);
        }
        return b;
    }
}
