package io.cqlnio.cql;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FramesTest {

    @Test
    void headerIsNineBytesBigEndianWithoutTheResponseBit() {
        ByteBuffer h = Frames.header(4, 0x1234, Frames.QUERY, 23_924);
        assertArrayEquals(new byte[] {0x04, 0, 0x12, 0x34, 0x07, 0, 0, 0x5d, 0x74}, bytes(h));
        assertEquals(0x05, Frames.header(5, 0, Frames.OPTIONS, 0).get(0), "v5 header version byte");
        assertEquals((byte) 0xff, Frames.header(4, 32767, 0, 0).get(3), "largest stream id, low byte");
    }

    @Test
    void startupCarriesTheCqlVersion() {
        Frames.Reader r = reader(Frames.startupBody());
        assertEquals(1, r.readUnsignedShort());
        assertEquals("CQL_VERSION", r.readString());
        assertEquals("3.0.0", r.readString());
        assertEquals(0, r.remaining());
    }

    @Test
    void queryV4HasAByteOfFlagsAndTypedValues() {
        byte[] body = Frames.queryBody(4, "SELECT ?", Arrays.asList(7, "é", null, 5L, true, new byte[] {9}));
        Frames.Reader r = reader(body);
        assertEquals("SELECT ?", r.readLongString());
        assertEquals(Frames.CONSISTENCY_ONE, r.readUnsignedShort());
        assertEquals(Frames.QUERY_VALUES, r.readByte());
        assertEquals(6, r.readUnsignedShort());
        assertArrayEquals(new byte[] {0, 0, 0, 7}, r.readBytes());
        assertArrayEquals("é".getBytes(StandardCharsets.UTF_8), r.readBytes());
        assertNull(r.readBytes(), "null is length -1");
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0, 5}, r.readBytes());
        assertArrayEquals(new byte[] {1}, r.readBytes());
        assertArrayEquals(new byte[] {9}, r.readBytes());
        assertEquals(0, r.remaining());
    }

    @Test
    void queryWithoutValuesHasNoFlagsAndV5WidensFlagsToAnInt() {
        Frames.Reader v4 = reader(Frames.queryBody(4, "x", List.of()));
        v4.readLongString();
        v4.readUnsignedShort();
        assertEquals(0, v4.readByte());
        assertEquals(0, v4.remaining());

        Frames.Reader v5 = reader(Frames.queryBody(5, "x", List.of(1)));
        v5.readLongString();
        v5.readUnsignedShort();
        assertEquals(Frames.QUERY_VALUES, v5.readInt());
        assertEquals(1, v5.readUnsignedShort());
    }

    @Test
    void executeSendsTheIdAndInV5TheResultMetadataId() {
        CqlResult.Prepared p = new CqlResult.Prepared(new byte[] {1, 2}, new byte[] {3}, List.of(), List.of());
        Frames.Reader v4 = reader(Frames.executeBody(4, p, List.of(1)));
        assertArrayEquals(new byte[] {1, 2}, v4.readShortBytes());
        assertEquals(Frames.CONSISTENCY_ONE, v4.readUnsignedShort());

        Frames.Reader v5 = reader(Frames.executeBody(5, p, List.of(1)));
        assertArrayEquals(new byte[] {1, 2}, v5.readShortBytes());
        assertArrayEquals(new byte[] {3}, v5.readShortBytes());
    }

    @Test
    void executeOfAStatementWithResultColumnsAsksToSkipTheMetadata() {
        CqlResult.ColumnSpec v = new CqlResult.ColumnSpec("ks", "t", "v", CqlResult.ColumnType.of(Values.VARCHAR));
        CqlResult.Prepared select = new CqlResult.Prepared(new byte[] {1}, new byte[0], List.of(), List.of(v));
        Frames.Reader r = reader(Frames.executeBody(4, select, List.of(1)));
        r.readShortBytes();
        r.readUnsignedShort();
        assertEquals(Frames.QUERY_VALUES | Frames.QUERY_SKIP_METADATA, r.readByte());

        CqlResult.Prepared insert = new CqlResult.Prepared(new byte[] {1}, new byte[0], List.of(), List.of());
        Frames.Reader i = reader(Frames.executeBody(4, insert, List.of(1)));
        i.readShortBytes();
        i.readUnsignedShort();
        assertEquals(Frames.QUERY_VALUES, i.readByte(), "no result columns, nothing to skip");
    }

    @Test
    void theStorysExecuteBodyIs23924Bytes() {
        // 16-byte statement id (as Cassandra's MD5 ids are), pkey int, the story's content.
        CqlResult.Prepared p = new CqlResult.Prepared(new byte[16], new byte[0], List.of(), List.of());
        assertEquals(23_924, Frames.executeBody(4, p, List.of(1, io.cqlnio.origin.OriginStory.CONTENT)).length);
    }

    @Test
    void readerRefusesToReadPastTheBody() {
        Frames.Reader r = reader(new byte[] {0, 5, 'a'});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::readString);
        assertTrue(e.getMessage().contains("needs 5 bytes, 1 left"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> reader(new byte[] {0, 0, 0, 5}).readBytes());
        assertThrows(IllegalArgumentException.class, () -> reader(new byte[] {1}).readInt());
    }

    @Test
    void readsAStringMultimap() {
        Frames.Writer w = new Frames.Writer(8);
        w.putShort(1);
        w.string("PROTOCOL_VERSIONS");
        w.putShort(2);
        w.string("4/v4");
        w.string("5/v5");
        assertEquals(Map.of("PROTOCOL_VERSIONS", List.of("4/v4", "5/v5")), reader(w.toArray()).readStringMultimap());
    }

    @Test
    void unsupportedValueTypesAreRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Frames.queryBody(4, "x", List.of(new Object())));
        assertTrue(e.getMessage().contains("java.lang.Object"), e.getMessage());
    }

    static Frames.Reader reader(byte[] body) {
        return new Frames.Reader(ByteBuffer.wrap(body));
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
